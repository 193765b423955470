"""Group commit of the webhook inbox: webhooks that arrive together are stored in one
transaction, each acknowledged only once stored, exactly once per (provider, event
id); one row that cannot be stored fails only its own request. On SQLite and
PostgreSQL (``any_server``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from payflow_app.core.group_commit import GroupCommit
from payflow_app.models import WebhookEvent
from payflow_app.providers.base import ProviderEvent
from payflow_app.services.payments import inbox as inbox_service
from tests.integration.conftest import wait_until
from tests.integration.helpers import inbox, signed_event


class HeldWriter:
    """The inbox's writer, held at its first batch until :meth:`release`, so the
    requests sent meanwhile all queue up for the next one. ``batches``: their sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self._released = threading.Event()
        self.writer = GroupCommit(
            "held-inbox-writer", write_batch=self._write_batch, write_one=inbox_service._store_one
        )

    def _write_batch(self, items: Sequence[inbox_service.Incoming]) -> list[inbox_service.Stored]:
        self.batches.append(len(items))
        if len(self.batches) == 1:
            self._released.wait(timeout=30)
        return inbox_service._store_batch(items)

    def release(self) -> None:
        self._released.set()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldWriter:
    held = HeldWriter()
    monkeypatch.setattr(inbox_service, "_writer", held.writer)
    return held


@pytest.fixture
def client(any_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=any_server, timeout=30) as http:
        yield http


def charge_event(n: int) -> tuple[bytes, dict]:
    """A signed event that names no payment: stored, then processed as nothing to settle."""
    return signed_event({"id": f"ch_group_{n}", "object": "charge"}, "charge.updated")


def send_together(
    client: httpx.Client, held: HeldWriter, requests: list[tuple[bytes, dict]]
) -> list[httpx.Response]:
    """One request held in the writer's first batch, then ``requests`` all at once,
    written as one batch once every one of them is queued."""
    with ThreadPoolExecutor(max_workers=len(requests) + 1) as pool:
        opener = pool.submit(post, client, charge_event(-1))
        wait_until(lambda: held.batches == [1], what="the first batch held")
        futures = [pool.submit(post, client, request) for request in requests]
        wait_until(lambda: held.writer.queued() == len(requests), what="every request queued")
        held.release()
        assert opener.result().status_code == 200
        return [future.result() for future in futures]


def post(client: httpx.Client, request: tuple[bytes, dict]) -> httpx.Response:
    body, headers = request
    return client.post("/api/webhooks/stripe", content=body, headers=headers)


def stored_event_ids() -> list[str | None]:
    return sorted(e.event_id for e in inbox() if e.status != "rejected")


def test_webhooks_sent_together_are_stored_in_one_batch_each_once(
    client: httpx.Client, held: HeldWriter
) -> None:
    distinct = [charge_event(n) for n in range(30)]
    twice = distinct[:10]  # sent twice in the same batch
    responses = send_together(client, held, distinct + twice)

    assert held.batches == [1, 40]
    assert [r.status_code for r in responses] == [200] * 40
    duplicates = [r.json()["duplicate"] for r in responses]
    assert duplicates.count(False) == 30 and duplicates.count(True) == 10
    stored = stored_event_ids()
    assert len(stored) == 31  # the held opener's, and each of the 30 once
    assert {_event_id(body) for body, _ in distinct} < set(stored)
    wait_until(lambda: all(e.status == "processed" for e in inbox()), what="all processed")


def test_a_row_that_cannot_be_stored_fails_only_its_own_request(
    client: httpx.Client, held: HeldWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [charge_event(n) for n in range(12)]
    bad = _event_id(requests[5][0])
    new_row = inbox_service._new_row

    def row_the_database_refuses(item: inbox_service.Incoming) -> WebhookEvent:
        row = new_row(item)
        if item.event.event_id == bad:
            row.raw_body = None  # type: ignore[assignment]  # NOT NULL: the insert fails
        return row

    monkeypatch.setattr(inbox_service, "_new_row", row_the_database_refuses)
    responses = send_together(client, held, requests)

    assert held.batches[:2] == [1, 12]  # the batch failed, then each was written alone
    assert [r.status_code for r in responses] == [503 if i == 5 else 200 for i in range(12)]
    assert responses[5].json()["error"]["code"] == "not_stored"
    stored = set(stored_event_ids())
    assert bad not in stored
    assert {_event_id(body) for body, _ in requests} - stored == {bad}

    monkeypatch.undo()  # the provider's retry of the refused event is then stored
    retried = post(client, requests[5])
    assert retried.status_code == 200 and retried.json() == {"received": True, "duplicate": False}


def test_a_batch_answers_repeats_of_its_own_and_of_earlier_events(any_db: str) -> None:
    def item(event_id: str) -> inbox_service.Incoming:
        event = ProviderEvent(event_id=event_id, event_type="x", provider_reference=None, payload={})
        return inbox_service.Incoming("stripe", event, {"x": "1"}, b"{}")

    earlier = inbox_service.record_webhook(provider="stripe", event=item("e0").event, headers={}, body=b"{}")
    results = inbox_service._store_batch([item("e1"), item("e0"), item("e1"), item("e2")])

    assert [r.duplicate for r in results] == [False, True, True, False]
    assert results[1].id == earlier.id and results[0].id == results[2].id
    assert len({results[0].id, results[1].id, results[3].id}) == 3
    assert stored_event_ids() == ["e0", "e1", "e2"]


def _event_id(body: bytes) -> str:
    return str(httpx.Response(200, content=body).json()["id"])
