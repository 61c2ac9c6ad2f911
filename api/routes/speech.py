"""OpenAI-compatible POST /v1/audio/speech, so OpenAI's clients work unchanged.

The API still never speaks itself: the request becomes an ordinary synthesis job (served
from the snippet cache when the line was spoken before), and the handler waits for a
worker to finish it, then answers with the audio bytes as OpenAI does. Errors use the
``{"error": {"type", "message"}}`` shape that OpenAI clients already parse.
"""

import io
import logging
import time

import numpy as np
import soundfile as sf
from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import SessionDep, TenantDep
from api.exports import to_bytes
from shared import submit
from shared.audio import decode, resample
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import EngineUnavailable, NotReady, PermanentEngineError
from shared.models import Job, JobStatus
from shared.schemas import SpeechFormat, SpeechRequest
from shared.snippets import get_snippet

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/audio", tags=["openai"])

MEDIA_TYPES: dict[SpeechFormat, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_PCM_RATE = 24_000  # OpenAI's pcm: raw 24 kHz 16-bit signed little-endian mono
_OPUS_RATE = 48_000  # Opus runs at 48 kHz


@router.post("/speech", response_class=Response)
def speech(body: SpeechRequest, session: SessionDep, tenant: TenantDep) -> Response:
    """Speak `input` and answer with the audio itself, as OpenAI's speech endpoint does."""
    fmt = body.response_format
    line = submit.ScriptLine(1, submit.cleaned(body.input, "input"))
    submitted = submit.submit(session, tenant, submit.synthesis_jobs(session, tenant, [line], body.voice, body.speed))
    flac = _wait_for_audio(tenant, submitted.job_ids[0], get_settings().speech_wait_s)
    return Response(_encode(flac, fmt), media_type=MEDIA_TYPES[fmt])


def _wait_for_audio(tenant_id: str, job_id: str, timeout_s: float) -> bytes:
    """The job's stored audio once a worker has finished it (polls the database)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        with session_scope() as session:
            job = session.get_one(Job, job_id)
            if job.status == JobStatus.succeeded and job.snippet_key:
                snippet = get_snippet(session, tenant_id, job.snippet_key)
                if snippet is None:
                    raise NotReady(f"the audio of job {job_id} is no longer stored")
                return snippet.audio
            if job.status == JobStatus.failed:
                raise PermanentEngineError(f"synthesis job {job_id} failed: {job.error}")
        if time.monotonic() > deadline:
            # The job goes on; its audio can still be fetched from /v1/jobs/{id}/audio.
            raise EngineUnavailable(f"no TTS worker finished job {job_id} within {timeout_s:g}s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _encode(flac: bytes, fmt: str) -> bytes:
    if fmt in ("mp3", "flac", "wav"):
        return to_bytes(flac, fmt)
    if fmt == "pcm":
        audio = resample(decode(flac), _PCM_RATE)
        return (np.clip(audio.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    audio = resample(decode(flac), _OPUS_RATE)
    buf = io.BytesIO()
    sf.write(buf, audio.samples, _OPUS_RATE, format="OGG", subtype="OPUS")
    return buf.getvalue()
