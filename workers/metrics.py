"""What the worker runner records for /metrics (shared/metrics.py): how long jobs waited and
ran, and what failed inside the engines. Each call is one Redis round trip for a whole group
of jobs, and never raises into the job's code."""

from collections.abc import Collection, Sequence

from shared import metrics
from shared.config import get_settings
from shared.errors import EngineError, RetryableEngineError
from shared.models import Job, JobKind, utcnow


def engine_of(kind: JobKind) -> str:
    """The engine a job of `kind` runs on, as its errors are labelled: the TTS pool's
    configured engine, ffmpeg for a book's assembly, or vLLM for the LLM pool's kinds."""
    if kind == JobKind.book:
        return "ffmpeg"
    return get_settings().tts_engine if kind == JobKind.synthesis else "vllm"


def started(group: Sequence[Job]) -> None:
    """Record how long the jobs started for the first time waited in the queue. A later
    attempt waited for a retry's backoff or for a lost worker's lease, not for a worker."""
    recording = metrics.Recording()
    for job in group:
        if job.attempts == 1 and job.started_at is not None:
            waited = job.started_at.timestamp() - job.created_at.timestamp()
            recording.observe(metrics.WAIT_SECONDS, (job.kind.value,), max(waited, 0.0))
    recording.send()


def ended(outcomes: Sequence[tuple[Job, object]], retried: Collection[str] = ()) -> None:
    """Record the engine failures among `outcomes` (a retryable one too), and the running
    time of each job that finished: every one not in `retried`, which goes round again."""
    recording = metrics.Recording()
    for job, outcome in outcomes:
        if isinstance(outcome, EngineError):
            error = "retryable" if isinstance(outcome, RetryableEngineError) else "permanent"
            recording.count(metrics.ENGINE_ERRORS, (engine_of(job.kind), job.kind.value, error))
    _ran(recording, [job for job, _ in outcomes if job.id not in retried])
    recording.send()


def ran(finished: Sequence[Job]) -> None:
    """Record the running time of jobs that finished now (failed after their last retry)."""
    recording = metrics.Recording()
    _ran(recording, finished)
    recording.send()


def _ran(recording: metrics.Recording, finished: Sequence[Job]) -> None:
    now = utcnow().timestamp()
    for job in finished:
        if job.started_at is not None:
            recording.observe(metrics.RUN_SECONDS, (job.kind.value,), max(now - job.started_at.timestamp(), 0.0))
