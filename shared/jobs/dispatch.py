"""The dispatcher: the database holds the backlog, Redis only what is about to run.

A batch's lines are inserted `queued` and stay in the database. A dispatch step tops one
pool's lane list up to `VOXQ_DISPATCH_WINDOW` messages (`VOXQ_DISPATCH_LIVE_WINDOW` for the
live lane, which single requests share), choosing the lines in fair order:
first between tenants, by weight, then between each tenant's batches. It runs when a
batch is submitted, when a worker finishes a job (the finished notices) and every
`VOXQ_DISPATCH_EVERY_S`; exactly one process acts on a pool at a time (a Redis lock), however
many run it. Single requests do not wait here: they go straight to their live list.

Fair order is stride scheduling, kept in the database: each tenant has a pass (the lines it
has been given, divided by its weight) per pool and each batch one among its tenant's
batches; the lowest pass goes next. A tenant that starts waiting again joins at the pool's
virtual time (the lowest pass at the last step), so an idle spell earns no burst. A step
costs what it touches: the batches with lines waiting (an index on them), their tenants, and
for each batch chosen, its next lines (an index of only the waiting lines, read in line
order), never the backlog.
"""

import heapq
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from redis.exceptions import RedisError
from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.db import in_chunks, session_scope
from shared.jobs import queue, state
from shared.jobs.lanes import QUEUE_FOR_TASK, QUEUES, TASK_FOR_KIND, Lane, lane_list
from shared.models import Batch, DispatchClock, DispatchShare, Job, JobKind, JobStatus, Tenant, utcnow
from shared.redis import broker, script

logger = logging.getLogger(__name__)

LOCK_KEY = "voxq:dispatcher:{pool}:{lane}"
_LOCK_MS = 15_000  # longer than any step; a dispatcher that dies holding it is replaced after this
KINDS: dict[str, tuple[JobKind, ...]] = {
    pool: tuple(kind for kind, task in TASK_FOR_KIND.items() if QUEUE_FOR_TASK[task] == pool) for pool in QUEUES
}
# The live lane first: a batch sent with priority=live goes before every bulk line.
LANES: tuple[Lane, ...] = ("live", "bulk")


@dataclass
class _Batch:
    id: str
    tenant_id: str
    kind: JobKind
    dispatch_pass: float
    waiting: int
    lines: list[str] = field(default_factory=list)  # its next waiting jobs, read when it is first chosen
    read: bool = False
    exhausted: bool = False  # fewer waiting than the database counted: it has no more
    taken: int = 0


@dataclass
class _Tenant:
    id: str
    weight: float
    dispatch_pass: float
    batches: list[tuple[float, str]] = field(default_factory=list)  # a heap of (pass, batch id)


@dataclass(frozen=True)
class Message:
    batch_id: str
    kind: JobKind
    job_ids: list[str]


def per_message(kind: JobKind) -> int:
    """Jobs one message of `kind` carries (as `queue.enqueue` groups them)."""
    return queue.per_message(TASK_FOR_KIND[kind]) or 1


