"""Running one job inside a Celery task: state transitions and the two failure outcomes.

Every task body is `run_job(self, job_id, work)`. `work` gets the job and returns its
result; engine failures come out of it as RetryableEngineError (Celery retries the task
with backoff, see each task's declaration) or anything else (the job fails for good).
No database transaction is held open while an engine works.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import Task
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
# with capped, jittered exponential backoff only for failures that may pass.
JOB_TASK_POLICY: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (RetryableEngineError,),
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
    with session_scope() as session:
        job = jobs.start(session, job_id)
    if job is None:
        return
    logger.info("job %s: %s attempt %d", job_id, job.kind.value, job.attempts)
    try:
        outcome = work(job)
    except RetryableEngineError as exc:
        if task.request.retries >= task.max_retries:
            with session_scope() as session:
                jobs.fail(session, job_id, f"gave up after {job.attempts} attempts: {exc}")
            return
        logger.warning("job %s: will retry: %s", job_id, exc)
        raise
    except VoxQueueError as exc:
        with session_scope() as session:
            jobs.fail(session, job_id, str(exc))
        return
    except Exception as exc:
        logger.exception("job %s: unexpected error", job_id)
        with session_scope() as session:
            jobs.fail(session, job_id, f"internal error: {type(exc).__name__}: {exc}")
        return
    with session_scope() as session:
        if outcome.record is not None:
            outcome.record(session)
        recorded = jobs.succeed(session, job_id, outcome.result, outcome.snippet_key)
    if recorded:
        for follow_up in outcome.then:
            follow_up()
