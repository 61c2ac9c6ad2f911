"""TTS pool tasks (queue `tts`)."""

import logging
from typing import Any

from celery import Task

from shared.audio import encode
from shared.config import get_settings
from shared.db import session_scope
from shared.queue import SYNTHESIZE_TASK
from shared.schemas import SynthesisInput, SynthesisResult
from shared.snippets import NewSnippet, get_snippet
from shared.voices import resolve_voice
from workers.app import celery_app
from workers.runner import JOB_TASK_POLICY, Outcome, Outcomes, Work, run_jobs
from workers.tts.engines import get_engine
from workers.tts.speak import speak

logger = logging.getLogger(__name__)
settings = get_settings()


# Its queue: shared.queue.QUEUE_FOR_TASK, as task_routes (Celery deprecates `queue=` on a task).
@celery_app.task(name=SYNTHESIZE_TASK, soft_time_limit=900, time_limit=960, **JOB_TASK_POLICY)
def synthesize(self: Task[Any, Any], job_id: str) -> None:
    run_jobs(self, [job_id], SynthesisInput, synthesize_jobs)


def synthesize_jobs(group: list[Work[SynthesisInput]]) -> Outcomes:
    """A synthesis message carries one job (see shared/queue.py)."""
    return [synthesize_job(work) for work in group]


def synthesize_job(work: Work[SynthesisInput]) -> Outcome:
    """Speak the job's text into the snippet cache under the key chosen at submission."""
    job, spec = work.job, work.input
    engine = get_engine()
    key = job.snippet_key
    assert key is not None, "synthesis jobs get their snippet key at submission"
    with session_scope() as session:
        if (cached := get_snippet(session, job.tenant_id, key)) is not None:
            return Outcome(SynthesisResult(duration_s=cached.duration_s, cached=True))
        voice = resolve_voice(session, job.tenant_id, spec.voice, engine.name, spec.speed)
    audio = speak(engine, spec.text, voice, settings.max_chunk_chars, settings.pause_between_chunks_ms)
    logger.info("job %s: spoke %d chars, %.2fs of audio", job.id, len(spec.text), audio.duration_s)
    snippet = NewSnippet(
        tenant_id=job.tenant_id,
        key=key,
        text=spec.text,
        voice=spec.voice or voice.name,
        engine=engine.name,
        audio=encode(audio),
        sample_rate=audio.sample_rate,
        duration_s=audio.duration_s,
    )
    return Outcome(SynthesisResult(duration_s=audio.duration_s, cached=False), snippet=snippet)
