"""TTS pool tasks (queue `tts`)."""

import logging
from typing import Any

from celery import Task

from shared import metrics
from shared.audio.codec import encode
from shared.audio.snippets import NewSnippet, cached_durations
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import VoxQueueError
from shared.jobs.contracts import SynthesisInput, SynthesisResult, engine_text
from shared.jobs.lanes import SYNTHESIZE_TASK
from shared.voices.resolve import VoiceSpec, resolve_voice
from workers.app import celery_app
from workers.runner import JOB_TASK_POLICY, Outcome, Outcomes, Work, run_jobs
from workers.tts.engines import get_engine
from workers.tts.engines.base import TTSEngine
from workers.tts.speak import speak

logger = logging.getLogger(__name__)
settings = get_settings()


# Its queue: shared.jobs.lanes.QUEUE_FOR_TASK, as task_routes (Celery deprecates `queue=` on a task).
@celery_app.task(name=SYNTHESIZE_TASK, soft_time_limit=900, time_limit=960, **JOB_TASK_POLICY)
def synthesize(self: Task[Any, Any], job_ids: str | list[str]) -> None:
    """One job id, or a group of them (VOXQ_TTS_GROUP_SIZE above 1)."""
    run_jobs(self, [job_ids] if isinstance(job_ids, str) else job_ids, SynthesisInput, synthesize_jobs)


def synthesize_jobs(group: list[Work[SynthesisInput]]) -> Outcomes:
    """The lines one after another, as the engine serves them; each ends on its own, so a
    line the engine refuses, or that must be tried again, concerns that line alone.

    One look-up for the whole group first (no transaction is held while the engine works):
    lines spoken meanwhile (the same line twice in a chapter) and each voice, once."""
    engine = get_engine()
    ready: list[Outcome | VoxQueueError | VoiceSpec] = []
    with session_scope() as session:
        cached: dict[tuple[str, str], float] = {}
        for tenant in {work.job.tenant_id for work in group}:
            keys = [work.job.snippet_key or "" for work in group if work.job.tenant_id == tenant]
            cached.update(((tenant, key), s) for key, s in cached_durations(session, tenant, keys).items())
        voices: dict[tuple[str, str | None, float], VoiceSpec] = {}
        for work in group:
            job, spec = work.job, work.input
            if (duration := cached.get((job.tenant_id, job.snippet_key or ""))) is not None:
                ready.append(Outcome(SynthesisResult(duration_s=duration, cached=True, spoken_text=engine_text(spec))))
                continue
            which = (job.tenant_id, spec.voice, spec.speed)
            try:
                if which not in voices:
                    voices[which] = resolve_voice(session, job.tenant_id, spec.voice, engine.name, spec.speed)
                ready.append(voices[which])
            except VoxQueueError as exc:
                ready.append(exc)
    hits = sum(1 for step in ready if isinstance(step, Outcome))
    metrics.Recording().count(metrics.CACHE_HITS, by=hits).count(metrics.CACHE_MISSES, by=len(group) - hits).send()
    outcomes: Outcomes = []
    for work, step in zip(group, ready, strict=True):
        try:
            outcomes.append(synthesize_job(work, step, engine) if isinstance(step, VoiceSpec) else step)
        except VoxQueueError as exc:
            outcomes.append(exc)
    return outcomes


def synthesize_job(work: Work[SynthesisInput], voice: VoiceSpec, engine: TTSEngine) -> Outcome:
    """Speak the job's text into the snippet cache under the key chosen at submission."""
    job, spec = work.job, work.input
    assert job.snippet_key is not None, "synthesis jobs get their snippet key at submission"
    text = engine_text(spec)
    audio = speak(engine, text, voice, settings.max_chunk_chars, settings.pause_between_chunks_ms)
    logger.info("job %s: spoke %d chars, %.2fs of audio", job.id, len(text), audio.duration_s)
    snippet = NewSnippet(
        tenant_id=job.tenant_id,
        key=job.snippet_key,
        text=text,
        voice=spec.voice or voice.name,
        engine=engine.name,
        audio=encode(audio),
        sample_rate=audio.sample_rate,
        duration_s=audio.duration_s,
    )
    return Outcome(SynthesisResult(duration_s=audio.duration_s, cached=False, spoken_text=text), snippet=snippet)
