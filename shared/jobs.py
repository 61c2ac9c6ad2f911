"""Job state: the one place that writes it, from the insert to the last transition.

queued -> running -> succeeded | failed. `running` may repeat (a retry, or a redelivery
after a worker died); a terminal job never changes again, which makes tasks idempotent.
A job may also be inserted already succeeded (a cached line, a CPU answer): it is never queued.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, Update, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from shared.models import Job, JobKind, JobStatus, new_id, utcnow
from shared.schemas import JobInput, JobResult

logger = logging.getLogger(__name__)
_JOBS = cast(Table, Job.__table__)  # declared as a FromClause; a declarative class's is a Table
_IN_CHUNK = 500  # bound on the size of one IN (...) list


@dataclass(frozen=True)
class NewJob:
    """A job to insert: queued, or, with a `result`, succeeded at submission and never queued."""

    kind: JobKind
    input: JobInput
    line: int | None = None  # 1-based line (or item) number in its batch
    line_id: str | None = None  # the caller's id of the line
    snippet_key: str | None = None  # synthesis: where its audio is (or will be) cached
    result: JobResult | None = None
    id: str = field(default_factory=lambda: new_id("job"))


def insert_jobs(
    session: Session,
    tenant_id: str,
    new_jobs: Sequence[NewJob],
    batch_id: str | None = None,
    parent_id: str | None = None,
) -> list[str]:
    """Insert jobs in one statement; returns the ids of those still to be queued, in order."""
    if not new_jobs:
        return []
    now = utcnow()
    rows = [
        {
            "id": job.id,
            "tenant_id": tenant_id,
            "batch_id": batch_id,
            "line": job.line if batch_id else None,
            "line_id": job.line_id,
            "parent_id": parent_id,
            "kind": job.kind,
            "status": JobStatus.queued if job.result is None else JobStatus.succeeded,
            "input": job.input.model_dump(mode="json", exclude_none=True),
            "result": None if job.result is None else job.result.model_dump(mode="json"),
            "snippet_key": job.snippet_key,
            "attempts": 0,
            "created_at": now,
            "finished_at": None if job.result is None else now,
        }
        for job in new_jobs
    ]
    session.execute(insert(Job), rows)
    return [job.id for job in new_jobs if job.result is None]


def fail_unqueued(session: Session, job_ids: Sequence[str], error: str) -> None:
    """Fail queued jobs whose messages could not be sent, rather than leave them queued forever."""
    shown = ", ".join(job_ids[:5]) + (f" and {len(job_ids) - 5} more" if len(job_ids) > 5 else "")
    logger.error("jobs %s: failed, they could not be queued: %s", shown, error)
    for start in range(0, len(job_ids), _IN_CHUNK):
        session.execute(
            update(Job)
            .where(Job.id.in_(job_ids[start : start + _IN_CHUNK]), Job.status == JobStatus.queued)
            .values(status=JobStatus.failed, error=error, finished_at=utcnow())
        )


def queued_before(session: Session, older_than_s: float) -> list[tuple[JobKind, str]]:
    """(kind, id) of every job still queued `older_than_s` seconds after it was created."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    rows = session.execute(select(Job.kind, Job.id).where(Job.status == JobStatus.queued, Job.created_at <= cutoff))
    return [(kind, job_id) for kind, job_id in rows]


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
    known = dict(session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).all())
    for job_id in job_ids:
        if job_id in known:
            logger.info("job %s: already %s, skipped", job_id, known[job_id].value)
        else:
            logger.warning("job %s: not in the database, message dropped", job_id)


def succeed(session: Session, job_id: str, result: JobResult) -> bool:
    """Record a job's result. False if it had already finished (a duplicate delivery)."""
    return succeed_many(session, {job_id: result}) == 1


def succeed_many(session: Session, results: Mapping[str, JobResult]) -> int:
    """Record the result of each job; returns how many were unfinished."""
    now = utcnow()
    rows = [
        {"job_id": job_id, "result": result.model_dump(mode="json"), "finished_at": now}
        for job_id, result in results.items()
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
    # Session.execute is declared to return a Result; a DML statement's is a CursorResult.
    return cast(CursorResult[Any], session.execute(statement, rows)).rowcount


def status_counts(session: Session, batch_id: str) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).where(Job.batch_id == batch_id).group_by(Job.status))
    counts = {status.value: 0 for status in JobStatus}
    counts.update({status.value: n for status, n in rows})
    return counts
