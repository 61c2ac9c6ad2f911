"""Cancelling a batch: its lines not yet started never start, the running ones finish, and
what finished is kept.

One UPDATE marks the queued lines `cancelled` (shared/jobs/state.py `cancel_queued`) and commits;
most of them were still in the database, never sent. A worker that takes one of the few
messages already sent skips it (it starts queued jobs only), acknowledges it and moves on;
those messages are dropped from the pool's lists too, and were Redis away, the skipping is
the fallback. With no line queued or running left, the batch has ended:
its webhook fires as cancelled (shared/webhooks/delivery.py).
"""

import json
import logging

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from shared.jobs import lanes, state
from shared.models import Batch
from shared.redis import script

logger = logging.getLogger(__name__)


def cancel_batch(session: Session, batch: Batch) -> int:
    """Cancel the batch's queued lines and commit; then drop their waiting messages. Returns
    how many lines were cancelled (0 for a batch that had ended: nothing changes)."""
    cancelled = state.cancel_queued(session, batch.id)
    batch.undispatched = 0  # nothing of it waits for the dispatcher any more
    session.commit()
    if cancelled:
        drop_messages(batch)
    return cancelled


def drop_messages(batch: Batch) -> int:
    """Remove the batch's waiting messages from both lanes of its pool; never raises (a
    message left behind is skipped by the worker that takes it)."""
    pool = lanes.QUEUE_FOR_TASK[lanes.TASK_FOR_KIND[batch.kind]]
    lists = [lanes.lane_list(pool, lane) for lane in lanes.LANES]
    header = json.dumps({"voxq_batch": batch.id})[1:-1]  # as json.dumps writes it inside a message
    try:
        dropped: int = script("drop_batch")(keys=lists, args=[header])
    except RedisError as exc:
        logger.warning("batch %s: cancelled, but its messages stay queued (workers skip them): %s", batch.id, exc)
        return 0
    logger.info("batch %s: %d waiting messages dropped", batch.id, dropped)
    return dropped
