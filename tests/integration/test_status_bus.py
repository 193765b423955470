"""The status bus delivers "order changed" to watchers: from worker threads, and
across workers through Redis when it is configured."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator

import pytest

from payflow_app.core import notify
from payflow_app.live.bus import StatusBus
from payflow_app.settings import reload_settings


@contextlib.asynccontextmanager
async def running(bus: StatusBus) -> AsyncIterator[StatusBus]:
    task = asyncio.create_task(bus.run())
    await asyncio.sleep(0.1)  # attached to the loop (and subscribed to Redis)
    try:
        yield bus
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_notification_from_a_worker_thread_reaches_the_watcher() -> None:
    async with running(StatusBus()) as bus, bus.watch("order:42") as changes, bus.watch("user:5") as account:
        thread = threading.Thread(target=notify.order_changed, args=(42,), kwargs={"user_id": 5})
        thread.start()
        assert await changes.wait(timeout=2)
        assert await account.wait(timeout=2)
        thread.join()
        notify.order_changed(7)  # another order: this watcher hears nothing
        assert not await changes.wait(timeout=0.2)
    assert bus.watcher_count("order:42") == 0


async def _use_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    url = os.environ.get("PAYFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    from redis.asyncio import Redis

    try:
        probe = Redis.from_url(url)
        await probe.ping()
        await probe.aclose()
    except Exception:
        if os.environ.get("CI"):
            pytest.fail("Redis is expected at 127.0.0.1:6379 in CI")
        pytest.skip("Redis is not running")
    monkeypatch.setenv("PAYFLOW_REDIS_URL", url)
    reload_settings()


async def test_with_redis_a_change_in_one_worker_reaches_a_tab_watching_in_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _use_redis(monkeypatch)
    worker_a, worker_b = StatusBus(), StatusBus()
    async with running(worker_a), running(worker_b), worker_b.watch("order:99") as changes:
        worker_a.publish("order:99")  # fulfilment ran in worker A; the tab's task lives in B
        assert await changes.wait(timeout=3)
    reload_settings()


async def test_two_deployments_on_one_redis_do_not_hear_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pub/sub ignores Redis's database numbers: the channel is the deployment's own,
    named by the database it uses."""
    await _use_redis(monkeypatch)
    monkeypatch.setenv("PAYFLOW_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/shop_a")
    reload_settings()
    shop_a = StatusBus()
    async with running(shop_a):
        monkeypatch.setenv("PAYFLOW_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/shop_b")
        reload_settings()
        shop_b, shop_b_other_worker = StatusBus(), StatusBus()
        async with running(shop_b), running(shop_b_other_worker), shop_b.watch("order:7") as changes:
            shop_a.publish("order:7")  # the other shop's order 7
            assert not await changes.wait(timeout=0.5)
            shop_b_other_worker.publish("order:7")  # this shop's, from its other worker
            assert await changes.wait(timeout=3)
    reload_settings()
