"""Sessions: the server sets the cookie (HttpOnly, SameSite=Lax, Secure behind https),
sessions live server-side so logout and a password change end them at once, idle
sessions expire and activity renews them, and a login grant is one-time, bound to the
browser that logged in (login CSRF) and never an open redirect."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import update
from sqlmodel import select

from payflow_app.core.db import read_session, write_transaction
from payflow_app.models import LoginGrant, User, UserSession, pk, utcnow
from payflow_app.seed import seed
from payflow_app.services.accounts import customers, sessions
from payflow_app.services.accounts.sessions import GRANT_COOKIE, SESSION_COOKIE
from payflow_app.settings import get_settings
from tests.conftest import use_database
from tests.integration.conftest import free_port, wait_until
from tests.integration.server_app import create_app

CUSTOMER = "customer@payflow.test"
PASSWORD = "payflow-demo"
DRY_RUN = {"kind": "plan_upgrade", "plan": "pro", "dryRun": True}


def _ours() -> dict[str, str]:
    """The Origin our own pages send with a POST: the public URL's."""
    return {"Origin": get_settings().public_url}


def _user(email: str = CUSTOMER) -> User:
    with read_session() as session:
        return session.exec(select(User).where(User.email == email)).one()


def _set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


def _log_in(server: str, next_path: str = "/dashboard") -> tuple[httpx.Response, str]:
    """What the login page does once the password is right: a grant in its cookie,
    then ``/session/grant``. Answers the grant's response and the session token."""
    grant = sessions.issue_login_grant(user_id=pk(_user()), next_path=next_path)
    with httpx.Client(base_url=server, follow_redirects=False) as browser:
        browser.cookies.set(GRANT_COOKIE, grant, path="/session")
        answer = browser.get("/session/grant")
    cookie = _set_cookies(answer).get(SESSION_COOKIE)
    return answer, cookie[SESSION_COOKIE].value if cookie else ""


def _pay_dry_run(server: str, token: str) -> int:
    """A cookie-authenticated API call (the dry run of /pay): 200 signed in, 401 not."""
    with httpx.Client(base_url=server, headers={"Origin": server}) as client:
        client.cookies.set(SESSION_COOKIE, token)
        return client.post("/pay", json=DRY_RUN).status_code


