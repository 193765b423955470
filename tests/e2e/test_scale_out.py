"""Scale-out, real: payflow on PostgreSQL + Redis as several processes of one checkout,
each with its own granian workers, standing in for several hosts (README, "Scaling out").

- A tab whose websocket is on one process shows the payment confirmed when the
  provider's callback reached another process: the status bus crosses over Redis.
- Two processes behind Debian's nginx, configured by ``deploy/nginx.conf.example``
  itself: a whole journey through the proxy, served by both.

The frontend is built once for the module, for the public address ``PUBLIC``
(``reflex export`` into a web directory of its own, so the session's app keeps
``.web``), and every process serves that build (``tests/e2e/serve_built.py``). Each
test has a fresh PostgreSQL database and an emptied Redis database."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from playwright.sync_api import Browser, Page, expect

from tests import served
from tests.conftest import ROOT, fresh_postgres_database, require_postgres
from tests.e2e.conftest import PORT
from tests.e2e.test_card_and_mpesa import answer_on_phone, start_mpesa

pytestmark = pytest.mark.e2e
PUBLIC_PORT = PORT + 1  # the address customers use: nginx, or the tab's process
HOST_PORTS = (PORT + 2, PORT + 3)
PUBLIC = f"http://localhost:{PUBLIC_PORT}"
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database no other test uses; emptied
NGINX_EXAMPLE = ROOT / "deploy" / "nginx.conf.example"
VENV_BIN = str(Path(sys.executable).parent)
# Set on the page once it is shown: still there at the end, the page was never reloaded.
NO_RELOAD = "window.__scaleOutMark"
# A line of nginx's access log in the ``upstreams`` format (``nginx_in_front``).
ACCESS_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>[^ ?]+)\S* HTTP/[0-9.]+" (?P<status>\d{3}) (?P<upstream>.+)'
)


@pytest.fixture(scope="module")
def scale_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The frontend built once for ``PUBLIC``: its web directory (not built when the
    stores the tests need are missing)."""
    require_postgres()
    _require_redis()
    work = tmp_path_factory.mktemp("scale-build")
    web, log = work / "web", work / "export.log"
    env = {
        **_base_env(),
        "REFLEX_WEB_WORKDIR": str(web),
        "PAYFLOW_PUBLIC_URL": PUBLIC,
        "PAYFLOW_DATA_DIR": str(work / "data"),
    }
    with log.open("wb") as out:
        built = subprocess.run(
            [f"{VENV_BIN}/reflex", "export", "--frontend-only", "--no-zip"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=400,
        )
    assert built.returncode == 0, log.read_text()[-4000:]
    # The pages open their websocket at the public address, whichever host served them.
    assert json.loads((web / "env.json").read_text())["EVENT"] == f"ws://localhost:{PUBLIC_PORT}/_event"
    return web


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[dict[str, str]]:
    """What every host shares (README, "Scaling out"): a fresh, seeded PostgreSQL
    database, an empty Redis database, the secrets and the data directory."""
    _require_redis()
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    with fresh_postgres_database() as database_url:
        key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        env = {
            "PAYFLOW_DATABASE_URL": database_url,
            "REFLEX_REDIS_URL": REDIS_URL,
            "PAYFLOW_SESSION_SECRET": secrets.token_urlsafe(48),
            "PAYFLOW_TICKET_SIGNING_KEY_PEM": key.decode(),
            "PAYFLOW_DATA_DIR": str(tmp_path / "data"),
            "PAYFLOW_PUBLIC_URL": PUBLIC,
            # Only the callback settles a payment here, never the reconciler's status query.
            "PAYFLOW_PENDING_SYNC_FIRST_SECONDS": "3600",
        }
        store.flushdb()
        subprocess.run(
            [sys.executable, "-m", "payflow_app.seed"], cwd=ROOT, env={**_base_env(), **env}, check=True
        )
        try:
            yield env
        finally:
            store.flushdb()
            store.close()


def _require_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail("Redis is expected at 127.0.0.1:6379 in CI")
        pytest.skip("Redis is not running")


def _base_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}", "REFLEX_USE_NPM": "1"}


@contextlib.contextmanager
def payflow_host(port: int, web: Path, env: dict[str, str], log: Path, *, workers: int) -> Iterator[None]:
    """One host: the built frontend and the backend on ``port`` with ``workers``
    granian workers, until the block ends."""
    env = {**_base_env(), **env, "REFLEX_WEB_WORKDIR": str(web), "GRANIAN_WORKERS": str(workers)}
    process = served.start([sys.executable, "-m", "tests.e2e.serve_built", str(port)], env=env, log=log)
    try:
        served.wait_for(f"http://127.0.0.1:{port}/ping", 120, process, log)
        served.wait_for(f"http://127.0.0.1:{port}/", 30, process, log)
        yield
    finally:
        served.stop(process)


