"""Starting, awaiting and stopping served payflow processes (and the proxy in front of
them) for the browser tests: the session's app in ``conftest.py`` and the scale-out
tests' several processes behind nginx."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT


def start(command: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Runs ``command`` from the project root in a process group of its own (so
    :func:`stop` ends its workers too), its output in ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(url: str, seconds: float, process: subprocess.Popen[bytes], log: Path) -> None:
    """Returns once ``url`` answers 200; fails with the log's end when the process
    exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited early:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer in {seconds}s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes], first: signal.Signals = signal.SIGTERM) -> None:
    """``first`` (SIGTERM) to the process group, SIGKILL if it has not ended 15 s later."""
    os.killpg(process.pid, first)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
