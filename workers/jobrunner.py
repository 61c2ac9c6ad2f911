"""Running jobs inside a Celery task: state transitions and the two failure outcomes.

A task body is `run_job(self, job_id, work)`, or `run_jobs(self, job_ids, work)` for a
task whose message carries several jobs (the LLM pool's groups). `work` returns the
results; engine failures come out of it as RetryableEngineError (the task is retried with
backoff, see each task's declaration) or anything else (the job fails for good). No
database transaction is held open while an engine works.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.orm import Session

from shared import jobs
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import RetryableEngineError, VoxQueueError
from shared.models import Job

logger = logging.getLogger(__name__)
_settings = get_settings()

# What every job task declares, besides its name, queue and time limits: acknowledged
# after it ran, given back if its worker dies (safe: a finished job is skipped), and retried
# (by `run_jobs`, which reads these) with capped, jittered exponential backoff only for
# failures that may pass.
JOB_TASK_POLICY: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "retry_backoff": 2,
    "retry_backoff_max": _settings.task_retry_backoff_max_s,
    "retry_jitter": True,
    "max_retries": _settings.task_max_retries,
}


@dataclass
class Outcome:
    result: dict[str, Any]
    snippet_key: str | None = None
    # Rows to write in the same transaction that records the success (e.g. the snippet).
    record: Callable[[Session], None] | None = None
    # Follow-up work to start once this job is recorded (e.g. the synthesis of a generated
    # reply): called after the commit, so the next job never sees this one unfinished.
    then: list[Callable[[], None]] = field(default_factory=list)


def run_job(task: Task, job_id: str, work: Callable[[Job], Outcome]) -> None:
    """Run one job; see ``run_jobs``."""
    run_jobs(task, [job_id], lambda group: [work(group[0])])


def run_jobs(task: Task, job_ids: Sequence[str], work: Callable[[list[Job]], list[Outcome | VoxQueueError]]) -> None:
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
    try:
        outcomes = work(group)
    except RetryableEngineError as exc:
        outcomes = [exc] * len(group)
    except VoxQueueError as exc:
        _fail_all({job.id: str(exc) for job in group})
        return
    except Exception as exc:
        logger.exception("jobs %s: unexpected error", _ids(group))
        _fail_all({job.id: f"internal error: {type(exc).__name__}: {exc}" for job in group})
        return
    retry = {job.id: o for job, o in zip(group, outcomes, strict=True) if isinstance(o, RetryableEngineError)}
    _record([(job, o) for job, o in zip(group, outcomes, strict=True) if job.id not in retry])
    if retry:
        _retry(task, group, retry)


def _retry(task: Task, group: list[Job], retry: dict[str, RetryableEngineError]) -> None:
    """Send the jobs in `retry` round again with capped, jittered exponential backoff (as
    the task's declared policy), or fail them once the task has used up its retries."""
    if task.request.retries >= task.max_retries:
        attempts = {job.id: job.attempts for job in group}
        _fail_all({job_id: f"gave up after {attempts[job_id]} attempts: {exc}" for job_id, exc in retry.items()})
        return
    first = next(iter(retry.values()))
    logger.warning("jobs %s: will retry: %s", ", ".join(retry), first)
    countdown = get_exponential_backoff_interval(
        task.retry_backoff, task.request.retries, task.retry_backoff_max, full_jitter=task.retry_jitter
    )
    if len(retry) == len(group):  # the message as it came (a single-job task takes one id, not a list)
        raise task.retry(exc=first, countdown=countdown)
    raise task.retry(args=[list(retry)], exc=first, countdown=countdown)


def _record(finished: list[tuple[Job, Outcome | VoxQueueError]]) -> None:
    """One transaction for the whole group. An outcome with follow-ups is recorded on its
    own, to start them only if this delivery is the one that finished the job."""
    errors: dict[str, str] = {}
    results: list[tuple[str, dict[str, Any], str | None]] = []
    follow_ups: list[Callable[[], None]] = []
    with session_scope() as session:
        for job, outcome in finished:
            if isinstance(outcome, VoxQueueError):
                errors[job.id] = str(outcome)
                continue
            if outcome.record is not None:
                outcome.record(session)
            if not outcome.then:
                results.append((job.id, outcome.result, outcome.snippet_key))
            elif jobs.succeed(session, job.id, outcome.result, outcome.snippet_key):
                follow_ups.extend(outcome.then)
        jobs.succeed_many(session, results)
        jobs.fail_many(session, errors)
    for follow_up in follow_ups:
        follow_up()


def _fail_all(errors: dict[str, str]) -> None:
    with session_scope() as session:
        jobs.fail_many(session, errors)


def _ids(group: list[Job]) -> str:
    return ", ".join(job.id for job in group)
