"""Waiting for jobs without holding a thread or a database connection: one subscription per
API process to the workers' notices (shared/jobs/notify.py) wakes the requests that wait for those
jobs or batches; each then reads the database, the truth. A waiter also looks by itself every
`_LOOK_EVERY_S`, so a notice lost while Redis was away costs seconds, not the whole wait."""

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Query

from shared.jobs.notify import CHANNEL
from shared.redis import async_client

logger = logging.getLogger(__name__)

T = TypeVar("T")
_LOOK_EVERY_S = 2.0
MAX_WAIT_S = 60.0  # the longest long-poll: below the timeouts of common proxies and clients
LongPoll = Annotated[
    float, Query(ge=0, le=MAX_WAIT_S, description="Seconds to wait for the next change (a long-poll); 0: answer now.")
]


class Finished:
    def __init__(self, redis_url: str, on_notice: Callable[[], None] | None = None) -> None:
        """`on_notice` is called (on the event loop, so it must not block) at every notice."""
        self.redis_url = redis_url
        self.on_notice = on_notice
        self._waiting: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="voxq-finished")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener  # let it close its connection before the loop ends

    async def _listen(self) -> None:
        while True:
            try:
                async with async_client(self.redis_url) as redis, redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._wake(json.loads(message["data"]))
                            if self.on_notice is not None:
                                self.on_notice()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: waiters still look by themselves meanwhile
                logger.warning("finished-job notices: %s; listening again in 1s", exc)
                await asyncio.sleep(1)

    def _wake(self, notice: dict[str, list[str]]) -> None:
        for key in [*notice.get("jobs", []), *notice.get("batches", [])]:
            for event in self._waiting.get(key, ()):
                event.set()

    async def wait(self, key: str, timeout_s: float, look: Callable[[], Awaitable[T]]) -> T | None:
        """`look()`'s first answer that is not None, looking again whenever a notice names
        `key` (a job or batch id) and every few seconds; None after `timeout_s`."""
        event = asyncio.Event()
        self._waiting[key].add(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while True:
                event.clear()  # before looking, so a notice that comes meanwhile is not lost
                if (found := await look()) is not None:
                    return found
                left = deadline - loop.time()
                if left <= 0:
                    return None
                with contextlib.suppress(TimeoutError):  # no notice: look again anyway
                    await asyncio.wait_for(event.wait(), min(left, _LOOK_EVERY_S))
        finally:
            self._waiting[key].discard(event)
            if not self._waiting[key]:
                del self._waiting[key]