def test_the_server_sets_an_httponly_lax_cookie_and_sends_the_browser_on(server: str) -> None:
    answer, token = _log_in(server, next_path="/wallet")
    assert answer.status_code == 303 and answer.headers["location"] == "/wallet"
    assert answer.headers["cache-control"] == "no-store"
    cookie = _set_cookies(answer)[SESSION_COOKIE][SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # the test server's public URL is http
    assert int(cookie["max-age"]) == get_settings().session_lifetime_hours * 3600
    # The grant cookie is cleared in the same answer.
    assert _set_cookies(answer)[GRANT_COOKIE][GRANT_COOKIE]["max-age"] == "0"
    # Only a hash is stored: the token itself is nowhere in the table.
    with read_session() as session:
        stored = session.exec(select(UserSession)).all()
    assert len(stored) == 1 and token not in stored[0].token_hash and len(stored[0].token_hash) == 64
    assert _pay_dry_run(server, token) == 200


@pytest.fixture
def https_server(sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The integration server, its public URL https (as behind a TLS proxy)."""
    port = free_port()
    use_database(sqlite_db, tmp_path, monkeypatch, public_url="https://payflow.example")
    seed()
    uv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    wait_until(lambda: uv.started, what="the https test server")
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


def test_the_cookie_is_secure_when_the_public_url_is_https(https_server: str) -> None:
    answer, token = _log_in(https_server)
    assert _set_cookies(answer)[SESSION_COOKIE][SESSION_COOKIE]["secure"] is True
    with httpx.Client(base_url=https_server, follow_redirects=False) as browser:
        browser.cookies.set(SESSION_COOKIE, token)
        out = browser.post("/session/logout", headers=_ours())
    assert out.status_code == 303, out.text
    cleared = _set_cookies(out)[SESSION_COOKIE][SESSION_COOKIE]
    assert cleared["secure"] is True and cleared["httponly"] is True and cleared["max-age"] == "0"


def test_a_stolen_token_is_useless_after_logout(server: str) -> None:
    _, token = _log_in(server)
    stolen = token
    assert _pay_dry_run(server, stolen) == 200
    with httpx.Client(base_url=server, follow_redirects=False) as browser:
        browser.cookies.set(SESSION_COOKIE, token)
        out = browser.post("/session/logout", headers=_ours())
    assert out.status_code == 303 and out.headers["location"] == "/"
    cleared = _set_cookies(out)[SESSION_COOKIE][SESSION_COOKIE]
    assert cleared.value == "" or cleared["max-age"] == "0"
    assert cleared["max-age"] == "0" and cleared["httponly"] is True and cleared["path"] == "/"
    assert cleared["samesite"].lower() == "lax"
    # The copy kept by a thief no longer signs anyone in, at once.
    assert _pay_dry_run(server, stolen) == 401
    assert customers.session_user(stolen) is None


def test_another_site_cannot_log_the_customer_out(server: str) -> None:
    _, token = _log_in(server)
    with httpx.Client(base_url=server, follow_redirects=False) as browser:
        browser.cookies.set(SESSION_COOKIE, token)
        refused = browser.post("/session/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_site_request"
    assert SESSION_COOKIE not in _set_cookies(refused)
    assert _pay_dry_run(server, token) == 200


def test_a_password_change_ends_every_other_session_but_keeps_this_tab(server: str) -> None:
    _, this_tab = _log_in(server)
    _, stolen = _log_in(server)
    assert _pay_dry_run(server, stolen) == 200
    customers.change_password(
        user_id=pk(_user()),
        current_password=PASSWORD,
        new_password="a-brand-new-password",
        confirm="a-brand-new-password",
        keep_session=this_tab,
    )
    assert _pay_dry_run(server, stolen) == 401
    assert _pay_dry_run(server, this_tab) == 200


def test_a_grant_is_one_time_and_needs_its_cookie(server: str) -> None:
    grant = sessions.issue_login_grant(user_id=pk(_user()), next_path="/dashboard")
    with httpx.Client(base_url=server, follow_redirects=False) as victim:
        # Login CSRF: an attacker who logged into his own account has the grant, but
        # can only send the victim a link; without the grant's cookie it is nothing.
        lured = victim.get("/session/grant", params={"grant": grant})
        assert lured.status_code == 303 and lured.headers["location"] == "/login"
        assert SESSION_COOKIE not in _set_cookies(lured)
    with httpx.Client(base_url=server, follow_redirects=False) as browser:
        browser.cookies.set(GRANT_COOKIE, grant, path="/session")
        first = browser.get("/session/grant")
        browser.cookies.set(GRANT_COOKIE, grant, path="/session")
        again = browser.get("/session/grant")
    assert SESSION_COOKIE in _set_cookies(first)
    assert again.headers["location"] == "/login" and SESSION_COOKIE not in _set_cookies(again)


def test_an_expired_grant_signs_nobody_in(seeded: str) -> None:
    grant = sessions.issue_login_grant(user_id=pk(_user()), next_path="/dashboard")
    with write_transaction() as session:
        session.execute(update(LoginGrant).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert sessions.redeem_login_grant(grant) is None


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example/x",
        "/\\evil.example",
        "https://evil.example/",
        "/\tevil",
        "javascript:alert(1)",
        "wallet",
    ],
)
def test_next_never_leaves_the_site(seeded: str, next_path: str) -> None:
    grant = sessions.issue_login_grant(user_id=pk(_user()), next_path=next_path)
    redeemed = sessions.redeem_login_grant(grant)
    assert redeemed is not None and redeemed[1] == "/dashboard"
    assert sessions.safe_next_path("/payment/ord_x?y=1") == "/payment/ord_x?y=1"


def test_one_grant_redeemed_at_once_starts_one_session(any_db: str) -> None:
    seed()
    grant = sessions.issue_login_grant(user_id=pk(_user()), next_path="/dashboard")
    start = threading.Barrier(10)

    def redeem(_: int) -> tuple[str, str] | None:
        start.wait()
        return sessions.redeem_login_grant(grant)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(redeem, range(10)))
    assert sum(r is not None for r in results) == 1
    with read_session() as session:
        assert len(session.exec(select(UserSession)).all()) == 1


def test_idle_sessions_expire_and_activity_renews_them(seeded: str) -> None:
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    start = utcnow()
    with write_transaction() as session:
        token = sessions.start_session(session, user_id=pk(_user()), now=start)

    def last_seen() -> object:
        with read_session() as session:
            return session.exec(select(UserSession.last_seen_at)).one()

    # Within a minute of the last write, activity does not write again.
    assert sessions.session_user(token, now=start + timedelta(seconds=30)) is not None
    assert last_seen() == start
    # Used just before the idle limit: valid, and renewed from then on.
    almost = start + idle - timedelta(minutes=1)
    assert sessions.session_user(token, now=almost) is not None
    assert last_seen() == almost
    assert sessions.session_user(token, now=start + idle + timedelta(minutes=5)) is not None
    # Left alone longer than the idle limit: over.
    later = start + idle + timedelta(minutes=5)
    assert sessions.session_user(token, now=later + idle + timedelta(seconds=1)) is None


def test_an_active_session_still_ends_at_its_absolute_limit(seeded: str) -> None:
    start = utcnow()
    with write_transaction() as session:
        token = sessions.start_session(session, user_id=pk(_user()), now=start)
    end = start + timedelta(hours=get_settings().session_lifetime_hours)
    # Active all along (each use within the idle limit of the previous one) ...
    step = timedelta(minutes=get_settings().session_idle_minutes - 1)
    moment = start
    while moment + step < end:
        moment += step
        assert sessions.session_user(token, now=moment) is not None
    # ... and over at the absolute limit all the same.
    assert sessions.session_user(token, now=end) is None


def test_ended_sessions_and_grants_are_forgotten_at_the_next_login(seeded: str) -> None:
    user_id = pk(_user())
    with write_transaction() as session:
        sessions.start_session(session, user_id=user_id, now=utcnow() - timedelta(days=9))
        live = sessions.start_session(session, user_id=user_id)
    first = sessions.issue_login_grant(user_id=user_id, next_path="/")
    with write_transaction() as session:
        session.execute(update(LoginGrant).values(expires_at=utcnow() - timedelta(days=2)))
    sessions.issue_login_grant(user_id=user_id, next_path="/")
    with read_session() as session:
        assert len(session.exec(select(UserSession)).all()) == 1
        grants = session.exec(select(LoginGrant)).all()
    assert len(grants) == 1 and sessions.redeem_login_grant(first) is None
    assert sessions.session_user(live) is not None
