"""The webhook sender: it sends the deliveries that are due (shared/webhooks/delivery.py) apart
from the reconciler, whose pass only fires them, so that no receiver can hold up recovery.

It runs on a thread beside the reconciler of a long-running process (the API by default:
`beside_reconciler`), or as a process of its own, `voxq worker webhooks`. Any number may run:
each delivery is claimed by one sender at a time, for a lease kept in the database.

One event loop has up to VOXQ_WEBHOOK_CONCURRENCY attempts in flight, at most
VOXQ_WEBHOOK_TENANT_CONCURRENCY of one tenant, each ended by VOXQ_WEBHOOK_DEADLINE_S
(shared/webhooks/attempt.py): a tenant whose receivers stall holds its share of the slots for
at most the deadline at a time, and so delays only its own webhooks. The database work (claim,
record) runs in threads, so that a slow database stalls no attempt in flight.
"""

import asyncio
import logging
import os
import ssl
import threading
from collections import Counter

from shared.config import Settings
from shared.db import new_session
from shared.webhooks import attempt, delivery

logger = logging.getLogger(__name__)

POOL = "webhooks"  # `voxq worker webhooks`: a sender as a process of its own


class Sender(threading.Thread):
    """A sender: `start()` runs it on a daemon thread, `run()` in the calling one; `stop()` ends
    it once the attempts in flight have ended (by their deadline) and been recorded."""

    def __init__(self, settings: Settings, sessions: delivery.Sessions = new_session) -> None:
        super().__init__(name="voxq-webhooks", daemon=True)
        self.settings = settings
        self.sessions = sessions
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self.send_until_stopped())
        except Exception as exc:  # a bug: the reconciler's next pass starts a sender again
            logger.exception("webhook sender stopped: %s", exc)

    def stop(self) -> None:
        self.stopped.set()

    async def send_until_stopped(self) -> None:
        tls = attempt.tls_context()
        in_flight: set[asyncio.Task[None]] = set()
        busy: Counter[str] = Counter()  # attempts in flight, by tenant
        tenant_of: dict[asyncio.Task[None], str] = {}

        def ended(task: asyncio.Task[None]) -> None:
            in_flight.discard(task)
            tenant_id = tenant_of.pop(task)
            busy[tenant_id] -= 1
            if busy[tenant_id] <= 0:
                del busy[tenant_id]

        while not self.stopped.is_set():
            room = self.settings.webhook_concurrency - len(in_flight)
            claimed = await self._claim(room, busy) if room > 0 else []
            for due in claimed:
                busy[due.tenant_id] += 1
                task = asyncio.create_task(self._send(due, tls), name=f"webhook {due.id}")
                in_flight.add(task)
                tenant_of[task] = due.tenant_id
                task.add_done_callback(ended)
            # Until an attempt ends (a slot, or a tenant's share, is free again) or it is time to look.
            if in_flight:
                await asyncio.wait(in_flight, timeout=self.settings.webhook_poll_s, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(self.settings.webhook_poll_s)
        if in_flight:
            await asyncio.wait(in_flight)

    async def _claim(self, room: int, busy: Counter[str]) -> list[delivery.Due]:
        try:
            return await asyncio.to_thread(delivery.claim, self.sessions, self.settings, room, dict(busy))
        except Exception as exc:  # the database away: look again at the next poll
            logger.warning("webhook sender: could not claim due webhooks: %s", exc)
            return []

    async def _send(self, due: delivery.Due, tls: ssl.SSLContext) -> None:
        try:
            outcome = await attempt.post(due, self.settings, tls)
        except Exception as exc:  # a bug: recorded as the attempt's failure, so it is not tried every lease
            logger.exception("webhook %s: attempt %d failed unexpectedly: %s", due.id, due.attempt, exc)
            outcome = delivery.Outcome(None, f"{type(exc).__name__}: {exc}"[: attempt.ERROR_CHARS], 0.0)
        try:
            await asyncio.to_thread(delivery.record, self.sessions, due, outcome, self.settings)
        except Exception as exc:  # the database away: sent again once the claim's lease runs out
            logger.warning("webhook %s: attempt %d could not be recorded: %s", due.id, due.attempt, exc)
            return
        if outcome.error is None:
            logger.debug("webhook %s to %s: delivered (attempt %d)", due.id, due.url, due.attempt)


_beside_lock = threading.Lock()
_beside: dict[int, Sender] = {}  # by process id: a forked child starts its own
_passes: Counter[int] = Counter()


def beside_reconciler(settings: Settings) -> Sender | None:
    """Called by each reconciler pass: from a process's second pass on, a sender thread runs in it
    (started again if it has died), unless VOXQ_WEBHOOK_SEND_BESIDE_RECONCILER is off. A process
    that passes again and again (the API, `voxq requeue --every`) gets one; a one-shot
    `voxq requeue` does not, which would exit with webhooks claimed, to wait out their lease."""
    if not settings.webhook_send_beside_reconciler:
        return None
    pid = os.getpid()
    with _beside_lock:
        _passes[pid] += 1
        sender = _beside.get(pid)
        if _passes[pid] < 2 or (sender is not None and sender.is_alive()):
            return sender
        sender = _beside[pid] = Sender(settings)
        sender.start()
    logger.info("webhook sender started beside the reconciler")
    return sender
