"""Job state: the one place that writes it, from the insert to the last transition.

queued -> running -> succeeded | failed. `running` may repeat (a retry, or a redelivery
after a worker died); a terminal job never changes again, which makes tasks idempotent.
A batch's queued line may be cancelled (queued -> cancelled) and then never starts.
A job may also be inserted already succeeded (a cached line, a CPU answer): it is never queued.
"""

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from psycopg.types.json import Json
from sqlalchemy import ColumnElement, CursorResult, Table, Update, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from shared import metrics
from shared.db import in_chunks
from shared.jobs.contracts import BatchStatus, JobInput, JobResult
from shared.jobs.lanes import LANES, QUEUE_FOR_TASK, QUEUES, TASK_FOR_KIND, Lane
from shared.models import Batch, Job, JobKind, JobStatus, new_id, utcnow

logger = logging.getLogger(__name__)
_JOBS = cast(Table, Job.__table__)  # declared as a FromClause; a declarative class's is a Table
_COPY_FROM = 200  # rows from which Postgres is given COPY rather than INSERT
_JSON_COLUMNS = frozenset({"input", "result"})


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
    chapter: int | None = None  # a book's chapter (shared/books/store.py)


def insert_jobs(
    session: Session,
    tenant_id: str,
    new_jobs: Sequence[NewJob],
    batch_id: str | None = None,
    parent_id: str | None = None,
    dispatched: bool = True,
) -> list[str]:
    """Insert jobs in one statement; returns the ids of those still to be queued, in order.
    `dispatched`: their messages are sent at once (a single request's, a worker's child jobs);
    False: they wait in the database for the dispatcher (a batch's lines)."""
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
            "chapter": job.chapter if batch_id else None,
            "parent_id": parent_id,
            "kind": job.kind,
            "status": JobStatus.queued if job.result is None else JobStatus.succeeded,
            "input": job.input.model_dump(mode="json", exclude_none=True),
            "result": None if job.result is None else job.result.model_dump(mode="json"),
            "snippet_key": job.snippet_key,
            "attempts": 0,
            "created_at": now,
            "finished_at": None if job.result is None else now,
            "dispatched_at": now if dispatched and job.result is None else None,
        }
        for job in new_jobs
    ]
    dialect = session.get_bind().dialect.name
    if len(rows) >= _COPY_FROM and dialect == "postgresql":
        _copy_jobs(session, rows)
    elif len(rows) >= _COPY_FROM and dialect == "sqlite":
        _executemany_jobs(session, rows)
    else:
        session.execute(insert(_JOBS), rows)  # Core, not the ORM: no per-row ORM bookkeeping
    # Every path that submits synthesis (routes, a spoken reply) comes here with the lines
    # the snippet cache answered; the misses are counted by the worker that looks again.
    hits = sum(1 for job in new_jobs if job.kind == JobKind.synthesis and job.result is not None)
    metrics.Recording().count(metrics.CACHE_HITS, by=hits).send()
    return [job.id for job in new_jobs if job.result is None]


