"""TTS pool tasks (queue `tts`)."""

import logging

from shared.audio import encode
from shared.config import get_settings
from shared.db import session_scope
from shared.models import Job
from shared.snippets import get_snippet, store_snippet
from shared.voices import resolve_voice
from workers.app import celery_app
from workers.jobrunner import JOB_TASK_POLICY, Outcome, run_job
from workers.tts.engines import get_engine
from workers.tts.speak import speak

logger = logging.getLogger(__name__)
settings = get_settings()


@celery_app.task(name="voxq.tts.synthesize", queue="tts", soft_time_limit=900, time_limit=960, **JOB_TASK_POLICY)
def synthesize(self, job_id: str) -> None:  # type: ignore[no-untyped-def]
    run_job(self, job_id, synthesize_job)


def synthesize_job(job: Job) -> Outcome:
    """Speak the job's text into the snippet cache under the key chosen at submission."""
    engine = get_engine()
    key = job.snippet_key
    assert key is not None, "synthesis jobs get their snippet key at submission"
    text, voice_name = job.input["text"], job.input.get("voice")
    with session_scope() as session:
        if (snippet := get_snippet(session, job.tenant_id, key)) is not None:
            return Outcome({"duration_s": snippet.duration_s, "cached": True}, key)
        voice = resolve_voice(session, job.tenant_id, voice_name, engine.name, job.input.get("speed", 1.0))
    audio = speak(engine, text, voice, settings.max_chunk_chars, settings.pause_between_chunks_ms)
    snippet = {
        "tenant_id": job.tenant_id,
        "key": key,
        "text": text,
        "voice": voice_name or voice.name,
        "engine": engine.name,
        "audio": encode(audio),
        "sample_rate": audio.sample_rate,
        "duration_s": audio.duration_s,
    }
    logger.info("job %s: spoke %d chars, %.2fs of audio", job.id, len(text), audio.duration_s)
    return Outcome(
        {"duration_s": round(audio.duration_s, 3), "cached": False},
        key,
        record=lambda session: store_snippet(session, **snippet),
    )
