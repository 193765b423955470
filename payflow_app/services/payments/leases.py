"""Leases for singleton jobs: the reconciler runs in one worker at a time, however
many app processes there are. A lease is a row with a holder and an expiry; a holder
that dies simply lets it run out, and another process takes it over."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from payflow_app.core.db import write_transaction
from payflow_app.models import JobLease, utcnow

HOLDER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hold_lease(name: str, *, seconds: float, holder: str = HOLDER) -> bool:
    """Take or renew the lease ``name`` for ``seconds``; False while another holds it."""
    now = utcnow()
    try:
        with write_transaction() as session:
            lease = session.exec(select(JobLease).where(JobLease.name == name).with_for_update()).first()
            if lease is None:
                session.add(JobLease(name=name, holder=holder, locked_until=now + timedelta(seconds=seconds)))
                return True
            if lease.holder != holder and lease.locked_until > now:
                return False
            lease.holder, lease.locked_until = holder, now + timedelta(seconds=seconds)
            return True
    except IntegrityError:  # another process created it at the same instant
        return False


def release_lease(name: str, *, holder: str = HOLDER) -> None:
    with write_transaction() as session:
        lease = session.exec(select(JobLease).where(JobLease.name == name).with_for_update()).first()
        if lease is not None and lease.holder == holder:
            lease.locked_until = utcnow()
