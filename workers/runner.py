"""Running jobs inside a Celery task: start, call, record, retry.

A task body is `run_jobs(self, job_ids, InputModel, work)`. The runner starts the jobs in
one transaction, validates each job's stored input against its kind's model (a job whose
input does not fit fails, the others go on), and hands `work` the typed inputs. `work`
returns one outcome per job: an `Outcome` (a typed result, optionally a snippet to store
and a `FollowUp` that records the result itself with whatever goes with it) or a
VoxQueueError. Engine failures that may pass are RetryableEngineError (the job is retried
with backoff, see JOB_TASK_POLICY); anything else fails the job for good. One transaction
records the whole group; the jobs its follow-ups created are enqueued after its commit.
No database transaction is held open while an engine works.
"""

import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypedDict, TypeVar

from celery import Task
from celery.exceptions import Reject
from celery.utils.time import get_exponential_backoff_interval
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from shared.audio.snippets import NewSnippet, store_snippets
from shared.config import get_settings
from shared.db import UNREACHABLE, new_session, session_scope
from shared.errors import BadInput, EngineUnavailable, RetryableEngineError, VoxQueueError
from shared.jobs import state
from shared.jobs.contracts import JobResult
from shared.jobs.lanes import Lane
from shared.jobs.notify import publish_finished
from shared.jobs.queue import commit_and_enqueue
from shared.models import Job
from workers import metrics
from workers.leases import LeaseKeeper

logger = logging.getLogger(__name__)
_settings = get_settings()


class TaskPolicy(TypedDict):
    """The options of `JOB_TASK_POLICY`, typed for `celery_app.task(**JOB_TASK_POLICY)`."""

    bind: Literal[True]
    acks_late: bool
    reject_on_worker_lost: bool
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int


# What every job task declares, besides its name, queue and time limits: acknowledged
# after it ran, given back if its worker dies (safe: a finished job is skipped), and retried
# (by `run_jobs`, which reads these) with capped, jittered exponential backoff only for
# failures that may pass.
JOB_TASK_POLICY: TaskPolicy = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "retry_backoff": 2,
    "retry_backoff_max": _settings.task_retry_backoff_max_s,
    "retry_jitter": True,
    "max_retries": _settings.task_max_retries,
}

I = TypeVar("I", bound=BaseModel)  # noqa: E741  (a job kind's input model)


@dataclass(frozen=True)
class Work(Generic[I]):
    """One started job and its validated input."""

    job: Job
    input: I


@dataclass(frozen=True)
class Enqueue:
    """Jobs a follow-up created, for the runner to enqueue once they are committed."""

    task_name: str
    lane: Lane
    job_ids: list[str]


class FollowUp(Protocol):
    """What goes with recording one job's result, for a kind that needs more than the result
    stored (a spoken reply: workers/llm/spoken_reply.py). The runner calls `record` inside the
    transaction that records the job's group, instead of storing the result itself, and
    enqueues the jobs it names after that transaction commits; it knows nothing else of it."""

    def record(self, session: Session, job: Job, result: JobResult) -> Enqueue | None:
        """Record `result` as `job`'s (fenced by the attempt, with `state.succeed`) and write
        what goes with it in `session`, which the runner commits; the jobs to enqueue then."""
        ...


@dataclass(frozen=True)
class Outcome:
    result: JobResult
    snippet: NewSnippet | None = None  # stored in the transaction that records the result
    follow_up: FollowUp | None = None  # records the result instead of the runner


Outcomes = list[Outcome | VoxQueueError]


