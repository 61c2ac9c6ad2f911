"""Each job kind's contract at rest: its input and result as they are stored (``jobs.input``,
``jobs.result``), validated by the submitting side and again by the worker that reads them.
HTTP bodies (api/schemas.py) embed these models.

Limits come from the settings (``VOXQ_MAX_TEXT_CHARS`` and the others), read once when this
module is imported, so the OpenAPI schema states exactly what the API enforces. A text over
its limit is answered 413 wherever it is sent (``api/errors.py``).
"""

from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field, StringConstraints, field_validator

from shared.config import get_settings
from shared.dialect.labels import LABELS
from shared.models import NAME_CHARS

_limits = get_settings()

# The last four: telephone audio, G.711 μ-law or A-law at 8 kHz, in a WAV file or as the bare
# bytes (shared/audio/telephony.py).
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
BatchStatus = Literal["running", "succeeded", "failed", "cancelled"]


# --- jobs: per-kind input and result, as stored -----------------------------------------


class SynthesisInput(BaseModel):
    """A synthesis job's input: its line as written (cleaned; what its captions show), and what
    the engine is given when that differs (numbers as words, the tenant's lexicon applied)."""

    text: str = Field(description="The line as written, cleaned; what its captions show.")
    spoken: str | None = Field(None, description="What the engine is given, where it differs from text.")
    voice: str | None = Field(None, description="The voice asked for; None: the engine's default.")
    speed: float = Field(1.0, description="Speaking rate, 1.0 = normal.")
    format: AudioFormat = Field("wav", description="Format of the job's audio (GET /v1/jobs/{id}/audio).")
    dialect: DialectLabel | None = Field(None, description="Set when the line's dialect chose its voice.")


def engine_text(spec: "SynthesisInput") -> str:
    """What the engine is given for a job: before inputs kept their line as written, `text` was it."""
    return spec.spoken if spec.spoken is not None else spec.text


class SynthesisResult(BaseModel):
    # None only on cache hits stored before this field was recorded with them.
    duration_s: float | None = Field(None, description="Length of the line's audio, to the millisecond.")
    cached: bool = Field(description="The audio was already in the snippet cache; no engine ran.")
    spoken_text: str | None = Field(None, description="What the engine was given (see POST /v1/normalize).")

    @field_validator("duration_s")
    @classmethod
    def _to_the_millisecond(cls, value: float | None) -> float | None:
        return None if value is None else round(value, 3)


class ChatTurn(BaseModel):
    role: Literal["user", "assistant"] = Field(description="Who said it: the user, or the model (assistant).")
    content: PromptText = Field(description="What was said.")


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
    temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="Sampling temperature: near 0 gives the likeliest reply, higher more varied."
    )
    top_p: float = Field(
        0.95,
        gt=0.0,
        le=1.0,
        description="Nucleus sampling: draw only from the likeliest tokens that together hold this probability; "
        "1 considers all.",
    )
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
    prompt_tokens: int = Field(description="Tokens the model read: persona, history and the new message.")
    completion_tokens: int = Field(description="Tokens the model wrote: reasoning and reply together.")


class GenerationResult(BaseModel):
    text: str = Field(description="The reply.")
    reasoning: str | None = Field(None, description="The model's thinking, when thinking was on.")
    finish_reason: str | None = Field(None, description="stop, length, ...")
    usage: TokenUsage | None = Field(
        None, description="Tokens read and written; null when the engine gave no count for this reply alone."
    )
    model: str = Field(description="The model that wrote the reply.")
    speech_job_id: str | None = Field(None, description="The synthesis job speaking the reply (with speak).")
    speech_job_ids: list[str] | None = Field(
        None, description="With speak and stream: the synthesis jobs speaking the reply, one per sentence, in order."
    )
    speech_error: str | None = Field(None, description="Why the reply could not be spoken (with speak).")


