"""Typed data across every boundary: HTTP request and response bodies, and each job kind's
input and result as they are stored (``jobs.input``, ``jobs.result``) and read by workers.

Limits come from the settings (``VOXQ_MAX_TEXT_CHARS`` and the others), read once when this
module is imported, so the OpenAPI schema states exactly what the API enforces. A text over
its limit is answered 413 wherever it is sent (``api/errors.py``).
"""

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, Field, StringConstraints, field_validator

from shared.config import get_settings
from shared.dialect.labels import LABELS
from shared.models import NAME_CHARS, URL_CHARS, DeliveryState, JobKind, JobStatus

_limits = get_settings()

# The last four: telephone audio, G.711 μ-law or A-law at 8 kHz, in a WAV file or as the bare
# bytes (shared/telephony.py).
TelephonyFormat = Literal["wav_ulaw_8k", "wav_alaw_8k", "ulaw_8k", "alaw_8k"]
AudioFormat = Literal["wav", "flac", "ogg", "mp3", TelephonyFormat]
DialectLabel = Literal["普通话", "四川话", "粤语", "上海话", "东北话", "河南话", "湖南话", "陕西话"]
assert set(get_args(DialectLabel)) == set(LABELS), "DialectLabel must list shared.dialect.labels.LABELS"

# A text that becomes one job; longer work goes in a batch, a line at a time.
JobText = Annotated[str, StringConstraints(min_length=1, max_length=_limits.max_text_chars)]
PromptText = Annotated[str, StringConstraints(max_length=_limits.max_prompt_chars)]
# A built-in engine voice (espeak: cmn, yue) or a library voice's id or name.
VoiceName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_CHARS)]
Speed = Annotated[float, Field(ge=0.25, le=4.0, description="Speaking rate, 1.0 = normal.")]
MAX_ITEMS = _limits.max_script_lines
# Where to POST the event when a batch or a single job ends (shared/webhooks.py); http or https,
# and not a private address unless VOXQ_WEBHOOK_ALLOW_PRIVATE. Checked by the route (a 400).
CallbackUrl = Annotated[str, StringConstraints(max_length=URL_CHARS)]
_CALLBACK = "POSTed a signed event when this ends: done, failed or cancelled (see the README's Webhooks)."
BatchStatus = Literal["running", "succeeded", "failed", "cancelled"]


# --- jobs: per-kind input and result, as stored -----------------------------------------


class SynthesisInput(BaseModel):
    """A synthesis job's input: the text as it is spoken (cleaned, numbers written as words)."""

    text: str
    voice: str | None = Field(None, description="The voice asked for; None: the engine's default.")
    speed: float = 1.0
    format: AudioFormat = "wav"
    dialect: DialectLabel | None = Field(None, description="Set when the line's dialect chose its voice.")


class SynthesisResult(BaseModel):
    # None only on cache hits stored before this field was recorded with them.
    duration_s: float | None = Field(None, description="Length of the line's audio, to the millisecond.")
    cached: bool = Field(description="The audio was already in the snippet cache; no engine ran.")

    @field_validator("duration_s")
    @classmethod
    def _to_the_millisecond(cls, value: float | None) -> float | None:
        return None if value is None else round(value, 3)


class ChatTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: PromptText


class SpeakOptions(BaseModel):
    """Speak a generated reply: a synthesis job is created when the generation succeeds."""

    voice: VoiceName | None = Field(None, description="Built-in voice (espeak: cmn, yue) or library voice id/name.")
    speed: Speed = 1.0
    format: AudioFormat = Field("wav", description="Format of the synthesis job's audio.")


class GenerateRequest(BaseModel):
    """One reply of a chat model, as a job (kind ``generation``); stored as the job's input."""

    input: Annotated[PromptText, StringConstraints(min_length=1)] = Field(description="The user's new message.")
    persona: PromptText | None = Field(None, description="System prompt: who answers, and how.")
    history: list[ChatTurn] = Field(default_factory=list, max_length=200, description="Earlier turns, oldest first.")
    thinking: bool = Field(
        False, description="Reason before answering; the reasoning is kept apart in result.reasoning."
    )
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1, le=32_768, description="Tokens of reasoning and reply together.")
    speak: SpeakOptions | None = Field(None, description="Also speak the reply (a child job, linked by parent_id).")
    stream: bool = Field(
        False,
        description="Answer with Server-Sent Events: the reply as the model writes it and, with `speak`, each "
        "finished sentence's audio while the model goes on (POST /v1/generate only).",
    )
    stream_audio: Literal["url", "base64"] = Field(
        "url", description="With stream and speak: each sentence's audio as a URL to fetch, or inline as base64."
    )


