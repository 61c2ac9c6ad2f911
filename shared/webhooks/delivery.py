"""A delivery's rows, and every write that moves one between its states:

1. fire (a step of every reconciler pass, shared/jobs/reconcile.py; the database alone): a
   `waiting` delivery whose batch has no line queued or running, or whose job has ended, gets
   its event's body and becomes `pending`, due now. The database says what ended, whichever
   process ended it (a worker, a cancel, a submission answered from the cache), and the
   conditional UPDATE fires each delivery once however many passes run;
2. claim (a sender, shared/webhooks/sender.py): due deliveries are taken for the length of a
   lease (their next attempt moved past it), so that exactly one sender acts on each; one whose
   sender died is due again once the lease has run out;
3. record: each attempt is kept; a 2xx delivers, anything else is tried again with exponential
   backoff until VOXQ_WEBHOOK_RETRY_FOR_S after the end, then the delivery has failed.

The rows are the truth: a sender that dies mid-send leaves a claimed delivery that is sent again
after its lease (at least once; the event id tells duplicates).
"""

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import new_session
from shared.jobs import state as job_state
from shared.models import (
    FINISHED,
    Batch,
    DeliveryState,
    Job,
    JobStatus,
    Tenant,
    WebhookAttempt,
    WebhookDelivery,
    utcnow,
)
from shared.webhooks import callbacks

logger = logging.getLogger(__name__)

_FIRE_AT_ONCE = 500  # deliveries fired per pass; the rest on the next one
# A claim outlasts its attempt (VOXQ_WEBHOOK_DEADLINE_S) by this, for recording it: only a
# sender that died or lost the database leaves a delivery to be taken again.
LEASE_MARGIN_S = 60.0

Sessions = Callable[[], Session]


# --- 1. fire ------------------------------------------------------------------------------


def fire(sessions: Sessions = new_session) -> int:
    """The reconciler's step: fire what has ended, in one transaction; how many."""
    with sessions() as session, session.begin():
        fired = fire_ended(session)
    if fired:
        logger.info("webhooks: %d fired", fired)
    return fired