class DialectInput(BaseModel):
    """A dialect job's input: the cleaned text and the caller's hints."""

    text: str = Field(description="The text to identify, cleaned.")
    context: dict[str, str] = Field(default_factory=dict, description="The caller's hints, as they were sent.")


class DialectEvidence(BaseModel):
    """One marker that fired; ``start``/``end`` index the simplified text."""

    marker: str = Field(description="The marker as the detector lists it: a word or a pattern.")
    matched: str = Field(description="The text it matched.")
    label: DialectLabel = Field(description="The variety the marker is evidence for.")
    weight: float = Field(
        description="How strongly it points to that variety: about 3 for a marker only it writes, 1 or less for "
        "supporting evidence."
    )
    start: int = Field(
        description="Where the match starts: a character offset from 0 into the text in simplified characters."
    )
    end: int = Field(description="Where the match ends: the offset just after its last character.")


class DialectAnswer(BaseModel):
    """A dialect job's result: the label, how sure, which source decided, and the evidence."""

    label: DialectLabel = Field(description="The variety the text is written in.")
    confidence: float = Field(ge=0.0, le=1.0, description="How sure, as a probability from 0 to 1.")
    decided_by: Literal["cpu", "llm", "agree"] = Field(
        description="cpu: the marker detector decided; llm: the language model did; agree: both said the same."
    )
    reason: str = Field(description="Why this label, in one sentence.")
    evidence: list[DialectEvidence] = Field(description="The dialect markers found in the text, in text order.")
    scores: dict[str, float] = Field(description="The CPU detector's probability per label.")
    cpu_label: DialectLabel | None = Field(None, description="With an LLM: what the CPU detector said.")
    llm_label: str | None = Field(None, description="With an LLM: what the model said.")
    llm_error: str | None = Field(None, description="With an LLM: why the model gave no answer.")
    usage: TokenUsage | None = Field(
        None, description="The LLM's tokens; null when no LLM was asked, or it gave no count for this text alone."
    )
    model: str | None = Field(None, description="The LLM that was asked; null when the CPU detector answered alone.")


BookOutput = Literal["m4b", "chapters"]


class BookInput(BaseModel):
    """A book job's input: the finished batch to assemble and the stored file to fill
    (shared/books/files.py)."""

    file_id: str = Field(description="The stored file this job builds (see result.file_id).")
    batch_id: str = Field(description="The finished batch whose audio it assembles.")
    output: BookOutput = Field(description="m4b: one AAC file with chapters and cover; chapters: a zip of them.")
    format: str = Field(description="aac for an M4B; the chapter files' audio format.")


class BookResult(BaseModel):
    file_id: str = Field(description="The stored file, served by GET /v1/batches/{id}/audio with the same output.")
    size: int = Field(description="Bytes of the file.")
    duration_s: float = Field(description="Length of the book's audio, in seconds.")
    chapters: int = Field(description="Chapters in the file.")


JobInput = SynthesisInput | GenerationInput | DialectInput | BookInput
JobResult = SynthesisResult | GenerationResult | DialectAnswer | BookResult


class DialectText(BaseModel):
    """One text whose dialect is named (kind ``dialect``); the answer is one of the eight labels."""

    text: JobText = Field(description="What the speaker said (a transcript).")
    context: dict[str, str] = Field(
        default_factory=dict, description='Hints passed to the model as they are, e.g. {"region": "成都"}.'
    )
    id: str | None = Field(
        None, max_length=NAME_CHARS, description="Caller's id of the item, kept as the job's line_id."
    )


# --- a line of a script, as parsed and before it becomes a job -----------------------


@dataclass(frozen=True)
class ScriptLine:
    number: int  # 1-based line (or record) number in the upload, for error messages
    text: str
    voice: str | None = None
    id: str | None = None
    dialect: str | None = None  # set when the line's dialect chose its voice
    chapter: int | None = None  # a book's chapter (batch_chapters.number), 1-based
    language: str | None = None  # as the file declares it (an EPUB's xml:lang or dc:language), BCP 47
