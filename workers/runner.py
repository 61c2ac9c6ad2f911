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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypedDict, TypeVar

from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from shared import jobs
from shared.config import get_settings
from shared.db import new_session, session_scope
from shared.errors import BadInput, EngineUnavailable, RetryableEngineError, VoxQueueError
from shared.models import Job
from shared.queue import SYNTHESIZE_TASK
from shared.schemas import GenerationResult, JobResult, SpeakOptions
from shared.snippets import NewSnippet, store_snippet
from shared.submit import ScriptLine, commit_and_enqueue, synthesis_jobs

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
    """Run the jobs of one message together: one transaction starts them all, `work` gets
    those still to do and returns one outcome per job, and one transaction records them all.

    An outcome that is a RetryableEngineError sends just that job round again: the task is
    retried with the ids of such jobs only, so what finished is kept. Any other VoxQueueError
    fails its job. An exception out of `work` concerns every job: retryable, the whole
    message is retried (jobs finished meanwhile are skipped then); anything else fails them all.
    """
    with session_scope() as session:
        group = jobs.start_many(session, job_ids)
    if not group:
        return
    logger.info("%s %s: attempt %d", group[0].kind.value, _ids(group), max(job.attempts for job in group))
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
    _record([(job, o) for job, o in finished if job.id not in retry])
    if retry:
        _retry(task, group, retry)


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
    if task.request.retries >= (task.max_retries or 0):
        attempts = {job.id: job.attempts for job in group}
        with session_scope() as session:
            jobs.fail_many(
                session, {job_id: f"gave up after {attempts[job_id]} attempts: {exc}" for job_id, exc in retry.items()}
            )
        return
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


def _record(finished: list[tuple[Job, Outcome | VoxQueueError]]) -> None:
    """One transaction for the whole group; the synthesis jobs of spoken replies are
    enqueued after its commit."""
    errors: dict[str, str] = {}
    results: dict[str, JobResult] = {}
    children: list[str] = []
    session = new_session()
    try:
        for job, outcome in finished:
            if isinstance(outcome, VoxQueueError):
                errors[job.id] = str(outcome)
                continue
            if outcome.snippet is not None:
                store_snippet(session, outcome.snippet)
            if outcome.speak is None:
                results[job.id] = outcome.result
            else:
                children.extend(_record_spoken_reply(session, job, outcome.result, outcome.speak))
        jobs.succeed_many(session, results)
        jobs.fail_many(session, errors)
        try:
            commit_and_enqueue(session, SYNTHESIZE_TASK, children)
        except EngineUnavailable as exc:
            # Recorded and committed; only the children could not be queued, and they are
            # failed with the reason. The retries of the group's other jobs still go ahead.
            logger.error("jobs %s: recorded, but their speech jobs could not be queued: %s", ", ".join(results), exc)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
        jobs.succeed(session, job.id, result.model_copy(update={"speech_error": str(exc)}))
        return []
    if not jobs.succeed(session, job.id, result.model_copy(update={"speech_job_id": child[0].id})):
        return []  # a duplicate delivery: the first one created the child
    logger.info("job %s: reply goes to synthesis job %s", job.id, child[0].id)
    return jobs.insert_jobs(session, job.tenant_id, child, parent_id=job.id)


def _ids(group: list[Job]) -> str:
    return ", ".join(job.id for job in group)
