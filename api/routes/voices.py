"""The voice library: POST/GET/DELETE /v1/voices. Reference clips for zero-shot cloning."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.deps import SessionDep, TenantDep, get_owned
from api.docs import audio_responses
from api.downloads import attachment
from api.presenters import voice_out
from api.schemas import VoiceOut
from api.uploads import read_upload
from shared.audio.codec import MEDIA_TYPES, extension
from shared.books.exports import to_bytes
from shared.config import get_settings
from shared.jobs.contracts import AudioFormat
from shared.models import Voice
from shared.voices.library import (
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_P,
    MAX_SEED,
    ClipLimits,
    NewVoice,
    check_room,
    create_voice,
    list_voices,
)

router = APIRouter(prefix="/v1/voices", tags=["voices"])


def clip_limits() -> ClipLimits:
    settings = get_settings()
    return ClipLimits(settings.voice_clip_max_bytes, settings.voice_clip_min_s, settings.voice_clip_max_s)


@router.post("", response_model=VoiceOut, status_code=201)
async def create(
    session: SessionDep,
    tenant: TenantDep,
    audio: Annotated[UploadFile, File(description="Reference clip: 3-90 s of one speaker (WAV, FLAC, OGG, MP3).")],
    transcript: Annotated[str, Form(description="The exact words spoken in the clip.")],
    name: Annotated[str | None, Form(description="Unique per tenant; default: generated.")] = None,
    dialect: Annotated[str | None, Form(description="Variety spoken in the clip, e.g. 四川话.")] = None,
    seed: Annotated[int | None, Form(ge=0, le=MAX_SEED, description="Default: chosen now, then fixed.")] = None,
    temperature: Annotated[
        float | None,
        Form(
            ge=0.1,
            le=1.0,
            description=f"Sampling temperature, fixed for the voice: lower is steadier, higher more varied. "
            f"Default: {DEFAULT_TEMPERATURE:g}.",
        ),
    ] = None,
    top_p: Annotated[
        float | None,
        Form(
            ge=0.1,
            le=1.0,
            description=f"Nucleus sampling cutoff, fixed for the voice: lower keeps to the likeliest sounds. "
            f"Default: {DEFAULT_TOP_P:g}.",
        ),
    ] = None,
) -> VoiceOut:
    """Add a voice to the library: a reference clip and its exact transcript, for cloning."""
    await run_in_threadpool(check_room, session, tenant, get_settings().max_voices_per_tenant)
    limits = clip_limits()
    clip = await read_upload(audio, limits.max_bytes, "reference clip")
    new = NewVoice(clip, transcript, name, dialect, seed, temperature, top_p)
    return voice_out(create_voice(session, tenant, new, limits))


@router.get("", response_model=list[VoiceOut])
def list_(session: SessionDep, tenant: TenantDep) -> list[VoiceOut]:
    """The tenant's library voices."""
    return [voice_out(v) for v in list_voices(session, tenant)]


@router.get("/{voice_id}", response_model=VoiceOut)
def get(voice_id: str, session: SessionDep, tenant: TenantDep) -> VoiceOut:
    """One library voice."""
    return voice_out(get_owned(session, Voice, voice_id, tenant))


@router.get("/{voice_id}/audio", response_class=Response, responses=audio_responses(MEDIA_TYPES.values()))
def audio(
    voice_id: str,
    session: SessionDep,
    tenant: TenantDep,
    format: Annotated[AudioFormat, Query(description="Format of the clip.")] = "flac",
) -> Response:
    """A library voice's reference clip."""
    voice = get_owned(session, Voice, voice_id, tenant)
    return Response(
        to_bytes(voice.reference_audio, format),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": attachment(f"{voice.name}.{extension(format)}")},
    )


@router.delete("/{voice_id}", status_code=204)
def delete(voice_id: str, session: SessionDep, tenant: TenantDep) -> Response:
    """Remove a voice from the library (audio already made with it stays cached)."""
    session.delete(get_owned(session, Voice, voice_id, tenant))
    return Response(status_code=204)
