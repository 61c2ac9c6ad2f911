"""Pushed completion: after a worker commits what finished, it says so on one Redis pub/sub
channel, naming the jobs and their batches. Whatever waits (the speech route, a long-poll,
`voxq submit`'s progress) wakes and reads the database, which stays the truth; a notice
lost while Redis was away only delays a waiter until its next look of its own."""

import json
import logging
from collections.abc import Iterable

from redis.exceptions import RedisError

from shared.redis import broker

logger = logging.getLogger(__name__)

CHANNEL = "voxq:finished"


def publish_finished(job_ids: Iterable[str], batch_ids: Iterable[str | None]) -> None:
    """Tell the waiters that these jobs (of these batches) have finished; never raises."""
    notice = {"jobs": sorted(set(job_ids)), "batches": sorted({b for b in batch_ids if b})}
    if not notice["jobs"]:
        return
    try:
        broker().publish(CHANNEL, json.dumps(notice))
    except RedisError as exc:
        logger.warning("jobs %s: finished, but the notice was not sent: %s", ", ".join(notice["jobs"]), exc)
