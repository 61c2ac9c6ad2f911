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
    id: str = Field(description="The job's id, for GET /v1/jobs/{id}.")
    status: JobStatus = Field(
        description="queued, running, then succeeded, failed, or cancelled (a batch's line cancelled before it ran)."
    )
    batch_id: str | None = Field(None, description="The batch the job is a line of; null for a single job.")
    line: int | None = Field(None, description="Its line number in the batch's script, from 1; null outside a batch.")
    line_id: str | None = Field(None, description="The caller's id of the line or item, where one was given.")
    chapter: int | None = Field(None, description="A book's chapter the line is in (see the batch's chapters).")
    parent_id: str | None = Field(
        None, description="The job that made this one (a generation whose reply this job speaks); else null."
    )
    error: str | None = Field(None, description="Why the job failed or was cancelled; null otherwise.")
    attempts: int = Field(description="Times a worker has started the job; 0 while it has never run.")
    created_at: datetime = Field(description="When the job was submitted (UTC).")
    started_at: datetime | None = Field(None, description="When a worker last started it (UTC); null until then.")
    finished_at: datetime | None = Field(None, description="When it ended (UTC); null while queued or running.")

    model_config = {"from_attributes": True}


class SynthesisJobOut(_JobOut):
    kind: Literal[JobKind.synthesis] = Field(description="synthesis: speaks a line.")
    input: SynthesisInput = Field(description="What to speak, and how.")
    result: SynthesisResult | None = Field(None, description="Set once the job has succeeded.")
    audio_url: str | None = Field(None, description="Set once the job has succeeded.")


class GenerationJobOut(_JobOut):
    kind: Literal[JobKind.generation] = Field(description="generation: one reply of the chat model.")
    input: GenerationInput = Field(description="The request, as it was submitted.")
    result: GenerationResult | None = Field(None, description="The reply; set once the job has succeeded.")


class DialectJobOut(_JobOut):
    kind: Literal[JobKind.dialect] = Field(description="dialect: names the variety a text is in.")
    input: DialectInput = Field(description="The text to identify and its hints.")
    result: DialectAnswer | None = Field(None, description="The answer; set once the job has succeeded.")


class BookJobOut(_JobOut):
    """The assembly of a finished book's M4B or chapters zip (GET /v1/batches/{id}/audio answers 202
    with it until the file is stored)."""

    kind: Literal[JobKind.book] = Field(description="book: assembles a finished batch's M4B or chapters zip.")
    input: BookInput = Field(description="The batch to assemble, and into what.")
    result: BookResult | None = Field(None, description="The stored file; set once the job has succeeded.")


# A job as the API shows it; `kind` tells which input and result it holds.
AnyJobOut = SynthesisJobOut | GenerationJobOut | DialectJobOut | BookJobOut
JobOut = Annotated[AnyJobOut, Field(discriminator="kind")]


class ChapterOut(BaseModel):
    number: int = Field(description="1, 2, ... in reading order: the `chapter` of the lines in it.")
    title: str = Field(description="The chapter's title, as the book or the script's heading gives it.")


class BatchOut(BaseModel):
    id: str = Field(description="The batch's id, for GET /v1/batches/{id}.")
    kind: JobKind = Field(description="synthesis: every line is spoken; dialect: every line's variety is named.")
    lines: int = Field(description="Lines in the script.")
    options: dict[str, Any] = Field(
        description="The settings it was submitted with: file name, priority and callback_url; for a synthesis "
        "batch also voice, format, speed and follow_dialect."
    )
    counts: dict[str, int] = Field(description="Jobs by status.")
    done: bool = Field(description="True once no line is queued or running.")
    status: BatchStatus = Field(
        description="running while a line is queued or running; then cancelled if a line was, failed if one "
        "failed, else succeeded."
    )
    created_at: datetime = Field(description="When the batch was submitted (UTC).")
    audio_url: str | None = Field(
        None, description="Where to download the whole script's audio; set once a synthesis batch has succeeded."
    )
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

    model_config = {
        "json_schema_extra": {
            "examples": [{"text": "您好，欢迎致电客服中心，请问有什么可以帮您？", "voice": "cmn", "format": "mp3"}]
        }
    }


class NormalizeRequest(BaseModel):
    text: JobText = Field(description="A line as it would be sent for synthesis.")
    voice: VoiceName | None = Field(None, description="The voice it would be spoken in (its engine's reading).")

    model_config = {
        "json_schema_extra": {"examples": [{"text": "您的订单共计¥128.50，预计3月5日送达。", "voice": "cmn"}]}
    }


class NormalizedOut(BaseModel):
    spoken_text: str = Field(description="What the engine is given: cleaned, the lexicon applied, numbers as words.")
    chunks: list[str] = Field(description="The pieces the worker speaks, one engine call each, in order.")


class DialectRequest(DialectText):
    """One text to identify (POST /v1/dialect)."""

    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)

    model_config = {
        "json_schema_extra": {"examples": [{"text": "你在做啥子？莫得事就过来耍嘛。", "context": {"region": "成都"}}]}
    }


class GenerateJobRequest(GenerateRequest):
    """One reply (POST /v1/generate). The callback is the request's, not the job's input."""

    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "input": "我的快递什么时候到？",
                    "persona": "你是一家快递公司的客服，回答简短、礼貌。",
                    "history": [
                        {"role": "user", "content": "你好"},
                        {"role": "assistant", "content": "您好！请问有什么可以帮您？"},
                    ],
                    "max_tokens": 256,
                    "speak": {"voice": "cmn", "format": "mp3"},
                }
            ]
        }
    }


