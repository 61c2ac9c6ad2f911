"""The webhook sweep, one step of every reconciler pass (shared/jobs/reconcile.py):

1. fire: a `waiting` delivery whose batch has no line queued or running, or whose job has
   ended, gets its event's body and becomes `pending`, due now. The database says what ended,
   whichever process ended it (a worker, a cancel, a submission answered from the cache), and
   the conditional UPDATE fires each delivery once however many sweeps run;
2. send: due deliveries are claimed (their next attempt moved past the sweep), POSTed signed,
   a few at once with short timeouts so that one slow receiver cannot hold up the pass, and
   each attempt is recorded. A 2xx delivers; anything else is tried again with exponential
   backoff until VOXQ_WEBHOOK_RETRY_FOR_S after the end, then the delivery has failed.

The rows are the truth: a process that dies mid-send leaves a claimed delivery that the next
sweep after the claim runs out sends again (at least once; the event id tells duplicates).
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import and_, exists, insert, or_, select, update
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db import session_scope
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

_FIRE_AT_ONCE = 500  # deliveries fired per sweep; the rest on the next one
_ERROR_CHARS = 500  # of an error or a receiver's answer kept with an attempt


@dataclass
class Swept:
    """What one sweep did."""

    fired: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def sweep(settings: Settings) -> Swept:
    swept = Swept()
    with session_scope() as session:
        swept.fired = fire_ended(session)
    for outcome in send_due(settings):
        if outcome == DeliveryState.delivered:
            swept.delivered += 1
        elif outcome == DeliveryState.failed:
            swept.failed += 1
        else:
            swept.retrying += 1
    if swept.fired or swept.delivered or swept.retrying or swept.failed:
        logger.info(
            "webhooks: %d fired, %d delivered, %d to retry, %d given up",
            swept.fired,
            swept.delivered,
            swept.retrying,
            swept.failed,
        )
    return swept


# --- 1. fire ------------------------------------------------------------------------------


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


# --- 2. send ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Due:
    id: str
    url: str
    body: str
    attempt: int  # this one's number
    fired_at: datetime
    secret: str | None


@dataclass(frozen=True)
class _Result:
    status_code: int | None
    error: str | None
    duration_ms: float


def send_due(settings: Settings) -> list[DeliveryState]:
    """Claim, send and record the deliveries due now (at most four rounds of
    `webhook_concurrency`); each one's state afterwards."""
    due = _claim(settings)
    if not due:
        return []
    with ThreadPoolExecutor(max_workers=settings.webhook_concurrency, thread_name_prefix="voxq-webhook") as pool:
        results = list(pool.map(lambda d: _post(d, settings), due))
    with session_scope() as session:
        return [_record(session, d, r, settings) for d, r in zip(due, results, strict=True)]


def _claim(settings: Settings) -> list[_Due]:
    """Take the due deliveries: their next attempt moves past this sweep's sends, so another
    sweep (a reconciler whose lock ran out meanwhile) leaves them alone."""
    now = utcnow()
    claim_until = now + timedelta(seconds=4 * 3 * settings.webhook_timeout_s + 60)
    with session_scope() as session:
        ids = session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == DeliveryState.pending, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(4 * settings.webhook_concurrency)
        ).all()
        if not ids:
            return []
        rows = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(ids),
                WebhookDelivery.state == DeliveryState.pending,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=claim_until)
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
        tenants = {row.tenant_id for row in rows}
        keys = dict(session.execute(select(Tenant.id, Tenant.webhook_secret).where(Tenant.id.in_(tenants))).all())
    return [
        _Due(row.id, row.url, row.body or "", row.attempts + 1, row.fired_at or now, keys.get(row.tenant_id))
        for row in rows
    ]


def _post(due: _Due, settings: Settings) -> _Result:
    """One signed POST; never raises. The address is resolved and checked again now (the name
    may point elsewhere since submission) and the request pinned to it."""
    started = time.monotonic()

    def result(status_code: int | None, error: str | None) -> _Result:
        return _Result(status_code, error, round((time.monotonic() - started) * 1000, 1))

    if due.secret is None:
        return result(None, "the tenant has no webhook secret")
    try:
        target = callbacks.target(due.url, settings.webhook_allow_private)
    except callbacks.Refused as exc:
        return result(None, f"refused: {exc}")
    body = due.body.encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "VoxQueue-Webhooks/1",
        callbacks.EVENT_ID_HEADER: due.id,
        callbacks.TIMESTAMP_HEADER: str(timestamp),
        callbacks.SIGNATURE_HEADER: callbacks.sign(due.secret, timestamp, body),
    }
    if target.host_header is not None:
        headers["Host"] = target.host_header
    extensions: dict[str, Any] = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}
    try:
        # No redirects: a 3xx is a failure, as a receiver that moved must be told to us, and a
        # redirect could lead to an address that was never checked.
        with httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False) as client:
            response = client.post(target.url, content=body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return result(None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS] or type(exc).__name__)
    if response.is_success:
        return result(response.status_code, None)
    return result(response.status_code, f"answered {response.status_code}: {response.text[:200]}"[:_ERROR_CHARS])


def _record(session: Session, due: _Due, result: _Result, settings: Settings) -> DeliveryState:
    now = utcnow()
    session.execute(
        insert(WebhookAttempt).values(
            delivery_id=due.id,
            attempt=due.attempt,
            at=now,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
    )
    values: dict[str, Any] = {"attempts": due.attempt}
    if result.error is None:
        state = DeliveryState.delivered
        values |= {"state": state, "finished_at": now, "next_attempt_at": None}
    else:
        wait = min(settings.webhook_backoff_s * 2 ** (due.attempt - 1), settings.webhook_backoff_max_s)
        retry_at = now + timedelta(seconds=wait)
        if retry_at > due.fired_at + timedelta(seconds=settings.webhook_retry_for_s):
            state = DeliveryState.failed
            values |= {"state": state, "finished_at": now, "next_attempt_at": None}
            logger.warning(
                "webhook %s to %s: given up after %d attempts: %s", due.id, due.url, due.attempt, result.error
            )
        else:
            state = DeliveryState.pending
            values |= {"next_attempt_at": retry_at}
            logger.info(
                "webhook %s to %s: attempt %d failed (%s), again in %.0fs",
                due.id,
                due.url,
                due.attempt,
                result.error,
                wait,
            )
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == due.id).values(**values))
    return state
