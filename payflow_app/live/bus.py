"""The status bus: fans "order N changed" out to the tabs watching order N.

Services notify from any thread (:mod:`payflow_app.services.notify`); the bus hands
each notification to the event loop, where every watcher's queue receives the order
id. A watcher is a Reflex background task of one tab (see the processing page),
which re-reads the snapshot and pushes it through Reflex state — no browser polling.

With ``REFLEX_REDIS_URL`` set (several workers), a tab's task may live in another
worker than the one that fulfilled the order, so notifications are also published
on a Redis channel that every worker's bus listens to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from payflow_app.services import notify
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
CHANNEL = "payflow:order-changed"


class StatusBus:
    def __init__(self) -> None:
        self._watchers: dict[int, set[asyncio.Queue[int]]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: Redis | None = None

    @contextlib.asynccontextmanager
    async def watch(self, order_id: int) -> AsyncIterator[asyncio.Queue[int]]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        self._watchers[order_id].add(queue)
        try:
            yield queue
        finally:
            self._watchers[order_id].discard(queue)
            if not self._watchers[order_id]:
                del self._watchers[order_id]

    def watcher_count(self, order_id: int) -> int:
        return len(self._watchers.get(order_id, ()))

    def _deliver_local(self, order_id: int) -> None:
        for queue in list(self._watchers.get(order_id, ())):
            queue.put_nowait(order_id)

    def publish(self, order_id: int) -> None:
        """Thread-safe: callable from the event loop or from worker threads."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._redis is not None:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._redis_publish(order_id)))
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver_local(order_id)
        else:
            loop.call_soon_threadsafe(self._deliver_local, order_id)

    async def _redis_publish(self, order_id: int) -> None:
        try:
            assert self._redis is not None
            await self._redis.publish(CHANNEL, str(order_id))
        except Exception:
            log.exception("redis publish failed; delivering locally only")
            self._deliver_local(order_id)

    async def run(self) -> None:
        """Lifespan task: attach to the loop and the services; relay Redis if configured."""
        self._loop = asyncio.get_running_loop()
        unsubscribe = notify.subscribe(self.publish)
        redis_url = get_settings().redis_url
        try:
            if redis_url:
                try:
                    await self._relay_redis(redis_url)
                except Exception:
                    log.exception("redis relay stopped; live status now reaches this worker's tabs only")
            await asyncio.Event().wait()
        finally:
            unsubscribe()
            self._loop = None

    async def _relay_redis(self, redis_url: str) -> None:
        self._redis = Redis.from_url(redis_url)
        try:
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(CHANNEL)
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._deliver_local(int(message["data"]))
        finally:
            await self._redis.aclose()
            self._redis = None


bus = StatusBus()
