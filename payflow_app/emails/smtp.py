"""Sending one message by SMTP, within a deadline.

Each step of the conversation (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, QUIT)
waits at most ``smtp_timeout_seconds``; the whole conversation is cut after
``SMTP_STEPS`` of them, whatever its steps wait for. The sender's lease on a message
(``sender.lease_seconds``) is built on that deadline.
"""

from __future__ import annotations

import contextlib
import os
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage
from typing import Any

from payflow_app.settings import get_settings

SMTP_STEPS = 6


def deadline_seconds() -> float:
    """The longest one SMTP conversation may take (:func:`send_smtp` cuts it there)."""
    return SMTP_STEPS * get_settings().smtp_timeout_seconds


class _Deadline:
    """Cuts the connections it watches at a deadline: a server that answers each step
    just inside the timeout, or trickles a reply, cannot outlast the lease."""

    def __init__(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._guard = threading.Lock()
        self._copies: list[socket.socket] = []
        self.passed = False

    def watch(self, sock: socket.socket) -> None:
        # A second descriptor of the same connection: shutting it down ends the
        # conversation even after STARTTLS has wrapped the original socket.
        copy = socket.socket(fileno=os.dup(sock.fileno()))
        with self._guard:
            self._copies.append(copy)
            if self.passed:
                _shut(copy)

    def _cut(self) -> None:
        with self._guard:
            self.passed = True
            for copy in self._copies:
                _shut(copy)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._guard:
            for copy in self._copies:
                copy.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watched(smtplib.SMTP):
    def __init__(self, deadline: _Deadline, *args: Any, **kwargs: Any) -> None:
        self.deadline = deadline  # before __init__ connects
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock: socket.socket = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        self.deadline.watch(sock)
        return sock


class _WatchedSSL(_Watched, smtplib.SMTP_SSL):
    pass


def send_smtp(message: EmailMessage) -> None:
    """Hand one message to the SMTP server (``PAYFLOW_SMTP_*``); raises whatever
    went wrong, a TimeoutError when the conversation passed its deadline."""
    settings = get_settings()
    host, port, timeout = settings.smtp_host or "", settings.smtp_port, settings.smtp_timeout_seconds
    with _Deadline(deadline_seconds()) as deadline:
        try:
            smtp = (
                _WatchedSSL(deadline, host, port, timeout=timeout, context=ssl.create_default_context())
                if settings.smtp_ssl
                else _Watched(deadline, host, port, timeout=timeout)
            )
            with smtp:
                if settings.smtp_starttls and not settings.smtp_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password or "")
                smtp.send_message(message)
        except Exception as exc:
            if deadline.passed:
                raise TimeoutError(f"the SMTP conversation was cut after {deadline_seconds():g} s") from exc
            raise