def run_jobs(
    task: Task[Any, Any],
    job_ids: Sequence[str],
    input_model: type[I],
    work: Callable[[list[Work[I]]], Outcomes],
) -> None:
    """Run the jobs of one message together: one transaction starts them all under this
    worker's lease, `work` gets those still to do and returns one outcome per job, and one
    transaction records them all (fenced by the attempt: see shared/jobs/state.py).

    An outcome that is a RetryableEngineError sends just that job round again: the task is
    retried with the ids of such jobs only, so what finished is kept. Any other VoxQueueError
    fails its job. An exception out of `work` concerns every job: retryable, the whole
    message is retried (jobs finished meanwhile are skipped then); anything else fails them all.
    The database is tried again for `db_retry_s` when it is unreachable; after that the
    message goes back to the queue, never acknowledged for work that was not recorded.
    """
    worker = task.request.hostname or socket.gethostname()
    group = _with_database(lambda: _start(job_ids, worker), job_ids)
    if not group:
        return
    metrics.started(group)
    logger.info("%s %s: attempt %d", group[0].kind.value, _ids(group), max(job.attempts for job in group))
    _leases.hold(group)
    try:
        valid, invalid = _validated(group, input_model)
        try:
            outcomes = work(valid) if valid else []
        except VoxQueueError as exc:  # about every job of the message (retryable or not)
            outcomes = [exc] * len(valid)
        except Exception as exc:
            logger.exception("jobs %s: unexpected error", _ids(group))
            outcomes = [VoxQueueError(f"internal error: {type(exc).__name__}: {exc}")] * len(valid)
        finished = [(w.job, o) for w, o in zip(valid, outcomes, strict=True)] + invalid
        retry = {job.id: o for job, o in finished if isinstance(o, RetryableEngineError)}
        to_record = [(job, o) for job, o in finished if job.id not in retry]
        _with_database(lambda: _record(to_record), job_ids)
        metrics.ended(finished, retried=retry)
    finally:
        _leases.drop(group)
    if retry:
        _retry(task, group, retry)


_leases = LeaseKeeper(_settings.lease_s)
T = TypeVar("T")


def _start(job_ids: Sequence[str], worker: str) -> list[Job]:
    with session_scope() as session:
        return state.start_many(session, job_ids, worker, _settings.lease_s)


def _with_database(step: Callable[[], T], job_ids: Sequence[str]) -> T:
    """`step`, tried again with backoff while the database is unreachable, for at most
    `db_retry_s`; then the message goes back to the queue (Reject with requeue), so that no
    work is acknowledged that could not be started or recorded."""
    deadline = time.monotonic() + _settings.db_retry_s
    delay = 0.5
    while True:
        try:
            return step()
        except UNREACHABLE as exc:
            if time.monotonic() + delay > deadline:
                logger.error("jobs %s: the database is unreachable; message given back: %s", ", ".join(job_ids), exc)
                raise Reject(f"database unreachable: {exc}", requeue=True) from exc
            logger.warning(
                "jobs %s: the database is unreachable, trying again in %.1fs: %s", ", ".join(job_ids), delay, exc
            )
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def _validated(group: list[Job], input_model: type[I]) -> tuple[list[Work[I]], list[tuple[Job, VoxQueueError]]]:
    """Each job's input as its kind's model; a job whose stored input does not fit fails."""
    valid: list[Work[I]] = []
    invalid: list[tuple[Job, VoxQueueError]] = []
    for job in group:
        try:
            valid.append(Work(job, input_model.model_validate(job.input)))
        except ValidationError as exc:
            invalid.append((job, BadInput(f"job {job.id}: invalid {job.kind.value} input: {exc}")))
    return valid, invalid