def _copy_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Rows into jobs by Postgres's COPY, in the session's transaction: a batch's lines in one
    stream, in about half the time an INSERT of as many rows takes (bench/backlog.py)."""
    columns = list(rows[0])
    connection = session.connection().connection.driver_connection
    assert connection is not None  # a live session's connection
    # Converted by column, not by looking at each value: JSON documents and enums' values.
    documents = [i for i, column in enumerate(columns) if column in _JSON_COLUMNS]
    enums = [i for i, column in enumerate(columns) if isinstance(rows[0][column], enum.Enum)]
    statement = f"COPY jobs ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = list(row.values())
            for i in documents:
                values[i] = None if values[i] is None else Json(values[i])
            for i in enums:
                values[i] = values[i].value
            copy.write_row(values)


def _executemany_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    """Rows into jobs by the SQLite driver's executemany, in the session's transaction. Each
    column is converted by its type's own bind processor, as SQLAlchemy would (so the rows read
    back the same), but once per column rather than through a parameter dict per row, a tenth
    of a second of a 10,000-line batch's acceptance; a value repeated down a column (the time,
    the status) is converted once."""
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    converted: list[list[Any]] = []
    for column in columns:
        values = [row[column] for row in rows]
        process = _JOBS.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and column in _JSON_COLUMNS:
            values = [process(value) for value in values]
        elif process is not None:
            once = {value: process(value) for value in set(values)}
            values = [once[value] for value in values]
        converted.append(values)
    connection = session.connection().connection.driver_connection
    assert connection is not None  # a live session's connection
    statement = f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    connection.executemany(statement, zip(*converted, strict=True))


def fail_unqueued(session: Session, job_ids: Sequence[str], error: str) -> None:
    """Fail queued jobs whose messages could not be sent, rather than leave them queued forever."""
    shown = ", ".join(job_ids[:5]) + (f" and {len(job_ids) - 5} more" if len(job_ids) > 5 else "")
    logger.error("jobs %s: failed, they could not be queued: %s", shown, error)
    for chunk in in_chunks(job_ids):
        session.execute(
            update(Job)
            .where(Job.id.in_(chunk), Job.status == JobStatus.queued)
            .values(status=JobStatus.failed, error=error, finished_at=utcnow())
        )


class Found(NamedTuple):
    """A job the reconciler sends again: its kind (so its task), id, and batch (so its lane)."""

    kind: JobKind
    id: str
    batch_id: str | None


def resend_lost(
    session: Session, older_than_s: float, limit: int, drained: set[tuple[str, Lane]] | None = None
) -> list[Found]:
    """Up to `limit` jobs whose message was sent more than `older_than_s` seconds ago and that have
    still not started: their message was lost (a flushed or failed-over Redis, a crash between a
    commit and its send). Only in the `drained` (queue, lane) pairs when given, whose lists are
    empty: a message behind others in a list that no worker is taking from is waiting, not lost.
    Marked sent now; each, to send again. An index scan of those alone."""
    now = utcnow()
    query = (
        select(Job.kind, Job.id, Job.batch_id, Batch.lane)
        .outerjoin(Batch, Batch.id == Job.batch_id)
        .where(Job.status == JobStatus.queued, Job.dispatched_at <= now - timedelta(seconds=older_than_s))
        .order_by(Job.dispatched_at)
        .limit(limit)
    )
    found = [
        Found(kind, job_id, batch_id)
        for kind, job_id, batch_id, lane in session.execute(query)
        if drained is None
        or (QUEUE_FOR_TASK[TASK_FOR_KIND[kind]], "bulk" if batch_id and lane != "live" else "live") in drained
    ]
    for chunk in in_chunks([job.id for job in found]):
        session.execute(
            update(Job)
            .where(Job.id.in_(chunk), Job.status == JobStatus.queued)
            .values(dispatched_at=now)
            .execution_options(synchronize_session=False)
        )
    return found


def batch_lanes(session: Session, batch_ids: set[str]) -> dict[str, Lane]:
    """The lane each batch's lines go in."""
    lanes: dict[str, Lane] = {}
    for chunk in in_chunks(sorted(batch_ids)):
        for batch_id, lane in session.execute(select(Batch.id, Batch.lane).where(Batch.id.in_(chunk))):
            lanes[batch_id] = "live" if lane == "live" else "bulk"
    return lanes


def start(session: Session, job_id: str, worker: str = "", lease_s: float = 30.0) -> Job | None:
    """Start one job; see `start_many`."""
    started = start_many(session, [job_id], worker, lease_s)
    return started[0] if started else None