@contextlib.contextmanager
def nginx_in_front(upstream_ports: tuple[int, int], work: Path) -> Iterator[Path]:
    """Debian's nginx on ``PUBLIC_PORT`` with ``deploy/nginx.conf.example`` (its two
    upstreams and its listen address replaced), run in ``work``, not as the system
    service; answers its access log, which names the upstream of every request and is
    complete once the block ends (nginx stops gracefully)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is missing: `make test` installs it (apt-get install nginx)")
    site = NGINX_EXAMPLE.read_text()
    for example, ours in (
        ("server 10.0.0.11:3000;", f"server 127.0.0.1:{upstream_ports[0]};"),
        ("server 10.0.0.12:3000;", f"server 127.0.0.1:{upstream_ports[1]};"),
        ("listen 80;", f"listen 127.0.0.1:{PUBLIC_PORT};"),
    ):
        assert site.count(example) == 1, f"{NGINX_EXAMPLE} no longer has {example!r}"
        site = site.replace(example, ours)
    (work / "payflow.conf").write_text(site)
    access_log = work / "access.log"
    # As root, nginx's workers would run as nobody, who cannot enter the test's directory.
    user = "user root;" if os.geteuid() == 0 else ""
    (work / "nginx.conf").write_text(f"""daemon off;
{user}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {work}/client_body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    log_format upstreams '"$request" $status $upstream_addr';
    access_log {access_log} upstreams;
    include {work}/payflow.conf;
}}
""")
    log = work / "nginx.out"
    process = served.start(
        [nginx, "-e", f"{work}/error.log", "-p", str(work), "-c", f"{work}/nginx.conf"],
        env=_base_env(),
        log=log,
    )
    try:
        served.wait_for(f"http://127.0.0.1:{PUBLIC_PORT}/ping", 30, process, log)
        yield access_log
    finally:
        served.stop(process, first=signal.SIGQUIT)  # graceful: every request logged


@contextlib.contextmanager
def watched_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page on the public address, and the URLs of the websockets it opens; its
    browser context is closed when the block ends."""
    context = browser.new_context(base_url=PUBLIC)
    context.set_default_timeout(20_000)
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    try:
        yield page, sockets
    finally:
        context.close()


def pay_by_mpesa(page: Page, phone: str) -> None:
    """Checks out one ticket with M-PESA and enters the PIN on the simulated phone;
    the waiting page is marked, to show at the end it was never reloaded."""
    start_mpesa(page, phone)
    page.evaluate(f"{NO_RELOAD} = true")
    answer_on_phone(page, "254" + phone[-9:], pin="1234")


def expect_paid_without_reload(page: Page, sockets: list[str]) -> None:
    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text(re.compile(r"M-PESA receipt S[A-Z0-9]{9}"))).to_be_visible()
    assert page.evaluate(NO_RELOAD) is True
    assert sockets, "the page opened no websocket"
    assert all(url.startswith(f"ws://localhost:{PUBLIC_PORT}/_event") for url in sockets), sockets


def test_a_tab_on_one_process_is_updated_by_a_callback_another_process_received(
    browser: Browser, scale_build: Path, shared: dict[str, str], tmp_path: Path
) -> None:
    """The tab's process (two workers, on the public address) never takes an inbox
    event: nothing wakes its inbox worker and it polls hourly, so the other process,
    which received the callback, fulfils the order and the push crosses over Redis."""
    tab_host = {**shared, "PAYFLOW_INBOX_POLL_SECONDS": "3600"}
    other_port = HOST_PORTS[0]
    with (
        payflow_host(PUBLIC_PORT, scale_build, tab_host, tmp_path / "tab.log", workers=2),
        payflow_host(other_port, scale_build, shared, tmp_path / "other.log", workers=1),
        watched_page(browser) as (page, sockets),
    ):
        # The sandbox sends no callback to the tab's process; the test sends it elsewhere.
        withheld = page.request.post("/sandbox/payhero/controls", data={"withholdCallbacks": True})
        assert withheld.ok and withheld.json() == {"withholdCallbacks": True}
        pay_by_mpesa(page, "0712000301")
        expect(page.get_by_role("heading", name="Waiting for payment")).to_be_visible()

        found = subprocess.run(
            [sys.executable, "-m", "tests.e2e.payhero_callback", "254712000301"],
            cwd=ROOT,
            env={**_base_env(), **shared},
            check=True,
            capture_output=True,
            text=True,
        )
        callback = json.loads(found.stdout.strip().splitlines()[-1])
        request = urllib.request.Request(
            f"http://127.0.0.1:{other_port}{callback['path']}",
            data=json.dumps(callback["body"]).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
            assert json.loads(answer.read()) == {"received": True, "duplicate": False}

        expect_paid_without_reload(page, sockets)


def test_two_processes_behind_nginx_serve_a_whole_journey(
    browser: Browser, scale_build: Path, shared: dict[str, str], tmp_path: Path
) -> None:
    """Pages, the websocket, the checkout's STK push, the phone and the provider's
    callback all go through nginx (``PUBLIC``), which spreads them over both processes."""
    behind_proxy = {**shared, "REFLEX_TRUSTED_PROXY_HOPS": "1"}
    (tmp_path / "nginx").mkdir()
    with (
        payflow_host(HOST_PORTS[0], scale_build, behind_proxy, tmp_path / "one.log", workers=1),
        payflow_host(HOST_PORTS[1], scale_build, behind_proxy, tmp_path / "two.log", workers=1),
        nginx_in_front(HOST_PORTS, tmp_path / "nginx") as access_log,
    ):
        with watched_page(browser) as (page, sockets):  # closed first: nginx logs its websocket
            pay_by_mpesa(page, "0712000302")
            expect_paid_without_reload(page, sockets)

    served = [ACCESS_LINE.fullmatch(line) for line in access_log.read_text().splitlines()]
    assert served and all(served), access_log.read_text()
    upstreams = {addr for line in served if line for addr in line["upstream"].split(", ")}
    assert upstreams == {f"127.0.0.1:{port}" for port in HOST_PORTS}, upstreams
    answered = {(line["method"], line["path"], line["status"]) for line in served if line}
    assert ("GET", "/_event/", "101") in answered  # the websocket, upgraded by nginx
    assert ("POST", "/sandbox/payhero/api/v2/payments", "201") in answered  # the app's STK push
    assert ("POST", "/api/payhero/callback", "200") in answered  # the provider's callback
