"""Job state: the one place that moves a job between states.

queued -> running -> succeeded | failed. `running` may repeat (a retry, or a redelivery
after a worker died); a terminal job never changes again, which makes tasks idempotent.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from shared.models import Job, JobStatus, utcnow

logger = logging.getLogger(__name__)
_JOBS = Job.__table__


def start(session: Session, job_id: str) -> Job | None:
    """Mark a job running and count the attempt; None if it is unknown or already finished."""
    started = start_many(session, [job_id])
    return started[0] if started else None


def start_many(session: Session, job_ids: Sequence[str]) -> list[Job]:
    """Mark jobs running and count their attempts, in one UPDATE ... RETURNING; returns the
    jobs to work on, in the order given. Unknown and already finished jobs are left out.
    """
    rows = session.scalars(
        update(Job)
        .where(Job.id.in_(job_ids), Job.status.in_([JobStatus.queued, JobStatus.running]))
        .values(status=JobStatus.running, attempts=Job.attempts + 1, started_at=utcnow())
        .returning(Job)
    ).all()
    by_id = {job.id: job for job in rows}
    skipped = [job_id for job_id in job_ids if job_id not in by_id]
    if skipped:
        _log_skipped(session, skipped)
    return [by_id[job_id] for job_id in job_ids if job_id in by_id]


def _log_skipped(session: Session, job_ids: list[str]) -> None:
    known = {job_id: status for job_id, status in session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids)))}
    for job_id in job_ids:
        if job_id in known:
            logger.info("job %s: already %s, skipped", job_id, known[job_id].value)
        else:
            logger.warning("job %s: not in the database, message dropped", job_id)


def succeed(session: Session, job_id: str, result: dict[str, Any], snippet_key: str | None = None) -> bool:
    """Record a job's result. False if it had already finished (a duplicate delivery)."""
    return succeed_many(session, [(job_id, result, snippet_key)]) == 1


def succeed_many(session: Session, results: Sequence[tuple[str, dict[str, Any], str | None]]) -> int:
    """Record (job id, result, snippet key) of many jobs; returns how many were unfinished."""
    now = utcnow()
    rows = [
        {"job_id": job_id, "result": result, "snippet_key": snippet_key, "finished_at": now}
        for job_id, result, snippet_key in results
    ]
    return _finish(session, _SUCCEED, rows)


def fail(session: Session, job_id: str, error: str) -> bool:
    return fail_many(session, {job_id: error}) == 1


def fail_many(session: Session, errors: Mapping[str, str]) -> int:
    """Fail jobs, each with its error; returns how many were unfinished."""
    now = utcnow()
    for job_id, error in errors.items():
        logger.warning("job %s: failed: %s", job_id, error)
    rows = [{"job_id": job_id, "error": error, "finished_at": now} for job_id, error in errors.items()]
    return _finish(session, _FAIL, rows)


# One statement for any number of jobs, run as an executemany (psycopg pipelines it): a
# group of 16 LLM jobs is recorded in ~1 ms instead of ~8 ms one UPDATE at a time, which
# matters on a host whose CPU the model server needs. A finished job is never touched
# again (`!=` twice rather than NOT IN: executemany takes no expanding IN).
_UNFINISHED = (
    _JOBS.c.id == bindparam("job_id"),
    _JOBS.c.status != JobStatus.succeeded,
    _JOBS.c.status != JobStatus.failed,
)
_SUCCEED = (
    update(_JOBS)
    .where(*_UNFINISHED)
    .values(
        status=JobStatus.succeeded,
        result=bindparam("result"),
        snippet_key=bindparam("snippet_key"),
        finished_at=bindparam("finished_at"),
    )
)
_FAIL = (
    update(_JOBS)
    .where(*_UNFINISHED)
    .values(status=JobStatus.failed, error=bindparam("error"), finished_at=bindparam("finished_at"))
)


def _finish(session: Session, statement: Update, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    return session.execute(statement, rows).rowcount


def status_counts(session: Session, batch_id: str) -> dict[str, int]:
    rows = session.execute(
        select(Job.status, func.count()).where(Job.batch_id == batch_id).group_by(Job.status)
    )
    counts = {status.value: 0 for status in JobStatus}
    counts.update({status.value: n for status, n in rows})
    return counts