def start_many(session: Session, job_ids: Sequence[str], worker: str = "", lease_s: float = 30.0) -> list[Job]:
    """Mark jobs running under `worker`'s lease and count their attempts, in one UPDATE ...
    RETURNING; returns the jobs to work on, in the order given.

    A job is taken if it is queued, or running under a lease that ran out (its worker was
    lost). Unknown and finished jobs are left out, and so is a job another worker holds now:
    a message delivered twice never runs one job twice at the same time.
    """
    now = utcnow()
    rows = session.scalars(
        update(Job)
        .where(
            Job.id.in_(job_ids),
            or_(
                Job.status == JobStatus.queued,
                and_(Job.status == JobStatus.running, _lease_ran_out(now)),
            ),
        )
        .values(
            status=JobStatus.running,
            attempts=Job.attempts + 1,
            started_at=now,
            worker=worker or None,
            lease_expires_at=now + timedelta(seconds=lease_s),
        )
        .returning(Job)
        # The rows come back from RETURNING, as they are now (populate_existing). Evaluating the
        # criteria in Python against objects already in the session instead would compare
        # SQLite's naive datetimes with aware ones.
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    by_id = {job.id: job for job in rows}
    skipped = [job_id for job_id in job_ids if job_id not in by_id]
    if skipped:
        _log_skipped(session, skipped)
    return [by_id[job_id] for job_id in job_ids if job_id in by_id]


def _lease_ran_out(now: datetime) -> ColumnElement[bool]:
    # A running job with no lease was started before leases existed: nobody renews it.
    return or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now)


def _log_skipped(session: Session, job_ids: list[str]) -> None:
    known = dict(session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).all())
    for job_id in job_ids:
        if job_id not in known:
            logger.warning("job %s: not in the database, message dropped", job_id)
        elif known[job_id] == JobStatus.running:
            logger.info("job %s: running under another worker's lease, message dropped", job_id)
        else:
            logger.info("job %s: already %s, skipped", job_id, known[job_id].value)


def renew(session: Session, held: Sequence[Job], lease_s: float) -> int:
    """Extend the lease of jobs this worker still runs; returns how many it still holds."""
    expires = utcnow() + timedelta(seconds=lease_s)
    return _fenced(session, _RENEW, [_fence(job) | {"expires": expires} for job in held])


def requeue_expired(session: Session) -> list[Found]:
    """Queue again every running job whose lease ran out; each, to enqueue."""
    rows = session.execute(
        update(Job)
        .where(Job.status == JobStatus.running, _lease_ran_out(utcnow()))
        .values(status=JobStatus.queued, worker=None, lease_expires_at=None, dispatched_at=utcnow())
        .returning(Job.kind, Job.id, Job.batch_id)
        .execution_options(synchronize_session=False)
    ).all()
    for _kind, job_id, _batch in rows:
        logger.warning("job %s: its worker's lease ran out, queued again", job_id)
    return [Found(*row) for row in rows]


def release(session: Session, held: Sequence[Job], retry_in_s: float = 0.0) -> int:
    """Give jobs back to the queue (a retry after `retry_in_s` of backoff is on its way): queued,
    no lease, its message counted as sent when it is due."""
    due = utcnow() + timedelta(seconds=retry_in_s)
    return _fenced(session, _RELEASE, [_fence(job) | {"due": due} for job in held])


def succeed(session: Session, job: Job, result: JobResult) -> bool:
    """Record a job's result; False if this attempt no longer holds the job (it finished, or
    was queued again after its lease ran out and perhaps run by another worker)."""
    return succeed_many(session, [(job, result)]) == 1


def succeed_many(session: Session, results: Sequence[tuple[Job, JobResult]]) -> int:
    """Record the result of each job's attempt; returns how many were recorded."""
    now = utcnow()
    rows = [_fence(job) | {"result": result.model_dump(mode="json"), "finished_at": now} for job, result in results]
    return _fenced(session, _SUCCEED, rows)


def fail(session: Session, job: Job, error: str) -> bool:
    """Fail a job's attempt; False if the attempt no longer holds the job."""
    return fail_many(session, [(job, error)]) == 1


def fail_many(session: Session, errors: Sequence[tuple[Job, str]]) -> int:
    """Fail each job's attempt with its error; returns how many were recorded."""
    now = utcnow()
    for job, error in errors:
        logger.warning("job %s: failed: %s", job.id, error)
    return _fenced(session, _FAIL, [_fence(job) | {"error": error, "finished_at": now} for job, error in errors])


def _fence(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, "attempt": job.attempts}


