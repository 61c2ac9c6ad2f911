"""Voices: the engines' built-in voices and the tenant's library, resolved to a VoiceSpec."""

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from shared.errors import BadInput
from shared.models import Voice

# espeak-ng voice names; 粤语 is spoken with `yue`, every other variety with Mandarin `cmn`.
ESPEAK_VOICES: frozenset[str] = frozenset({"cmn", "yue", "en"})
BUILTIN_VOICES: dict[str, frozenset[str]] = {
    "espeak": ESPEAK_VOICES,
    # Fish Speech has no named voices of its own: without a reference clip it invents a
    # random one, so every Fish Speech voice is a cloned voice from the voice library.
    "fish_speech": frozenset(),
}
DEFAULT_VOICE: dict[str, str | None] = {"espeak": "cmn", "fish_speech": None}
# The built-in voice that speaks a dialect, where an engine has one.
BUILTIN_DIALECT_VOICES: dict[str, dict[str, str]] = {"espeak": {"粤语": "yue"}, "fish_speech": {}}
CLONING_ENGINES: frozenset[str] = frozenset({"fish_speech"})
# OpenAI's voice names (POST /v1/audio/speech): each is a voice of the deployment's choosing.
OPENAI_VOICES: frozenset[str] = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"}
)
# The built-in voice for a language (a BCP 47 tag, lower case: the whole tag, else its first
# part), where an engine has one. A cloned Fish Speech voice speaks what it is given.
LANGUAGE_VOICES: dict[str, dict[str, str]] = {
    "espeak": {"zh": "cmn", "cmn": "cmn", "zh-hk": "yue", "zh-mo": "yue", "zh-yue": "yue", "yue": "yue", "en": "en"},
    "fish_speech": {},
}


def language_voice(language: str, engine: str) -> str | None:
    """The engine's built-in voice for `language` (zh-CN → cmn, zh-HK → yue, en-GB → en), or None."""
    voices = LANGUAGE_VOICES.get(engine, {})
    tag = language.strip().lower().replace("_", "-")
    return voices.get(tag) or voices.get(tag.split("-")[0])


@dataclass(frozen=True)
class VoiceSpec:
    """Everything an engine needs to speak in one voice, and what makes its audio differ.

    Built from a built-in engine voice name (no reference) or from a library voice
    (reference clip + exact transcript, with its fixed seed and sampling parameters).
    """

    name: str  # built-in engine voice ("cmn", "yue") or the library voice's id
    reference_audio: bytes | None = None  # FLAC of the reference clip
    reference_text: str | None = None
    reference_sha256: str | None = None
    seed: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    speed: float = 1.0
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def is_cloned(self) -> bool:
        return self.reference_audio is not None

    def fingerprint(self) -> dict[str, object]:
        """What identifies this voice's output, for snippet cache keys (no audio bytes)."""
        return {
            "name": self.name,
            "reference": self.reference_sha256,
            "seed": self.seed,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "speed": self.speed,
            "extra": dict(sorted(self.extra.items())),
        }


# Reference clips by their sha256. A stored clip never changes, so an entry never goes
# stale; it spares a TTS worker reading the same clip (up to megabytes) for every line.
_CLIPS: dict[str, bytes] = {}
_MAX_CLIPS = 32


def _reference_audio(session: Session, voice: Voice) -> bytes:
    clip = _CLIPS.get(voice.reference_sha256)
    if clip is None:
        clip = session.scalars(select(Voice.reference_audio).where(Voice.id == voice.id)).one()
        if len(_CLIPS) >= _MAX_CLIPS:
            _CLIPS.pop(next(iter(_CLIPS)))
        _CLIPS[voice.reference_sha256] = clip
    return clip


def spec_from_voice(session: Session, voice: Voice, speed: float = 1.0) -> VoiceSpec:
    params = voice.params or {}
    return VoiceSpec(
        name=voice.id,
        reference_audio=_reference_audio(session, voice),
        reference_text=voice.reference_text,
        reference_sha256=voice.reference_sha256,
        seed=params.get("seed"),
        temperature=params.get("temperature"),
        top_p=params.get("top_p"),
        speed=speed,
    )


def dialect_voices(session: Session, tenant_id: str, engine: str) -> dict[str, str]:
    """Which voice speaks each dialect: the engine's built-ins, then the tenant's library
    voices marked with a dialect (on an engine that clones; the newest voice wins)."""
    mapping = dict(BUILTIN_DIALECT_VOICES[engine])
    if engine in CLONING_ENGINES:
        marked = session.execute(
            select(Voice.dialect, Voice.id)
            .where(Voice.tenant_id == tenant_id, Voice.dialect.is_not(None))
            .order_by(Voice.created_at)
        )
        mapping.update({dialect: voice_id for dialect, voice_id in marked if dialect is not None})
    return mapping


def resolve_voice(session: Session, tenant_id: str, name: str | None, engine: str, speed: float = 1.0) -> VoiceSpec:
    """Find `name` among the tenant's library voices (by id or name), then the engine's built-ins.

    Raises BadInput for an unknown voice, and for a cloned voice on an engine that cannot
    clone: VoxQueue never falls back silently to some other voice.
    """
    name = name or DEFAULT_VOICE[engine]
    if not name:
        raise BadInput(f"the {engine} engine has no default voice; name a voice from the library")
    voice = session.scalars(
        select(Voice)
        .where(Voice.tenant_id == tenant_id, or_(Voice.id == name, Voice.name == name))
        .options(defer(Voice.reference_audio))
    ).first()
    if voice is not None:
        if engine not in CLONING_ENGINES:
            raise BadInput(
                f"voice {name!r} is a cloned voice, and the configured TTS engine {engine!r} "
                "cannot clone voices (set VOXQ_TTS_ENGINE=fish_speech)"
            )
        return spec_from_voice(session, voice, speed)
    if name in BUILTIN_VOICES[engine]:
        return VoiceSpec(name=name, speed=speed)
    known = ", ".join(sorted(BUILTIN_VOICES[engine])) or "none"
    raise BadInput(f"unknown voice {name!r} (built-in voices of {engine}: {known}; or a library voice)")