def fire_ended(session: Session) -> int:
    """Make `pending` every waiting delivery whose batch or job has ended; returns how many."""
    unfinished = (JobStatus.queued, JobStatus.running)
    batch_ended = and_(
        WebhookDelivery.batch_id.is_not(None),
        ~exists().where(Job.batch_id == WebhookDelivery.batch_id, Job.status.in_(unfinished)),
    )
    job_ended = and_(
        WebhookDelivery.job_id.is_not(None),
        exists().where(Job.id == WebhookDelivery.job_id, Job.status.in_(FINISHED)),
    )
    ended = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.state == DeliveryState.waiting, or_(batch_ended, job_ended))
        .limit(_FIRE_AT_ONCE)
    ).all()
    now = utcnow()
    fired = 0
    for delivery in ended:
        body = _event(session, delivery, now).model_dump_json()
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.state == DeliveryState.waiting)
            .values(state=DeliveryState.pending, body=body, fired_at=now, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        fired += int(getattr(result, "rowcount", 0) or 0)
    return fired


def _event(
    session: Session, delivery: WebhookDelivery, now: datetime
) -> callbacks.BatchFinished | callbacks.JobFinished:
    if delivery.batch_id is not None:
        batch = session.get_one(Batch, delivery.batch_id)
        counts = job_state.status_counts(session, batch.id)
        status = job_state.batch_status(counts)
        assert status != "running", "fired only once no line is queued or running"
        last = session.scalar(
            select(Job.finished_at).where(Job.batch_id == batch.id).order_by(Job.finished_at.desc()).limit(1)
        )
        return callbacks.BatchFinished(
            event_id=delivery.id,
            id=batch.id,
            kind=batch.kind.value,
            status=status,
            counts=counts,
            lines=batch.lines,
            created_at=batch.created_at,
            finished_at=last or now,
        )
    job = session.get_one(Job, delivery.job_id)
    return callbacks.JobFinished(
        event_id=delivery.id,
        id=job.id,
        kind=job.kind.value,
        status=cast(callbacks.FinishedStatus, job.status.value),  # fired only once the job ended
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at or now,
    )


# --- 2. claim -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A claimed delivery, all an attempt needs."""

    id: str
    tenant_id: str
    url: str
    body: str
    attempt: int  # this one's number
    fired_at: datetime
    secret: str | None


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: a status (None if no answer came) and an error (None if a 2xx)."""

    status_code: int | None
    error: str | None
    duration_ms: float


def claim(sessions: Sessions, settings: Settings, room: int, busy: Mapping[str, int]) -> list[Due]:
    """Take up to `room` due deliveries, oldest due first, at most VOXQ_WEBHOOK_TENANT_CONCURRENCY
    of a tenant counting those this sender has in flight (`busy`, by tenant), so that a tenant
    whose receivers stall fills no more than its share. Each is leased to this sender: its next
    attempt moves to the lease's end, which the conditional UPDATE makes one sender's alone."""
    cap = settings.webhook_tenant_concurrency
    now = utcnow()
    lease_until = now + timedelta(seconds=settings.webhook_deadline_s + LEASE_MARGIN_S)
    taken: Counter[str] = Counter(busy)
    chosen: list[str] = []
    with sessions() as session, session.begin():
        # A round reads the next due rows of tenants with room left; one whose share fills up is
        # left out of the next round, so a tenant with many due deliveries never hides the others.
        while len(chosen) < room:
            full = [tenant for tenant, n in taken.items() if n >= cap]
            query = select(WebhookDelivery.id, WebhookDelivery.tenant_id).where(
                WebhookDelivery.state == DeliveryState.pending, WebhookDelivery.next_attempt_at <= now
            )
            if full:
                query = query.where(WebhookDelivery.tenant_id.not_in(full))
            if chosen:
                query = query.where(WebhookDelivery.id.not_in(chosen))
            rows = session.execute(query.order_by(WebhookDelivery.next_attempt_at).limit(room - len(chosen))).all()
            if not rows:
                break
            for row in rows:
                if taken[row.tenant_id] < cap and len(chosen) < room:
                    taken[row.tenant_id] += 1
                    chosen.append(row.id)
        if not chosen:
            return []
        claimed = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(chosen),
                WebhookDelivery.state == DeliveryState.pending,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=lease_until)
            .returning(
                WebhookDelivery.id,
                WebhookDelivery.tenant_id,
                WebhookDelivery.url,
                WebhookDelivery.body,
                WebhookDelivery.attempts,
                WebhookDelivery.fired_at,
            )
            .execution_options(synchronize_session=False)
        ).all()
        tenants = {row.tenant_id for row in claimed}
        keys = dict(session.execute(select(Tenant.id, Tenant.webhook_secret).where(Tenant.id.in_(tenants))).all())
    return [
        Due(
            row.id,
            row.tenant_id,
            row.url,
            row.body or "",
            row.attempts + 1,
            row.fired_at or now,
            keys.get(row.tenant_id),
        )
        for row in claimed
    ]


# --- 3. record ----------------------------------------------------------------------------


def record(sessions: Sessions, due: Due, outcome: Outcome, settings: Settings) -> DeliveryState | None:
    """Keep the attempt and move the delivery on: delivered, failed, or pending until its next
    attempt. None if another sender has recorded this attempt already (this one's lease ran out)."""
    now = utcnow()
    values: dict[str, Any] = {"attempts": due.attempt}
    wait = min(settings.webhook_backoff_s * 2 ** (due.attempt - 1), settings.webhook_backoff_max_s)
    if outcome.error is None:
        state = DeliveryState.delivered
        values |= {"state": state, "finished_at": now, "next_attempt_at": None}
    elif now + timedelta(seconds=wait) > due.fired_at + timedelta(seconds=settings.webhook_retry_for_s):
        state = DeliveryState.failed
        values |= {"state": state, "finished_at": now, "next_attempt_at": None}
    else:
        state = DeliveryState.pending
        values |= {"next_attempt_at": now + timedelta(seconds=wait)}
    with sessions() as session, session.begin():
        # The attempt count fences a sender whose lease ran out: the one that took the delivery
        # over records the same attempt number first, and this one's update then matches nothing.
        moved = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == due.id,
                WebhookDelivery.state == DeliveryState.pending,
                WebhookDelivery.attempts == due.attempt - 1,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not getattr(moved, "rowcount", 0):
            logger.warning("webhook %s: attempt %d was recorded by another sender already", due.id, due.attempt)
            return None
        session.execute(
            insert(WebhookAttempt).values(
                delivery_id=due.id,
                attempt=due.attempt,
                at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
        )
    if state == DeliveryState.failed:
        logger.warning("webhook %s to %s: given up after %d attempts: %s", due.id, due.url, due.attempt, outcome.error)
    elif state == DeliveryState.pending:
        logger.info(
            "webhook %s to %s: attempt %d failed (%s), again in %.0fs",
            due.id,
            due.url,
            due.attempt,
            outcome.error,
            wait,
        )
    return state