# Every write after the start is fenced by the attempt: it changes the job only while it is
# running under that very attempt. A late finisher (a worker cut off past its lease, back
# after the job was queued again and perhaps done by another) changes nothing, so a job has
# one result whatever ran twice. One statement for any number of jobs, run as an
# executemany (psycopg pipelines it): a group of 16 LLM jobs is recorded in ~1 ms instead of
# ~8 ms one UPDATE at a time, which matters on a host whose CPU the model server needs.
_HELD = (
    _JOBS.c.id == bindparam("job_id"),
    _JOBS.c.attempts == bindparam("attempt"),
    _JOBS.c.status == JobStatus.running,
)
_SUCCEED = (
    update(_JOBS)
    .where(*_HELD)
    .values(
        status=JobStatus.succeeded,
        result=bindparam("result"),
        finished_at=bindparam("finished_at"),
        lease_expires_at=None,
    )
)
_FAIL = (
    update(_JOBS)
    .where(*_HELD)
    .values(
        status=JobStatus.failed, error=bindparam("error"), finished_at=bindparam("finished_at"), lease_expires_at=None
    )
)
_RENEW = update(_JOBS).where(*_HELD).values(lease_expires_at=bindparam("expires"))
_RELEASE = (
    update(_JOBS)
    .where(*_HELD)
    .values(status=JobStatus.queued, worker=None, lease_expires_at=None, dispatched_at=bindparam("due"))
)


def _fenced(session: Session, statement: Update, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    # Session.execute is declared to return a Result; a DML statement's is a CursorResult.
    return cast(CursorResult[Any], session.execute(statement, rows)).rowcount


def backlog(session: Session) -> dict[tuple[str, Lane], int]:
    """Batch lines waiting in the database for the dispatcher, by queue and lane, every pair
    present: a sum over the batches with lines waiting (an index on those), not a count of jobs."""
    counts: dict[tuple[str, Lane], int] = {(name, lane): 0 for name in QUEUES for lane in LANES}
    rows = session.execute(
        select(Batch.kind, Batch.lane, func.sum(Batch.undispatched))
        .where(Batch.undispatched > 0)
        .group_by(Batch.kind, Batch.lane)
    )
    for kind, lane, n in rows:
        lane_of: Lane = "live" if lane == "live" else "bulk"
        key = (QUEUE_FOR_TASK[TASK_FOR_KIND[kind]], lane_of)
        counts[key] = counts.get(key, 0) + int(n or 0)
    return counts


def kind_status_counts(session: Session) -> dict[tuple[JobKind, JobStatus], int]:
    """How many jobs there are of each kind in each state, every pair present (0 if none)."""
    counts = {(kind, status): 0 for kind in JobKind for status in JobStatus}
    rows = session.execute(select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status))
    counts.update({(kind, status): n for kind, status, n in rows})
    return counts


def status_counts(session: Session, batch_id: str) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).where(Job.batch_id == batch_id).group_by(Job.status))
    counts = {status.value: 0 for status in JobStatus}
    counts.update({status.value: n for status, n in rows})
    return counts


def batch_status(counts: dict[str, int]) -> BatchStatus:
    """A batch's state from its jobs' counts: running while a line is queued or running, then
    cancelled if any line was, failed if any line failed, else succeeded."""
    if counts[JobStatus.queued] or counts[JobStatus.running]:
        return "running"
    if counts[JobStatus.cancelled]:
        return "cancelled"
    return "failed" if counts[JobStatus.failed] else "succeeded"


def cancel_queued(session: Session, batch_id: str) -> int:
    """Cancel the batch's lines that have not started (or wait for a retry): one UPDATE, and
    a worker that takes their messages later skips them (`start_many` takes queued jobs only).
    Lines running now are left to finish. Returns how many were cancelled."""
    result = session.execute(
        update(Job)
        .where(Job.batch_id == batch_id, Job.status == JobStatus.queued)
        .values(status=JobStatus.cancelled, error="cancelled before it started", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    cancelled = cast(CursorResult[Any], result).rowcount
    if cancelled:
        logger.info("batch %s: %d queued lines cancelled", batch_id, cancelled)
    return cancelled
