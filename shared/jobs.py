"""Job state: the one place that moves a job between states.

queued -> running -> succeeded | failed. `running` may repeat (a retry, or a redelivery
after a worker died); a terminal job never changes again, which makes tasks idempotent.
"""

import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.models import Job, JobStatus, utcnow

logger = logging.getLogger(__name__)


def start(session: Session, job_id: str) -> Job | None:
    """Mark a job running and count the attempt; None if it is unknown or already finished.

    One UPDATE ... RETURNING: a worker pays one round trip per job start, not two.
    """
    job = session.scalars(
        update(Job)
        .where(Job.id == job_id, Job.status.in_([JobStatus.queued, JobStatus.running]))
        .values(status=JobStatus.running, attempts=Job.attempts + 1, started_at=utcnow())
        .returning(Job)
    ).one_or_none()
    if job is None:
        known = session.get(Job, job_id)
        if known is None:
            logger.warning("job %s: not in the database, message dropped", job_id)
        else:
            logger.info("job %s: already %s, skipped", job_id, known.status.value)
    return job


def succeed(session: Session, job_id: str, result: dict[str, Any], snippet_key: str | None = None) -> bool:
    """Record a job's result. False if it had already finished (a duplicate delivery)."""
    return _finish(session, job_id, status=JobStatus.succeeded, result=result, snippet_key=snippet_key)


def fail(session: Session, job_id: str, error: str) -> bool:
    logger.warning("job %s: failed: %s", job_id, error)
    return _finish(session, job_id, status=JobStatus.failed, error=error)


def _finish(session: Session, job_id: str, **values: Any) -> bool:
    done = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_([JobStatus.queued, JobStatus.running]))
        .values(finished_at=utcnow(), **values)
    )
    return done.rowcount == 1


def status_counts(session: Session, batch_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Job.status, func.count()).where(Job.batch_id == batch_id).group_by(Job.status)
    )
    counts = {status.value: 0 for status in JobStatus}
    counts.update({status.value: n for status, n in rows})
    return counts
