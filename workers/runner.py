"""Running jobs inside a Celery task: start, call, record, retry.

A task body is `run_jobs(self, job_ids, InputModel, work)`. The runner starts the jobs in
one transaction, validates each job's stored input against its kind's model (a job whose
input does not fit fails, the others go on), and hands `work` the typed inputs. `work`
returns one outcome per job: an `Outcome` (a typed result, optionally a snippet to store
and a reply to speak) or a VoxQueueError. Engine failures that may pass are
RetryableEngineError (the job is retried with backoff, see JOB_TASK_POLICY); anything else
fails the job for good. One transaction records the whole group; jobs that it created are
enqueued after its commit. No database transaction is held open while an engine works.
"""

import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypedDict, TypeVar

from celery import Task
from celery.exceptions import Reject
from celery.utils.time import get_exponential_backoff_interval
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from shared.audio.snippets import NewSnippet, store_snippet
from shared.config import get_settings
from shared.db import UNREACHABLE, new_session, session_scope
from shared.errors import BadInput, EngineUnavailable, RetryableEngineError, VoxQueueError
from shared.jobs import state
from shared.jobs.contracts import GenerationResult, JobResult, ScriptLine, SpeakOptions
from shared.jobs.lanes import SYNTHESIZE_TASK, Lane
from shared.jobs.notify import publish_finished
from shared.jobs.submit import commit_and_enqueue, synthesis_jobs
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
class SpeakReply:
    """A generated reply to be spoken: the runner creates its synthesis job (a child, linked by
    `parent_id`) in the transaction that records the reply, and enqueues it after the commit."""

    text: str
    options: SpeakOptions


@dataclass(frozen=True)
class Outcome:
    result: JobResult
    snippet: NewSnippet | None = None  # stored in the transaction that records the result
    speak: SpeakReply | None = None


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
    # Queued again (no lease) while the retry waits out its backoff; the retry's message
    # takes it then. Were that message lost, the reconciler sends the job again.
    _with_database(lambda: _release(retried), [job.id for job in retried])
    first = next(iter(retry.values()))
    logger.warning("jobs %s: will retry: %s", ", ".join(retry), first)
    # celery sets the retry_* options as attributes of the task class; celery-types does not declare them.
    countdown = get_exponential_backoff_interval(
        task.retry_backoff,  # type: ignore[attr-defined]
        task.request.retries,
        task.retry_backoff_max,  # type: ignore[attr-defined]
        full_jitter=task.retry_jitter,  # type: ignore[attr-defined]
    )
    if len(retry) == len(group):  # the message as it came (a single-job task takes one id, not a list)
        raise task.retry(exc=first, countdown=countdown)
    raise task.retry(args=(list(retry),), exc=first, countdown=countdown)


def _fail(errors: list[tuple[Job, str]]) -> None:
    with session_scope() as session:
        state.fail_many(session, errors)
    publish_finished([job.id for job, _ in errors], [job.batch_id for job, _ in errors])


def _release(held: list[Job]) -> None:
    with session_scope() as session:
        state.release(session, held)


def _record(finished: list[tuple[Job, Outcome | VoxQueueError]]) -> None:
    """One transaction for the whole group; the synthesis jobs of spoken replies are
    enqueued after its commit."""
    errors: list[tuple[Job, str]] = []
    results: list[tuple[Job, JobResult]] = []
    children: dict[Lane, list[str]] = {"live": [], "bulk": []}  # a reply's speech goes where its request came
    session = new_session()
    try:
        for job, outcome in finished:
            if isinstance(outcome, VoxQueueError):
                errors.append((job, str(outcome)))
                continue
            if outcome.snippet is not None:
                store_snippet(session, outcome.snippet)
            if outcome.speak is None:
                results.append((job, outcome.result))
            else:
                lane: Lane = "live" if job.batch_id is None else "bulk"
                children[lane].extend(_record_spoken_reply(session, job, outcome.result, outcome.speak))
        recorded = state.succeed_many(session, results) + state.fail_many(session, errors)
        if recorded < len(results) + len(errors):
            # Their leases ran out (this worker was cut off) and the jobs were queued again:
            # the newer attempt's outcome is the one that counts.
            logger.warning(
                "jobs %s: %d outcomes not recorded, the jobs are no longer this attempt's",
                _ids([job for job, _ in [*results, *errors]]),
                len(results) + len(errors) - recorded,
            )
        try:
            for lane, ids in children.items():
                commit_and_enqueue(session, SYNTHESIZE_TASK, ids, lane)
        except EngineUnavailable as exc:
            # Recorded and committed; only the children could not be queued, and they are
            # failed with the reason. The retries of the group's other jobs still go ahead.
            logger.error(
                "jobs %s: recorded, but their speech jobs could not be queued: %s",
                ", ".join(children["live"] + children["bulk"]),
                exc,
            )
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    # Committed: the waiters may read it now.
    done = [job for job, _ in results] + [job for job, _ in errors]
    publish_finished([job.id for job in done], [job.batch_id for job in done])


def _record_spoken_reply(session: Session, job: Job, result: JobResult, speak: SpeakReply) -> list[str]:
    """Record a reply with the id of the synthesis job that speaks it (or why there is none),
    and create that job only if this delivery is the one that finished the reply; returns
    the child's id if it is to be enqueued."""
    assert isinstance(result, GenerationResult), "only a generated reply is spoken"
    options = speak.options
    try:
        child = synthesis_jobs(
            session, job.tenant_id, [ScriptLine(1, speak.text)], options.voice, options.speed, options.format
        )
    except VoxQueueError as exc:
        logger.warning("job %s: could not start speaking the reply: %s", job.id, exc)
        state.succeed(session, job, result.model_copy(update={"speech_error": str(exc)}))
        return []
    if not state.succeed(session, job, result.model_copy(update={"speech_job_id": child[0].id})):
        return []  # this attempt no longer holds the job: whichever finished it created the child
    logger.info("job %s: reply goes to synthesis job %s", job.id, child[0].id)
    return state.insert_jobs(session, job.tenant_id, child, parent_id=job.id)


def _ids(group: list[Job]) -> str:
    return ", ".join(job.id for job in group)
