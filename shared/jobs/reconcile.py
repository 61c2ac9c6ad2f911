"""The reconciler: recovery that needs no person. Every `reconcile_every_s` it

1. queues again the running jobs whose lease ran out (their worker was killed, lost its host
   or was cut off from the network for longer than `lease_s`), and sends their messages;
2. sends again the jobs whose message was sent more than `requeue_after_s` ago and that have
   still not started (Redis flushed or failed over, a message a lost worker took but never
   started, a crash between a commit and its send), found in the database alone: the
   dispatcher keeps the lists short, so a message waits far less than that;
3. fires the webhooks of batches and jobs that ended (the database alone: they become due); a
   sender sends them apart from the pass (shared/webhooks/sender.py), so no receiver delays it;
4. deletes the audio whose retention ran out, a bounded share per pass (shared/audio/retention.py).

Any number of processes may run it (the API does by default, `voxq requeue --every` too):
a lock in Redis lets exactly one act at a time.
"""

import logging
import threading
import uuid
from dataclasses import dataclass, field

from shared import metrics
from shared.audio import retention
from shared.config import Settings
from shared.db import new_session, session_scope
from shared.jobs import dispatch, lanes, queue, state
from shared.models import JobKind
from shared.redis import client, script
from shared.webhooks import delivery, sender

logger = logging.getLogger(__name__)

LOCK_KEY = "voxq:reconciler"
# Lost messages sent again per pass: a flushed Redis loses at most the lists' windows, so a
# pass seldom has more; the rest waits for the next pass.
_RESEND_AT_MOST = 5000


@dataclass
class Reconciled:
    """What one pass sent again, by job kind."""

    lease_ran_out: dict[str, int] = field(default_factory=dict)
    message_lost: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        def counts(by_kind: dict[str, int]) -> str:
            return ", ".join(f"{by_kind.get(kind.value, 0)} {kind.value}" for kind in JobKind)

        return f"lease ran out: {counts(self.lease_ran_out)}; message lost: {counts(self.message_lost)}"


def reconcile_once(settings: Settings) -> Reconciled | None:
    """One pass, if no other process holds the lock; None if one does."""
    # The process's shared client (a Sentinel master's, with retries, when the URL names
    # Sentinels): not closed after the pass, its pool serves the next.
    redis = client(settings.redis_url)
    token = uuid.uuid4().hex
    if not redis.set(LOCK_KEY, token, nx=True, px=int(max(30.0, 3 * settings.reconcile_every_s) * 1000)):
        return None
    try:
        return _pass(settings)
    finally:
        script("unlock", redis)(keys=[LOCK_KEY], args=[token])  # only if the lock is still this pass's


def _pass(settings: Settings) -> Reconciled:
    done = Reconciled()
    with session_scope() as session:
        expired = state.requeue_expired(session)
    # Committed first: were Redis down now, step 2 sends them on a later pass.
    done.lease_ran_out = _send(expired, settings)
    # A list still holding messages is being waited on, not lost from: its jobs are not sent
    # again until it has drained (a flushed Redis empties every list at once).
    redis = client(settings.redis_url)
    drained = {
        (name, lane) for name in lanes.QUEUES for lane in lanes.LANES if not redis.llen(lanes.lane_list(name, lane))
    }
    with session_scope() as session:
        lost = state.resend_lost(session, settings.requeue_after_s, _RESEND_AT_MOST, drained)
    done.message_lost = _send(lost, settings)
    if any(done.lease_ran_out.values()) or any(done.message_lost.values()):
        logger.warning("reconciler: sent again %s", done)
    recording = metrics.Recording()
    for reason, by_kind in (("lease_ran_out", done.lease_ran_out), ("message_lost", done.message_lost)):
        for kind, n in by_kind.items():
            recording.count(metrics.RECONCILER_RESENT, (kind, reason), by=n)
    recording.send()
    _sweep_webhooks(settings)
    _sweep_snippets(settings)
    return done


def _sweep_snippets(settings: Settings) -> None:
    """Step 4: delete expired snippets in short chunks, for at most half a pass's interval (what is
    left waits for the next pass). Its own failure is logged, never the pass's."""
    try:
        swept = retention.sweep(new_session, settings, budget_s=min(5.0, settings.reconcile_every_s / 2))
    except Exception as exc:  # the database or a bug: the next pass tries again
        logger.exception("reconciler: snippet sweep failed: %s", exc)
        return
    if swept.rows:
        logger.info("reconciler: retention sweep deleted %s", swept)


def _sweep_webhooks(settings: Settings) -> None:
    """Step 3: fire the webhooks of batches and jobs that ended (shared/webhooks/delivery.py), which
    only writes rows; a sender sends them, on a thread beside this loop from its second pass on
    (VOXQ_WEBHOOK_SEND_BESIDE_RECONCILER) or in `voxq worker webhooks`. Its own failure is logged,
    never the pass's: recovery above has already been done."""
    try:
        sender.beside_reconciler(settings)
        delivery.fire()
    except Exception as exc:  # the database or a bug: the next pass tries again, nothing is lost
        logger.exception("reconciler: webhook step failed: %s", exc)


def _send(found: list[state.Found], settings: Settings) -> dict[str, int]:
    """A single request's job on its task's live list; a batch's line back into the backlog, which
    the dispatcher sends within its lane's window (sent straight, lines would overfill it)."""
    single = [job for job in found if job.batch_id is None]
    by_batch: dict[str, list[str]] = {}
    for job in found:
        if job.batch_id is not None:
            by_batch.setdefault(job.batch_id, []).append(job.id)
    if by_batch:
        with session_scope() as session:
            dispatch.to_backlog(session, by_batch)
    for kind, task in lanes.TASK_FOR_KIND.items():
        if ids := [job.id for job in single if job.kind == kind]:
            queue.enqueue(task, ids, "live")
    if by_batch:
        dispatch.dispatch_all(settings)
    counts: dict[str, int] = {}
    for job in found:
        counts[job.kind.value] = counts.get(job.kind.value, 0) + 1
    return counts


class Reconciler(threading.Thread):
    """The reconciler on a daemon thread of a long-running process (the API's)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="voxq-reconciler", daemon=True)
        self.settings = settings
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.settings.reconcile_every_s):
            try:
                reconcile_once(self.settings)
            except Exception as exc:  # Redis or the database down: the next pass tries again
                logger.warning("reconciler: pass failed: %s", exc)

    def stop(self) -> None:
        self.stopped.set()
