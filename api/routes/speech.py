"""OpenAI-compatible POST /v1/audio/speech, so OpenAI's clients work unchanged.

The API still never speaks itself: the request becomes an ordinary synthesis job (served
from the snippet cache when the line was spoken before), and the handler waits for a
worker to finish it, then answers with the audio bytes as OpenAI does. Errors use the
``{"error": {"type", "message"}}`` shape that OpenAI clients already parse.
"""

import functools
import io
import logging
import struct
from collections.abc import AsyncIterator

import numpy as np
import soundfile as sf
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from api.deps import RATE_LIMIT, BriefTenantDep, FinishedDep
from api.docs import audio_responses
from api.downloads import attachment
from api.schemas import SpeechFormat, SpeechRequest
from api.spoken import audio_when_spoken
from api.waiting import Finished
from shared.audio import telephony
from shared.audio.codec import decode, resample, to_aac
from shared.books.exports import to_bytes
from shared.config import Settings, get_settings
from shared.db import session_scope
from shared.errors import BadInput, EngineUnavailable
from shared.jobs import submit, synthesis
from shared.models import Job, JobStatus
from shared.text.sentences import sentences
from shared.voices.resolve import OPENAI_VOICES, resolve_voice

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/audio", tags=["openai"], dependencies=[RATE_LIMIT])

MEDIA_TYPES: dict[SpeechFormat, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
    **telephony.MEDIA_TYPES,  # type: ignore[dict-item]  # its keys are TelephonyFormat's
}
_PCM_RATE = 24_000  # OpenAI's pcm: raw 24 kHz 16-bit signed little-endian mono
_OPUS_RATE = 48_000  # Opus runs at 48 kHz


@router.post("/speech", response_class=Response, responses=audio_responses(MEDIA_TYPES.values()))
async def speech(body: SpeechRequest, tenant: BriefTenantDep, finished: FinishedDep) -> Response:
    """Speak `input` and answer with the audio itself, as OpenAI's speech endpoint does."""
    fmt = body.response_format
    if body.stream_format == "audio":
        return await _streamed(body, tenant, finished)

    def submit_line() -> str:
        line = submit.ScriptLine(1, synthesis.cleaned(body.input, "input"))
        with session_scope() as session:
            voice = openai_voice(session, tenant, body.voice, get_settings())
            new_jobs = synthesis.synthesis_jobs(session, tenant, [line], voice, body.speed)
            return submit.submit(session, tenant, new_jobs).job_ids[0]

    job_id = await run_in_threadpool(submit_line)
    timeout_s = get_settings().speech_wait_s
    flac = await finished.wait(job_id, timeout_s, functools.partial(audio_when_spoken, tenant, job_id))
    if flac is None:
        raise await run_in_threadpool(_not_spoken_in_time, job_id, timeout_s)
    return Response(
        await run_in_threadpool(_encode, flac, fmt),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": attachment(f"speech.{fmt}")},
    )


async def _streamed(body: SpeechRequest, tenant: str, finished: Finished) -> StreamingResponse:
    """Each sentence is a job in the live lane; its audio is sent as soon as it exists, in
    order: 24 kHz 16-bit mono, as raw PCM (`pcm`) or in a WAV whose length is left open.
    A client that goes away cancels nothing: the lines are still spoken and cached."""
    if body.response_format not in ("wav", "pcm"):
        raise BadInput(f"stream_format 'audio' streams wav or pcm, not {body.response_format!r}")
    settings = get_settings()

    def submit_sentences() -> list[str]:
        text = synthesis.cleaned(body.input, "input")
        lines = [submit.ScriptLine(n, s) for n, s in enumerate(sentences(text, settings.max_chunk_chars), 1)]
        with session_scope() as session:
            new_jobs = synthesis.synthesis_jobs(session, tenant, lines, body.voice, body.speed)
            return submit.submit(session, tenant, new_jobs).job_ids

    job_ids = await run_in_threadpool(submit_sentences)
    pause = np.zeros(_PCM_RATE * settings.pause_between_chunks_ms // 1000, dtype="<i2").tobytes()

    async def audio() -> AsyncIterator[bytes]:
        if body.response_format == "wav":
            yield _open_wav_header(_PCM_RATE)
        for number, job_id in enumerate(job_ids):
            flac = await finished.wait(
                job_id, settings.speech_wait_s, functools.partial(audio_when_spoken, tenant, job_id)
            )
            if flac is None:
                logger.warning("job %s: not spoken within %gs; the stream ends here", job_id, settings.speech_wait_s)
                return
            if number:
                yield pause
            yield await run_in_threadpool(_encode, flac, "pcm")

    headers = {"X-VoxQueue-Job-Ids": ",".join(job_ids)}
    return StreamingResponse(audio(), media_type=MEDIA_TYPES[body.response_format], headers=headers)


def _open_wav_header(rate: int) -> bytes:
    """A 16-bit mono WAV header whose sizes say "unknown" (0xFFFFFFFF), for a stream."""
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


# What a 503 asks the client to wait: a job no worker has taken yet waits for a pool that may be
# starting from zero (a GPU host and its model: minutes); one being spoken, for a busy worker.
_POOL_STARTING_RETRY_S = 60
_BUSY_RETRY_S = 10


def _not_spoken_in_time(job_id: str, timeout_s: float) -> EngineUnavailable:
    """The 503 of a line not spoken within `timeout_s`. The job goes on: its audio will be at
    /v1/jobs/{id}/audio, and the same request sent again then is answered from the cache."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        taken = job is not None and job.status != JobStatus.queued
    if taken:
        return EngineUnavailable(
            f"job {job_id} is being spoken but did not finish within {timeout_s:g}s; its audio will be at "
            f"/v1/jobs/{job_id}/audio, and this request sent again then is answered from the cache",
            _BUSY_RETRY_S,
        )
    return EngineUnavailable(
        f"no TTS worker took job {job_id} within {timeout_s:g}s (a pool scaled to zero may still be starting); "
        f"it stays queued: its audio will be at /v1/jobs/{job_id}/audio, and this request sent again then is "
        "answered from the cache",
        _POOL_STARTING_RETRY_S,
    )


def openai_voice(session: Session, tenant: str, name: str, settings: Settings) -> str | None:
    """The voice to speak in: the tenant's or a built-in one of that name, else, for one of
    OpenAI's names, the deployment's voice for it (an OpenAI client's example runs unchanged)."""
    if name.lower() not in OPENAI_VOICES:
        return name
    try:
        resolve_voice(session, tenant, name, settings.tts_engine)
        return name
    except BadInput:
        return settings.openai_voices.get(name.lower()) or settings.openai_voice


def _encode(flac: bytes, fmt: str) -> bytes:
    if fmt in ("mp3", "flac", "wav") or fmt in telephony.FORMATS:
        return to_bytes(flac, fmt)
    if fmt == "aac":
        return to_aac(flac)
    if fmt == "pcm":
        audio = resample(decode(flac), _PCM_RATE)
        return (np.clip(audio.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    audio = resample(decode(flac), _OPUS_RATE)
    buf = io.BytesIO()
    sf.write(buf, audio.samples, _OPUS_RATE, format="OGG", subtype="OPUS")
    return buf.getvalue()
