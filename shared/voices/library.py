"""The voice library: reference clips for zero-shot cloning, checked before anything is stored.

A voice is a clip, its exact transcript and *fixed* sampling parameters. The seed is
chosen once, at creation, when the caller gives none: with the same seed, temperature and
top_p a cloning engine says the same line the same way every time, so a chapter keeps one
timbre and a re-run reproduces it (and its snippet cache key stays valid).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from shared.audio.codec import Audio, decode, encode
from shared.dialect.labels import LABELS
from shared.errors import AtCapacity, BadInput, TooLarge
from shared.models import Voice
from shared.text.normalize import normalize_zh
from shared.text.sentences import clean
from shared.voices.resolve import BUILTIN_VOICES

logger = logging.getLogger(__name__)

# Fish Speech's server defaults; stored explicitly so a changed server default cannot
# change a voice.
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.8
SAMPLING_RANGE = (0.1, 1.0)  # what Fish Speech enforces for temperature and top_p
MAX_SEED = 2**31 - 1
MAX_TRANSCRIPT_CHARS = 2_000  # 90 s of fast speech is well under this
MAX_NAME_CHARS = 200
_MIN_PEAK = 1e-3  # below this the clip is silence
_RESERVED_NAMES = frozenset().union(*BUILTIN_VOICES.values())


@dataclass(frozen=True)
class ClipLimits:
    max_bytes: int
    min_s: float
    max_s: float


@dataclass(frozen=True)
class NewVoice:
    """What the caller sent, before any check."""

    clip: bytes
    transcript: str
    name: str | None = None
    dialect: str | None = None
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None


def check_clip(data: bytes, limits: ClipLimits) -> Audio:
    """The clip as mono audio; raises TooLarge or BadInput naming the problem."""
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the reference clip is {len(data)} bytes; the limit is {limits.max_bytes}")
    audio = decode(data)  # BadInput if it is not audio; several channels are mixed down
    if not limits.min_s <= audio.duration_s <= limits.max_s:
        raise BadInput(
            f"the reference clip is {audio.duration_s:.1f}s long; it must be {limits.min_s:g}-{limits.max_s:g}s "
            "(10-30s of clear speech works best)"
        )
    if len(audio.samples) == 0 or float(np.max(np.abs(audio.samples))) < _MIN_PEAK:
        raise BadInput("the reference clip is silent")
    return audio


def voice_params(seed: int | None, temperature: float | None, top_p: float | None) -> dict[str, Any]:
    """The fixed sampling parameters of a new voice; a seed is drawn if none is given."""
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    elif not 0 <= seed <= MAX_SEED:
        raise BadInput(f"seed must be between 0 and {MAX_SEED}")
    params: dict[str, Any] = {"seed": int(seed)}
    for field, value, default in (("temperature", temperature, DEFAULT_TEMPERATURE), ("top_p", top_p, DEFAULT_TOP_P)):
        value = default if value is None else float(value)
        low, high = SAMPLING_RANGE
        if not low <= value <= high:
            raise BadInput(f"{field} must be between {low} and {high}, got {value}")
        params[field] = value
    return params


def _transcript(text: str) -> str:
    # The engine reads the transcript next to the clip: normalised like every text it speaks.
    transcript = normalize_zh(clean(text))
    if not any(ch.isalnum() for ch in transcript):
        raise BadInput("the transcript is empty: give the exact words spoken in the clip")
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        raise TooLarge(f"the transcript has {len(transcript)} characters; the limit is {MAX_TRANSCRIPT_CHARS}")
    return transcript


def _name(session: Session, tenant_id: str, name: str | None) -> str:
    name = clean(name or "")
    if not name:
        return f"voice-{secrets.token_hex(4)}"
    if len(name) > MAX_NAME_CHARS:
        raise TooLarge(f"the name has {len(name)} characters; the limit is {MAX_NAME_CHARS}")
    if name in _RESERVED_NAMES:
        raise BadInput(f"{name!r} is the name of a built-in engine voice; choose another name")
    if session.scalars(select(Voice.id).where(Voice.tenant_id == tenant_id, Voice.name == name)).first():
        raise BadInput(f"a voice named {name!r} already exists")
    return name


def _dialect(dialect: str | None) -> str | None:
    dialect = clean(dialect or "") or None
    if dialect is not None and dialect not in LABELS:
        raise BadInput(f"unknown dialect {dialect!r}; use one of {', '.join(LABELS)}")
    return dialect


def create_voice(session: Session, tenant_id: str, new: NewVoice, limits: ClipLimits) -> Voice:
    """Check everything, then store the voice (mono FLAC). Nothing is written on BadInput."""
    audio = check_clip(new.clip, limits)
    transcript = _transcript(new.transcript)
    dialect = _dialect(new.dialect)
    params = voice_params(new.seed, new.temperature, new.top_p)
    name = _name(session, tenant_id, new.name)
    flac = encode(audio, "flac")
    voice = Voice(
        tenant_id=tenant_id,
        name=name,
        reference_audio=flac,
        reference_text=transcript,
        reference_sha256=hashlib.sha256(flac).hexdigest(),
        sample_rate=audio.sample_rate,
        duration_s=round(audio.duration_s, 3),
        dialect=dialect,
        params=params,
    )
    session.add(voice)
    try:
        session.flush()
    except IntegrityError:  # a concurrent upload took the name between check and insert
        session.rollback()
        raise BadInput(f"a voice named {name!r} already exists") from None
    logger.info("voice %s: created for tenant %s (%.1fs clip)", voice.id, tenant_id, voice.duration_s)
    return voice


def check_room(session: Session, tenant_id: str, most: int) -> None:
    """AtCapacity if the tenant holds `most` voices already: checked before a clip is read."""
    held = session.scalar(select(func.count()).select_from(Voice).where(Voice.tenant_id == tenant_id)) or 0
    if held >= most:
        raise AtCapacity(f"this tenant holds {held} voices, the limit (VOXQ_MAX_VOICES_PER_TENANT); delete one first")


def list_voices(session: Session, tenant_id: str) -> list[Voice]:
    query = select(Voice).where(Voice.tenant_id == tenant_id).order_by(Voice.created_at)
    return list(session.scalars(query.options(defer(Voice.reference_audio))))  # no clip bytes for a listing
