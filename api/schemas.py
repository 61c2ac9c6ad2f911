"""HTTP request and response bodies. What a job holds at rest (each kind's input and result)
is in shared/jobs/contracts.py; the bodies here embed those models, so /openapi.json shows
what a finished job holds.

Limits come from the settings (``VOXQ_MAX_TEXT_CHARS`` and the others), read once when this
module is imported, so the OpenAPI schema states exactly what the API enforces. A text over
its limit is answered 413 wherever it is sent (``api/errors.py``).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from shared.config import get_settings
from shared.jobs.contracts import (
    AudioFormat,
    BatchStatus,
    BookInput,
    BookResult,
    DialectAnswer,
    DialectInput,
    DialectText,
    GenerateRequest,
    GenerationInput,
    GenerationResult,
    JobText,
    Speed,
    SynthesisInput,
    SynthesisResult,
    TelephonyFormat,
    VoiceName,
)
from shared.models import NAME_CHARS, URL_CHARS, DeliveryState, JobKind, JobStatus

_limits = get_settings()
MAX_ITEMS = _limits.max_script_lines
# Where to POST the event when a batch or a single job ends (shared/webhooks/callbacks.py); http
# or https, and not a private address unless VOXQ_WEBHOOK_ALLOW_PRIVATE. Checked by the route (a 400).
CallbackUrl = Annotated[str, StringConstraints(max_length=URL_CHARS)]
# A book's title or author, as an MP4 tag: one line, no control characters.
BookTag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$")
]
_CALLBACK = "POSTed a signed event when this ends: done, failed or cancelled (docs/operations.md, Webhooks)."


# --- HTTP: jobs and batches -------------------------------------------------------------


class _JobOut(BaseModel):
    id: str
    status: JobStatus
    batch_id: str | None = None
    line: int | None = None
    line_id: str | None = None
    chapter: int | None = Field(None, description="A book's chapter the line is in (see the batch's chapters).")
    parent_id: str | None = None
    error: str | None = None
    attempts: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    model_config = {"from_attributes": True}


class SynthesisJobOut(_JobOut):
    kind: Literal[JobKind.synthesis]
    input: SynthesisInput
    result: SynthesisResult | None = None
    audio_url: str | None = Field(None, description="Set once the job has succeeded.")


class GenerationJobOut(_JobOut):
    kind: Literal[JobKind.generation]
    input: GenerationInput
    result: GenerationResult | None = None


class DialectJobOut(_JobOut):
    kind: Literal[JobKind.dialect]
    input: DialectInput
    result: DialectAnswer | None = None


class BookJobOut(_JobOut):
    """The assembly of a finished book's M4B or chapters zip (GET /v1/batches/{id}/audio answers 202
    with it until the file is stored)."""

    kind: Literal[JobKind.book]
    input: BookInput
    result: BookResult | None = None


# A job as the API shows it; `kind` tells which input and result it holds.
AnyJobOut = SynthesisJobOut | GenerationJobOut | DialectJobOut | BookJobOut
JobOut = Annotated[AnyJobOut, Field(discriminator="kind")]


class ChapterOut(BaseModel):
    number: int = Field(description="1, 2, ... in reading order: the `chapter` of the lines in it.")
    title: str


class BatchOut(BaseModel):
    id: str
    kind: JobKind
    lines: int
    options: dict[str, Any]
    counts: dict[str, int] = Field(description="Jobs by status.")
    done: bool
    status: BatchStatus = Field(
        description="running while a line is queued or running; then cancelled if a line was, failed if one "
        "failed, else succeeded."
    )
    created_at: datetime
    audio_url: str | None = None
    chapters: list[ChapterOut] = Field(
        default_factory=list, description="A book's chapters (an EPUB, or a script with `# ` headings); else empty."
    )
    warnings: list[str] = Field(
        default_factory=list, description="What of the script is not spoken and why (a language with no voice)."
    )


class BatchPage(BaseModel):
    batches: list[BatchOut] = Field(description="Newest first.")
    next: str | None = Field(None, description="Pass as `before` for the next (older) page; null on the last.")


class SynthesizeRequest(BaseModel):
    text: JobText = Field(description="What to say; long texts are split at sentence ends.")
    voice: VoiceName | None = Field(None, description="Built-in voice (espeak: cmn, yue) or library voice id/name.")
    format: AudioFormat = Field("wav", description="Format of GET /v1/jobs/{id}/audio.")
    speed: Speed = 1.0
    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)


class NormalizeRequest(BaseModel):
    text: JobText = Field(description="A line as it would be sent for synthesis.")
    voice: VoiceName | None = Field(None, description="The voice it would be spoken in (its engine's reading).")


class NormalizedOut(BaseModel):
    spoken_text: str = Field(description="What the engine is given: cleaned, the lexicon applied, numbers as words.")
    chunks: list[str] = Field(description="The pieces the worker speaks, one engine call each, in order.")


class DialectRequest(DialectText):
    """One text to identify (POST /v1/dialect)."""

    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)


class GenerateJobRequest(GenerateRequest):
    """One reply (POST /v1/generate). The callback is the request's, not the job's input."""

    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)


class DialectBatchRequest(BaseModel):
    items: list[DialectText] = Field(min_length=1, max_length=MAX_ITEMS)
    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)


class GenerateBatchRequest(BaseModel):
    items: list[GenerateRequest] = Field(min_length=1, max_length=MAX_ITEMS)
    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)


# --- webhooks -------------------------------------------------------------------------------


class WebhookSecretOut(BaseModel):
    secret: str = Field(description="Signs every webhook of the tenant; shown this once, keep it.")
    header: str = Field(description="Where the signature is: v1=<hex HMAC-SHA256 of '<timestamp>.<body>'>.")


class DeliveryAttemptOut(BaseModel):
    attempt: int = Field(description="1 for the first try.")
    at: datetime
    status_code: int | None = Field(None, description="What the receiver answered; none if it did not.")
    error: str | None = Field(None, description="Why the attempt failed (a status other than 2xx, a timeout, ...).")
    duration_ms: float

    model_config = {"from_attributes": True}


class DeliveryOut(BaseModel):
    id: str = Field(description="The event's id (event_id in its body; X-VoxQueue-Event-Id).")
    event: str = Field(description="batch.finished or job.finished.")
    url: str
    state: DeliveryState = Field(
        description="waiting (not ended yet), pending (to send or send again), delivered, or failed (given up)."
    )
    created_at: datetime
    fired_at: datetime | None = None
    next_attempt_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: list[DeliveryAttemptOut]


# --- voice library, snippet precomputation, OpenAI-compatible speech ----------------------


class VoiceOut(BaseModel):
    """A library voice without its clip (GET /v1/voices/{id}/audio serves the clip)."""

    id: str
    name: str
    transcript: str = Field(description="Exact words of the reference clip, as the engine reads them.")
    duration_s: float
    sample_rate: int
    dialect: str | None = None
    seed: int = Field(description="Fixed at creation: the same line sounds the same every time.")
    temperature: float
    top_p: float
    reference_sha256: str
    created_at: datetime


class PrecomputeRequest(BaseModel):
    phrases: list[JobText] = Field(min_length=1, max_length=MAX_ITEMS, description="Lines to have ready in the cache.")
    voice: VoiceName | None = Field(None, description="Built-in voice or library voice id/name.")
    speed: Speed = 1.0


class PrecomputedPhrase(BaseModel):
    text: str = Field(description="The phrase as it is spoken (normalised).")
    job_id: str
    status: JobStatus
    cached: bool = Field(description="Already in the cache: answered without the queue.")


class PrecomputeOut(BaseModel):
    voice: str | None
    cached: int
    queued: int
    phrases: list[PrecomputedPhrase]


class DeletePhrasesRequest(PrecomputeRequest):
    """POST /v1/snippets/delete: precomputed phrases to keep no longer, named as they were precomputed."""


class DeletedPhrase(BaseModel):
    text: str = Field(description="The phrase as it is spoken (normalised).")
    found: bool = Field(description="It was precomputed in this voice (and is kept no longer).")
    freed: bool = Field(description="Its audio was deleted now.")
    expires_at: datetime | None = Field(
        None, description="Not freed: a batch or job that used it keeps its audio until about then."
    )


class DeletedPhrasesOut(BaseModel):
    voice: str | None
    deleted: int = Field(description="Phrases that were precomputed and are kept no longer.")
    freed: int = Field(description="Of those, phrases whose audio was deleted now.")
    phrases: list[DeletedPhrase]


# --- pronunciation lexicon ----------------------------------------------------------------

LexiconWord = Annotated[str, StringConstraints(min_length=1, max_length=_limits.lexicon_max_word_chars)]
LexiconReading = Annotated[str, StringConstraints(min_length=1, max_length=_limits.lexicon_max_reading_chars)]


class LexiconIn(BaseModel):
    """PUT /v1/lexicon: the tenant's whole lexicon, replacing what it had."""

    entries: dict[LexiconWord, LexiconReading] = Field(
        max_length=_limits.lexicon_max_entries,
        description="Word as written → what is said: a respelling (沃克斯队列) or pinyin with tone numbers "
        "(chong2 qing4). Matching ignores case, longest word first; {} empties the lexicon.",
        examples=[{"重庆": "chong2 qing4", "VoxQueue": "沃克斯队列"}],
    )


class LexiconOut(BaseModel):
    entries: dict[str, str] = Field(description="As stored: cleaned, pinyin as syllables with one space between.")
    version: str | None = Field(description="sha256 of the entries; None: the tenant has no lexicon.")
    updated_at: datetime | None = None


SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm", TelephonyFormat]


class SpeechRequest(BaseModel):
    """OpenAI's ``POST /v1/audio/speech`` body, so OpenAI clients work unchanged."""

    model: str = Field(min_length=1, description="Accepted for compatibility; the deployment's engine speaks.")
    input: JobText = Field(description="Text to speak.")
    voice: VoiceName = Field(
        description="Built-in voice or library voice id/name; OpenAI's names (alloy, nova, ...) are the deployment's "
        "voices for them (VOXQ_OPENAI_VOICES, else VOXQ_OPENAI_VOICE, else the engine's default).",
        examples=["alloy", "cmn"],
    )
    response_format: SpeechFormat = "mp3"
    speed: Speed = 1.0
    instructions: str | None = Field(None, description="Accepted and ignored: no engine here takes style prompts.")
    stream_format: Literal["audio"] | None = Field(
        None, description="'audio': each sentence's audio as soon as it is spoken (wav with an open length, or pcm)."
    )