def _retry(task: Task[Any, Any], group: list[Job], retry: dict[str, RetryableEngineError]) -> None:
    """Send the jobs in `retry` round again with capped, jittered exponential backoff (as
    the task's declared policy), or fail them once the task has used up its retries."""
    retried = [job for job in group if job.id in retry]
    if task.request.retries >= (task.max_retries or 0):
        errors = [(job, f"gave up after {job.attempts} attempts: {retry[job.id]}") for job in retried]
        _with_database(lambda: _fail(errors), [job.id for job in retried])
        metrics.ran(retried)
        return
    # celery sets the retry_* options as attributes of the task class; celery-types does not declare them.
    countdown = get_exponential_backoff_interval(
        task.retry_backoff,  # type: ignore[attr-defined]
        task.request.retries,
        task.retry_backoff_max,  # type: ignore[attr-defined]
        full_jitter=task.retry_jitter,  # type: ignore[attr-defined]
    )
    # Queued again (no lease) while the retry waits out its backoff; the retry's message
    # takes it then. Were that message lost, the reconciler sends the job again, counting
    # from when it was due.
    _with_database(lambda: _release(retried, countdown), [job.id for job in retried])
    first = next(iter(retry.values()))
    logger.warning("jobs %s: will retry in %ds: %s", ", ".join(retry), countdown, first)
    if len(retry) == len(group):  # the message as it came (a single-job task takes one id, not a list)
        raise task.retry(exc=first, countdown=countdown)
    raise task.retry(args=(list(retry),), exc=first, countdown=countdown)


def _fail(errors: list[tuple[Job, str]]) -> None:
    with session_scope() as session:
        state.fail_many(session, errors)
    publish_finished([job.id for job, _ in errors], [job.batch_id for job, _ in errors])


def _release(held: list[Job], retry_in_s: float) -> None:
    with session_scope() as session:
        state.release(session, held, retry_in_s)


def _record(finished: list[tuple[Job, Outcome | VoxQueueError]]) -> None:
    """One transaction for the whole group; the jobs its follow-ups created are enqueued
    after its commit."""
    errors: list[tuple[Job, str]] = []
    results: list[tuple[Job, JobResult]] = []
    followed: list[Job] = []  # recorded by their outcome's follow-up
    to_enqueue: dict[tuple[str, Lane], list[str]] = {}
    session = new_session()
    try:
        # The group's audio in one statement, before the results that point at it.
        store_snippets(
            session, [o.snippet for _, o in finished if not isinstance(o, VoxQueueError) and o.snippet is not None]
        )
        for job, outcome in finished:
            if isinstance(outcome, VoxQueueError):
                errors.append((job, str(outcome)))
                continue
            if outcome.follow_up is None:
                results.append((job, outcome.result))
                continue
            followed.append(job)
            enqueue = outcome.follow_up.record(session, job, outcome.result)
            if enqueue is not None:
                to_enqueue.setdefault((enqueue.task_name, enqueue.lane), []).extend(enqueue.job_ids)
        recorded = state.succeed_many(session, results) + state.fail_many(session, errors)
        if recorded < len(results) + len(errors):
            # Their leases ran out (this worker was cut off) and the jobs were queued again:
            # the newer attempt's outcome is the one that counts.
            logger.warning(
                "jobs %s: %d outcomes not recorded, the jobs are no longer this attempt's",
                _ids([job for job, _ in [*results, *errors]]),
                len(results) + len(errors) - recorded,
            )
        session.commit()  # before any enqueue: no worker may take a job whose row is not there yet
        _enqueue(session, to_enqueue)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    # Committed: the waiters may read it now.
    done = [job for job, _ in results] + followed + [job for job, _ in errors]
    publish_finished([job.id for job in done], [job.batch_id for job in done])


def _enqueue(session: Session, to_enqueue: dict[tuple[str, Lane], list[str]]) -> None:
    """Enqueue the jobs the follow-ups created (committed by now), each group on its task's
    queue in its lane. A queue that cannot be reached fails them, with the reason
    (`commit_and_enqueue`), and is only logged here: the group is recorded, and the retries
    of its other jobs still go ahead."""
    try:
        for (task_name, lane), job_ids in to_enqueue.items():
            commit_and_enqueue(session, task_name, job_ids, lane)
    except EngineUnavailable as exc:
        created = [job_id for job_ids in to_enqueue.values() for job_id in job_ids]
        logger.error(
            "jobs %s: created with their parents' results, but could not be queued: %s", ", ".join(created), exc
        )


def _ids(group: list[Job]) -> str:
    return ", ".join(job.id for job in group)