def top_up(pool: str, lane: Lane, settings: Settings | None = None, half_empty: bool = False) -> int | None:
    """One dispatch step of `pool`'s `lane`, unless another process holds its lock: fill the
    lane's list up to the window (with `half_empty`, only once it holds half the window or less).
    Returns the jobs sent (0 if the list is full enough or another process is at it), None if
    nothing waits. Raises RedisError if the broker is unreachable (nothing is marked sent then)."""
    settings = settings or get_settings()
    redis = broker()
    listed = lane_list(pool, lane)
    # The live list is the single requests' too: live batches get a small window in it, so that
    # a tenant's live batch never stands in front of another's single line by more than that.
    window = settings.dispatch_live_window if lane == "live" else settings.dispatch_window
    # A caller woken at every finished message (the Dispatcher) lets the list run down to half
    # the window and then refills it in one step: a step (a transaction of a dozen statements)
    # per half window taken, not per message, and the list is never longer than the window.
    refill_below = window // 2 + 1 if half_empty else window
    if redis.llen(listed) >= refill_below:
        return 0  # the usual case with a backlog: one command, no lock, no query
    key, token = LOCK_KEY.format(pool=pool, lane=lane), uuid.uuid4().hex
    if not redis.set(key, token, nx=True, px=_LOCK_MS):
        return 0
    try:
        # Read again under the lock: another process may have topped it up meanwhile.
        room = window - int(redis.llen(listed))
        if room <= 0:
            return 0
        with session_scope() as session:
            messages = choose(session, pool, lane, room, settings)
            if not messages:
                return None
            mark_sent(session, messages)
        try:
            for kind in {m.kind for m in messages}:
                groups = [queue.Group(m.job_ids, m.batch_id) for m in messages if m.kind == kind]
                queue.send(TASK_FOR_KIND[kind], groups, lane)
        except RedisError:
            # Marked sent but not on the list: given back to the backlog, or else sent again by the
            # reconciler once VOXQ_REQUEUE_AFTER_S has passed.
            with session_scope() as session:
                give_back(session, messages)
            raise
        sent = sum(len(m.job_ids) for m in messages)
        logger.debug("dispatched %d jobs in %d messages to %s", sent, len(messages), listed)
        return sent
    finally:
        script("unlock", redis)(keys=[key], args=[token])


def choose(session: Session, pool: str, lane: Lane, room: int, settings: Settings) -> list[Message]:
    """Up to `room` messages of waiting lines of `pool`'s batches in `lane`, in fair order, and
    the tenants' and batches' passes moved on by what they were given (in `session`)."""
    rows = session.execute(
        select(Batch.id, Batch.tenant_id, Batch.kind, Batch.dispatch_pass, Batch.undispatched).where(
            Batch.kind.in_(KINDS[pool]), Batch.lane == lane, Batch.undispatched > 0
        )
    ).all()
    if not rows:
        return []
    batches = {row.id: _Batch(row.id, row.tenant_id, row.kind, row.dispatch_pass, row.undispatched) for row in rows}
    tenants = _tenants(session, pool, {b.tenant_id for b in batches.values()})
    for tenant_batches in _by_tenant(batches.values()).values():
        # A batch that has had no line yet joins its tenant's turns where the others are.
        started = [b.dispatch_pass for b in tenant_batches if b.dispatch_pass > 0]
        for b in tenant_batches:
            if b.dispatch_pass == 0 and started:
                b.dispatch_pass = min(started)
            heapq.heappush(tenants[b.tenant_id].batches, (b.dispatch_pass, b.id))
    turns = [(t.dispatch_pass, t.id) for t in tenants.values()]
    heapq.heapify(turns)
    messages: list[Message] = []
    while turns and len(messages) < room:
        _, tenant_id = heapq.heappop(turns)
        tenant = tenants[tenant_id]
        message = _next_message(session, tenant, batches, room - len(messages))
        if message is None:
            continue  # none of its batches has a line left
        messages.append(message)
        tenant.dispatch_pass += len(message.job_ids) / tenant.weight
        heapq.heappush(turns, (tenant.dispatch_pass, tenant.id))
    _save_passes(session, pool, lane, tenants, batches)
    return messages


def _next_message(session: Session, tenant: _Tenant, batches: dict[str, _Batch], room: int) -> Message | None:
    """The next message of the tenant's batch furthest behind, moving that batch's pass on."""
    while tenant.batches:
        _, batch_id = heapq.heappop(tenant.batches)
        batch = batches[batch_id]
        group = per_message(batch.kind)
        if not batch.read:
            batch.lines, batch.read = _waiting_lines(session, batch, room * group), True
            batch.exhausted = len(batch.lines) < room * group
        if not batch.lines:
            batch.exhausted = True
            continue
        job_ids, batch.lines = batch.lines[:group], batch.lines[group:]
        batch.taken += len(job_ids)
        batch.dispatch_pass += len(job_ids)
        heapq.heappush(tenant.batches, (batch.dispatch_pass, batch.id))
        return Message(batch.id, batch.kind, job_ids)
    return None


