"""The status bus: fans a change notification (``order:12``, ``user:3``) out to the
tabs watching that topic.

Services notify from any thread (:mod:`payflow_app.core.notify`); the bus hands
each notification to the event loop, where every watcher of that topic hears it
(:class:`Changes`). A watcher is a Reflex background task of one tab (see the
processing page), which re-reads the snapshot and pushes it through Reflex state — no
browser polling. Notifications that come while a watcher is busy coalesce: a burst
(fulfilment notifies after each committed step) is one re-read, made after the last.

With ``REFLEX_REDIS_URL`` set (several workers), a tab's task may live in another
worker than the one that fulfilled the order, so notifications are also published
on a Redis channel that every worker's bus listens to.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from payflow_app.core import notify
from payflow_app.settings import get_settings

log = logging.getLogger(__name__)
CHANNEL = "payflow:changed"


def channel() -> str:
    """The Redis channel of this deployment: pub/sub ignores Redis's database numbers,
    so two deployments (or test runs) on one Redis server would otherwise hear each
    other's changes. Named by the database they share (a digest, not the URL)."""
    digest = hashlib.sha256(get_settings().database_url.encode()).hexdigest()[:16]
    return f"{CHANNEL}:{digest}"


class Changes:
    """What one watcher hears of its topic: whether it changed since the watcher last
    looked. Any number of notifications since then are one change, and none is lost —
    a wait that times out or is cancelled leaves a change that came meanwhile for the
    next wait. Read the state after :meth:`wait` answers True: it then shows at least
    the newest change (notifications are sent after the change is committed)."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    def clear(self) -> None:
        """Forget what was heard so far: the caller is about to read the state."""
        self._changed.clear()

    async def wait(self, timeout: float | None = None) -> bool:
        """True once the topic changed since the last wait (or :meth:`clear`); False
        when ``timeout`` seconds passed first."""
        if not self._changed.is_set():
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                return False
        self._changed.clear()
        return True


class StatusBus:
    def __init__(self) -> None:
        self._watchers: dict[str, set[Changes]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: Redis | None = None
        self._channel = CHANNEL  # this deployment's (``channel()``), from ``run``

    @contextlib.asynccontextmanager
    async def watch(self, topic: str) -> AsyncIterator[Changes]:
        changes = Changes()
        self._watchers[topic].add(changes)
        try:
            yield changes
        finally:
            self._watchers[topic].discard(changes)
            if not self._watchers[topic]:
                del self._watchers[topic]

    def watcher_count(self, topic: str) -> int:
        return len(self._watchers.get(topic, ()))

    def _deliver_local(self, topic: str) -> None:
        for changes in list(self._watchers.get(topic, ())):
            changes.notify()

    def publish(self, topic: str) -> None:
        """Thread-safe: callable from the event loop or from worker threads."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._redis is not None:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._redis_publish(topic)))
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._deliver_local(topic)
        else:
            loop.call_soon_threadsafe(self._deliver_local, topic)

    async def _redis_publish(self, topic: str) -> None:
        try:
            assert self._redis is not None
            await self._redis.publish(self._channel, topic)
        except Exception:
            log.exception("redis publish failed; delivering locally only")
            self._deliver_local(topic)

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
        self._channel = channel()
        self._redis = Redis.from_url(redis_url)
        try:
            pubsub = self._redis.pubsub()
            await pubsub.subscribe(self._channel)
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    data = message["data"]
                    self._deliver_local(data.decode() if isinstance(data, bytes) else str(data))
        finally:
            await self._redis.aclose()
            self._redis = None


bus = StatusBus()