class DialectBatchRequest(BaseModel):
    items: list[DialectText] = Field(
        min_length=1, max_length=MAX_ITEMS, description="The texts to identify, one job each, in order."
    )
    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "items": [
                        {"text": "侬今朝夜里向去啥地方白相？", "id": "call-001"},
                        {"text": "你食咗飯未呀？", "id": "call-002"},
                    ]
                }
            ]
        }
    }


class GenerateBatchRequest(BaseModel):
    items: list[GenerateRequest] = Field(
        min_length=1, max_length=MAX_ITEMS, description="The replies to generate, one job each, in order."
    )
    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)


# --- webhooks -------------------------------------------------------------------------------


class WebhookSecretOut(BaseModel):
    secret: str = Field(description="Signs every webhook of the tenant; shown this once, keep it.")
    header: str = Field(description="Where the signature is: v1=<hex HMAC-SHA256 of '<timestamp>.<body>'>.")


class DeliveryAttemptOut(BaseModel):
    attempt: int = Field(description="1 for the first try.")
    at: datetime = Field(description="When the attempt was made (UTC).")
    status_code: int | None = Field(None, description="What the receiver answered; none if it did not.")
    error: str | None = Field(None, description="Why the attempt failed (a status other than 2xx, a timeout, ...).")
    duration_ms: float = Field(description="How long the attempt took, in milliseconds.")

    model_config = {"from_attributes": True}


class DeliveryOut(BaseModel):
    id: str = Field(description="The event's id (event_id in its body; X-VoxQueue-Event-Id).")
    event: str = Field(description="batch.finished or job.finished.")
    url: str = Field(description="The callback_url the event is POSTed to.")
    state: DeliveryState = Field(
        description="waiting (not ended yet), pending (to send or send again), delivered, or failed (given up)."
    )
    created_at: datetime = Field(description="When the batch or job was submitted with its callback (UTC).")
    fired_at: datetime | None = Field(
        None, description="When the batch or job was seen to have ended (UTC); null while it has not."
    )
    next_attempt_at: datetime | None = Field(
        None, description="When the next try is due (UTC); null when none is planned."
    )
    finished_at: datetime | None = Field(None, description="When it was delivered or given up (UTC); null until then.")
    attempts: list[DeliveryAttemptOut] = Field(description="Every try so far, oldest first.")


# --- voice library, snippet precomputation, OpenAI-compatible speech ----------------------


class VoiceOut(BaseModel):
    """A library voice without its clip (GET /v1/voices/{id}/audio serves the clip)."""

    id: str = Field(description="The voice's id; usable as `voice` wherever a voice is asked for.")
    name: str = Field(description="Its name, unique per tenant; usable as `voice` too.")
    transcript: str = Field(description="Exact words of the reference clip, as the engine reads them.")
    duration_s: float = Field(description="Length of the reference clip, in seconds.")
    sample_rate: int = Field(description="The clip's sample rate, in Hz.")
    dialect: str | None = Field(None, description="The variety spoken in the clip, e.g. 四川话; null if not given.")
    seed: int = Field(description="Fixed at creation: the same line sounds the same every time.")
    temperature: float = Field(description="The cloning engine's sampling temperature for this voice, fixed.")
    top_p: float = Field(description="The cloning engine's nucleus sampling cutoff for this voice, fixed.")
    reference_sha256: str = Field(description="SHA-256 of the stored clip (FLAC), in hex: tells one clip from another.")
    created_at: datetime = Field(description="When the voice was added (UTC).")


class PrecomputeRequest(BaseModel):
    phrases: list[JobText] = Field(min_length=1, max_length=MAX_ITEMS, description="Lines to have ready in the cache.")
    voice: VoiceName | None = Field(None, description="Built-in voice or library voice id/name.")
    speed: Speed = 1.0

    model_config = {
        "json_schema_extra": {
            "examples": [{"phrases": ["您好，请问有什么可以帮您？", "请稍候，正在为您转接。"], "voice": "cmn"}]
        }
    }


class PrecomputedPhrase(BaseModel):
    text: str = Field(description="The phrase as it is spoken (normalised).")
    job_id: str = Field(description="The synthesis job that speaks it (GET /v1/jobs/{id}).")
    status: JobStatus = Field(description="succeeded when it was cached already, else queued.")
    cached: bool = Field(description="Already in the cache: answered without the queue.")


class PrecomputeOut(BaseModel):
    voice: str | None = Field(description="The voice as asked for; null: the engine's default.")
    cached: int = Field(description="Phrases that were in the cache already.")
    queued: int = Field(description="Phrases queued to be spoken.")
    phrases: list[PrecomputedPhrase] = Field(
        description="One per distinct phrase, in the order sent; two spellings that are spoken alike count once."
    )


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
    voice: str | None = Field(description="The voice as asked for; null: the engine's default.")
    deleted: int = Field(description="Phrases that were precomputed and are kept no longer.")
    freed: int = Field(description="Of those, phrases whose audio was deleted now.")
    phrases: list[DeletedPhrase] = Field(description="One per distinct phrase, in the order sent.")


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
    updated_at: datetime | None = Field(None, description="When it was last replaced (UTC); null: no lexicon.")


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
    response_format: SpeechFormat = Field(
        "mp3",
        description="Audio format of the answer; the last four are telephone audio, G.711 μ-law or A-law at 8 kHz, "
        "in a WAV file or as bare bytes. pcm is raw 24 kHz 16-bit little-endian mono.",
    )
    speed: Speed = 1.0
    instructions: str | None = Field(None, description="Accepted and ignored: no engine here takes style prompts.")
    stream_format: Literal["audio"] | None = Field(
        None, description="'audio': each sentence's audio as soon as it is spoken (wav with an open length, or pcm)."
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"model": "tts-1", "input": "您好，请问有什么可以帮您？", "voice": "alloy", "response_format": "mp3"}
            ]
        }
    }