def _waiting_lines(session: Session, batch: _Batch, limit: int) -> list[str]:
    query = (
        select(Job.id)
        .where(
            Job.kind == batch.kind,
            Job.batch_id == batch.id,
            Job.status == JobStatus.queued,
            Job.dispatched_at.is_(None),
        )
        .order_by(Job.line)
        .limit(limit)
    )
    return list(session.scalars(query))


def _tenants(session: Session, pool: str, tenant_ids: set[str]) -> dict[str, _Tenant]:
    """The waiting tenants with their weights and passes; one that was not waiting joins at the
    pool's virtual time."""
    clock = session.get(DispatchClock, pool)
    vtime = clock.vtime if clock is not None else 0.0
    weights = dict(session.execute(select(Tenant.id, Tenant.weight).where(Tenant.id.in_(tenant_ids))).all())
    passes = dict(
        session.execute(
            select(DispatchShare.tenant_id, DispatchShare.dispatch_pass).where(
                DispatchShare.pool == pool, DispatchShare.tenant_id.in_(tenant_ids)
            )
        ).all()
    )
    return {
        tenant_id: _Tenant(tenant_id, max(weights.get(tenant_id, 1.0), 1e-6), max(passes.get(tenant_id, vtime), vtime))
        for tenant_id in tenant_ids
    }


def _by_tenant(batches: Iterable[_Batch]) -> dict[str, list[_Batch]]:
    out: dict[str, list[_Batch]] = {}
    for batch in batches:
        out.setdefault(batch.tenant_id, []).append(batch)
    return out


def _save_passes(
    session: Session, pool: str, lane: Lane, tenants: dict[str, _Tenant], batches: dict[str, _Batch]
) -> None:
    """The step's passes: every waiting tenant's and chosen batch's, and the pool's virtual time
    (the lowest pass of a tenant still waiting)."""
    for tenant in tenants.values():
        session.merge(DispatchShare(pool=pool, tenant_id=tenant.id, dispatch_pass=tenant.dispatch_pass))
    still = [tenants[b.tenant_id].dispatch_pass for b in batches.values() if not b.exhausted or b.lines]
    vtime = min(still) if still else max((t.dispatch_pass for t in tenants.values()), default=0.0)
    session.merge(DispatchClock(pool=pool, vtime=vtime))
    changed = [b for b in batches.values() if b.taken or b.exhausted]
    if changed:
        session.execute(
            update(Batch.__table__)  # type: ignore[arg-type]
            .where(Batch.__table__.c.id == bindparam("batch_id"))
            .values(undispatched=bindparam("left"), dispatch_pass=bindparam("at")),
            [
                {
                    "batch_id": b.id,
                    # Read to its end: what is left is what was read and not sent. Else at least one
                    # waits still, whatever the count says, so the batch is never dropped with lines left.
                    "left": len(b.lines) if b.exhausted else max(b.waiting - b.taken, 1),
                    "at": b.dispatch_pass,
                }
                for b in changed
            ],
        )


def mark_sent(session: Session, messages: Sequence[Message]) -> None:
    """Record the messages' jobs as sent now, in the step's transaction."""
    now = utcnow()
    ids = [job_id for message in messages for job_id in message.job_ids]
    for chunk in in_chunks(ids):
        session.execute(
            update(Job)
            .where(Job.id.in_(chunk), Job.status == JobStatus.queued, Job.dispatched_at.is_(None))
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )


def give_back(session: Session, messages: Sequence[Message]) -> None:
    """Messages that could not be sent: their jobs wait in the database again."""
    by_batch: dict[str, list[str]] = {}
    for message in messages:
        by_batch.setdefault(message.batch_id, []).extend(message.job_ids)
    to_backlog(session, by_batch)


