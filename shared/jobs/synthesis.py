"""Synthesis jobs from lines of text: each line as the engine will be given it (cleaned, the
tenant's lexicon applied, numbers as words), keyed in the snippet cache, and answered at once
when that line is already cached. Used by the API's routes and by the LLM workers that speak a
reply; it needs no quota, webhook or dialect code, so a worker does not load them."""

from collections.abc import Sequence
from dataclasses import replace
from importlib.metadata import version

from sqlalchemy.orm import Session

from shared.audio import retention
from shared.audio.snippets import key_prefix, snippet_key
from shared.config import Settings, get_settings
from shared.errors import BadInput
from shared.jobs.contracts import ScriptLine, SynthesisInput, SynthesisResult
from shared.jobs.state import NewJob
from shared.models import JobKind
from shared.text.normalize import normalize_zh, without_erhua
from shared.text.pronunciation import Matcher, matcher
from shared.text.sentences import clean
from shared.voices.resolve import resolve_voice


def speech_text(text: str, lexicon: Matcher | None = None, engine: str = "espeak") -> str:
    """The text an engine is given (and the cache key is made of): cleaned, the words of the
    tenant's lexicon replaced by what they say on `engine` (shared/text/pronunciation.py), and digits,
    dates, money and units written as words, since no engine reads them reliably. espeak-ng is
    given Mandarin without erhua (its dictionary reads 这儿 in English)."""
    return spoken_form(clean(text), lexicon, engine)


def spoken_form(text: str, lexicon: Matcher | None, engine: str) -> str:
    """`speech_text` of a text already cleaned."""
    if engine == "espeak":
        text = without_erhua(text)
    if lexicon is None:
        return normalize_zh(text)
    return lexicon.apply(text, engine, normalize_zh)


def engine_model(settings: Settings) -> str:
    """What, beside the engine's name, decides its audio, for the snippet key: Fish Speech's
    checkpoint, or the espeak-ng build (the wheel's version, or the library named instead)."""
    if settings.tts_engine == "fish_speech":
        return settings.fish_speech_model
    return settings.espeak_library or _ESPEAK_WHEEL


# Read once: looking a package's version up reads its metadata from disk, and every submission
# keys its lines.
_ESPEAK_WHEEL = f"espeakng-loader {version('espeakng-loader')}"


def cleaned(text: str, field: str = "text") -> str:
    """A text cleaned of invisible and control characters; BadInput if nothing is left."""
    text = clean(text)
    if not text:
        raise BadInput(f"{field} is empty")
    return text


def synthesis_jobs(
    session: Session,
    tenant_id: str,
    lines: Sequence[ScriptLine],
    default_voice: str | None,
    speed: float = 1.0,
    fmt: str = "wav",
) -> list[NewJob]:
    """One synthesis job per line, keyed in the snippet cache; a line already cached is a
    succeeded job. Raises BadInput (an unknown voice, ...); writes only to hold a reused snippet
    near the end of its retention (shared/audio/retention.py), in the caller's transaction."""
    settings = get_settings()
    engine = settings.tts_engine
    model = engine_model(settings)
    prefixes: dict[str | None, bytes] = {}
    for name in {line.voice or default_voice for line in lines}:
        prefixes[name] = key_prefix(resolve_voice(session, tenant_id, name, engine, speed), engine, model)
    lexicon = matcher(session, tenant_id)
    new_jobs: list[NewJob] = []
    spoken_texts: list[str] = []
    for line in lines:
        voice = line.voice or default_voice
        written = clean(line.text)
        spoken = spoken_form(written, lexicon, engine)
        # Validated, not constructed: the format and the line's dialect arrive as plain str.
        fields = {"text": written, "voice": voice, "speed": speed, "format": fmt, "dialect": line.dialect}
        if spoken != written:
            fields["spoken"] = spoken
        spec = SynthesisInput.model_validate(fields)
        key = snippet_key(prefixes[voice], spoken)
        new_jobs.append(NewJob(JobKind.synthesis, spec, line.number, line.id, key, chapter=line.chapter))
        spoken_texts.append(spoken)
    keys = (job.snippet_key for job in new_jobs if job.snippet_key)
    durations = retention.reuse(session, tenant_id, keys, settings)
    return [
        replace(job, result=SynthesisResult(duration_s=durations[job.snippet_key], cached=True, spoken_text=spoken))
        if job.snippet_key in durations
        else job
        for job, spoken in zip(new_jobs, spoken_texts, strict=True)
    ]