GenerationInput = GenerateRequest


class TokenUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class GenerationResult(BaseModel):
    text: str = Field(description="The reply.")
    reasoning: str | None = Field(None, description="The model's thinking, when thinking was on.")
    finish_reason: str | None = Field(None, description="stop, length, ...")
    usage: TokenUsage | None = None
    model: str
    speech_job_id: str | None = Field(None, description="The synthesis job speaking the reply (with speak).")
    speech_job_ids: list[str] | None = Field(
        None, description="With speak and stream: the synthesis jobs speaking the reply, one per sentence, in order."
    )
    speech_error: str | None = Field(None, description="Why the reply could not be spoken (with speak).")


class DialectInput(BaseModel):
    """A dialect job's input: the cleaned text and the caller's hints."""

    text: str
    context: dict[str, str] = Field(default_factory=dict)


class DialectEvidence(BaseModel):
    """One marker that fired; ``start``/``end`` index the simplified text."""

    marker: str
    matched: str
    label: DialectLabel
    weight: float
    start: int
    end: int


class DialectAnswer(BaseModel):
    """A dialect job's result: the label, how sure, which source decided, and the evidence."""

    label: DialectLabel
    confidence: float = Field(ge=0.0, le=1.0)
    decided_by: Literal["cpu", "llm", "agree"]
    reason: str
    evidence: list[DialectEvidence]
    scores: dict[str, float] = Field(description="The CPU detector's probability per label.")
    cpu_label: DialectLabel | None = Field(None, description="With an LLM: what the CPU detector said.")
    llm_label: str | None = Field(None, description="With an LLM: what the model said.")
    llm_error: str | None = Field(None, description="With an LLM: why the model gave no answer.")
    usage: TokenUsage | None = None
    model: str | None = None


JobInput = SynthesisInput | GenerationInput | DialectInput
JobResult = SynthesisResult | GenerationResult | DialectAnswer


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


# A job as the API shows it; `kind` tells which input and result it holds.
AnyJobOut = SynthesisJobOut | GenerationJobOut | DialectJobOut
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


class SynthesizeRequest(BaseModel):
    text: JobText = Field(description="What to say; long texts are split at sentence ends.")
    voice: VoiceName | None = Field(None, description="Built-in voice (espeak: cmn, yue) or library voice id/name.")
    format: AudioFormat = Field("wav", description="Format of GET /v1/jobs/{id}/audio.")
    speed: Speed = 1.0
    callback_url: CallbackUrl | None = Field(None, description=_CALLBACK)


class DialectText(BaseModel):
    """One text whose dialect is named (kind ``dialect``); the answer is one of the eight labels."""

    text: JobText = Field(description="What the speaker said (a transcript).")
    context: dict[str, str] = Field(
        default_factory=dict, description='Hints passed to the model as they are, e.g. {"region": "成都"}.'
    )
    id: str | None = Field(
        None, max_length=NAME_CHARS, description="Caller's id of the item, kept as the job's line_id."
    )


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


SpeechFormat = Literal["mp3", "opus", "flac", "wav", "pcm", TelephonyFormat]


class SpeechRequest(BaseModel):
    """OpenAI's ``POST /v1/audio/speech`` body, so OpenAI clients work unchanged."""

    model: str = Field(min_length=1, description="Accepted for compatibility; the deployment's engine speaks.")
    input: JobText = Field(description="Text to speak.")
    voice: VoiceName = Field(description="Built-in voice or library voice id/name.")
    response_format: SpeechFormat = "mp3"
    speed: Speed = 1.0
    instructions: str | None = Field(None, description="Accepted and ignored: no engine here takes style prompts.")
    stream_format: Literal["audio"] | None = Field(
        None, description="'audio': each sentence's audio as soon as it is spoken (wav with an open length, or pcm)."
    )