def to_backlog(session: Session, by_batch: dict[str, list[str]]) -> None:
    """Queued batch lines, by batch, back into the database's backlog (not sent yet), for a later
    step to send within the window: a message that was lost, or a line whose worker's lease ran
    out. Sending them straight to the list would overfill it past the window."""
    for batch_id, job_ids in by_batch.items():
        returned = 0
        for chunk in in_chunks(job_ids):
            statement = (
                update(Job)
                .where(Job.id.in_(chunk), Job.status == JobStatus.queued)
                .values(dispatched_at=None)
                .execution_options(synchronize_session=False)
            )
            returned += cast(CursorResult[Any], session.execute(statement)).rowcount
        if returned:
            session.execute(
                update(Batch).where(Batch.id == batch_id).values(undispatched=Batch.undispatched + returned)
            )


def kick(pool: str, lane: Lane) -> None:
    """A step now, after a batch was stored, so its first lines need not wait for the timer. Best
    effort: with the broker away the lines wait in the database for a later step."""
    try:
        top_up(pool, lane)
    except Exception as exc:  # Redis away: stored all the same; the dispatcher's next step sends them
        logger.warning("dispatcher: %s %s: lines stored, sent when the queue is back: %s", pool, lane, exc)


PAIRS: tuple[tuple[str, Lane], ...] = tuple((pool, lane) for pool in QUEUES if KINDS[pool] for lane in LANES)


def dispatch_all(settings: Settings | None = None) -> int:
    """One step for every pool and lane; a pool whose step fails is logged, and the others go on.
    Returns the jobs sent."""
    return sum(sent for sent in step(settings or get_settings(), PAIRS).values() if sent)


def step(
    settings: Settings, pairs: Iterable[tuple[str, Lane]], half_empty: bool = False
) -> dict[tuple[str, Lane], int | None]:
    """A step of each pool and lane of `pairs` (see `top_up` for `half_empty`): the jobs each
    sent, None where nothing waits."""
    sent: dict[tuple[str, Lane], int | None] = {}
    for pool, lane in pairs:
        try:
            sent[pool, lane] = top_up(pool, lane, settings, half_empty)
        except Exception as exc:  # Redis or the database away: the next step tries again
            logger.warning("dispatcher: %s %s: %s", pool, lane, exc)
            sent[pool, lane] = 0
    return sent


def with_backlog() -> list[tuple[str, Lane]]:
    """The pools and lanes that have batch lines waiting in the database, in one query for them
    all (an index of the batches with lines waiting), where a step of each pair would take its
    lock and ask for itself; every pair if the database cannot be asked (their steps say why)."""
    try:
        with session_scope() as session:
            waiting = state.backlog(session)
    except Exception as exc:  # the database away: the steps log it and the next one tries again
        logger.debug("dispatcher: backlog not read: %s", exc)
        return list(PAIRS)
    return [pair for pair in PAIRS if waiting.get(pair, 0) > 0]


class Dispatcher(threading.Thread):
    """The dispatcher on a daemon thread of a long-running process (the API's): a step of every
    pool and lane with lines waiting every `dispatch_every_s`, and at once when `wake()` is called
    (a worker finished a job) of those that had lines waiting at their last step: a finished line
    of one pool costs the empty others nothing. Its steps refill a list once it is half empty
    (`top_up`'s `half_empty`). A batch's first lines are sent where it is accepted (`kick`), so a
    pool that had nothing waiting loses no time."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="voxq-dispatcher", daemon=True)
        self.settings = settings
        self.stopped = threading.Event()
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def run(self) -> None:
        waiting: list[tuple[str, Lane]] = list(PAIRS)
        every_s = self.settings.dispatch_every_s
        last_full = time.monotonic()
        while not self.stopped.is_set():
            self._woken.wait(every_s)
            self._woken.clear()
            if self.stopped.is_set():
                return
            full = time.monotonic() - last_full >= every_s  # every pair, however often it is woken
            pairs = with_backlog() if full else waiting
            sent = step(self.settings, pairs, half_empty=True)
            waiting = [pair for pair in pairs if sent[pair] is not None]
            if full:
                last_full = time.monotonic()

    def stop(self) -> None:
        self.stopped.set()
        self._woken.set()
