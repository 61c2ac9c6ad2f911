"""Typed request and response bodies of the HTTP API."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.models import JobKind, JobStatus

AudioFormat = Literal["wav", "flac", "ogg", "mp3"]


class SynthesizeRequest(BaseModel):
    text: str = Field(description="What to say; long texts are split at sentence ends.")
    voice: str | None = Field(None, description="Built-in voice (espeak: cmn, yue) or library voice id/name.")
    format: AudioFormat = Field("wav", description="Format of GET /v1/jobs/{id}/audio.")
    speed: float = Field(1.0, ge=0.25, le=4.0, description="Speaking rate, 1.0 = normal.")


class JobOut(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    batch_id: str | None = None
    line: int | None = None
    line_id: str | None = None
    parent_id: str | None = None
    input: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    audio_url: str | None = None

    model_config = {"from_attributes": True}


class BatchOut(BaseModel):
    id: str
    kind: JobKind
    lines: int
    options: dict[str, Any]
    counts: dict[str, int]  # jobs by status
    done: bool
    created_at: datetime
    audio_url: str | None = None


# --- LLM pool: generation and dialect identification --------------------------------------


class ChatTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class SpeakOptions(BaseModel):
    """Speak a generated reply: a synthesis job is created when the generation succeeds."""

    voice: str | None = Field(None, description="Built-in voice (espeak: cmn, yue) or library voice id/name.")
    speed: float = Field(1.0, ge=0.25, le=4.0, description="Speaking rate, 1.0 = normal.")
    format: AudioFormat = Field("wav", description="Format of the synthesis job's audio.")


class GenerateRequest(BaseModel):
    """One reply of a chat model, as a job (kind ``generation``)."""

    input: str = Field(min_length=1, max_length=20_000, description="The user's new message.")
    persona: str | None = Field(None, max_length=20_000, description="System prompt: who answers, and how.")
    history: list[ChatTurn] = Field(default_factory=list, max_length=200, description="Earlier turns, oldest first.")
    thinking: bool = Field(False, description="Reason before answering; the reasoning is kept apart in result.reasoning.")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1, le=32_768, description="Tokens of reasoning and reply together.")
    speak: SpeakOptions | None = Field(None, description="Also speak the reply (a child job, linked by parent_id).")


class DialectText(BaseModel):
    """One text whose dialect the LLM names (kind ``dialect``); the answer is one of the eight labels."""

    text: str = Field(min_length=1, max_length=5_000, description="What the speaker said (a transcript).")
    context: dict[str, str] = Field(
        default_factory=dict, description='Hints passed to the model as they are, e.g. {"region": "成都"}.'
    )
    id: str | None = Field(None, max_length=200, description="Caller's id of the item, kept as the job's line_id.")


class DialectBatchRequest(BaseModel):
    items: list[DialectText] = Field(min_length=1, max_length=50_000)


class GenerateBatchRequest(BaseModel):
    items: list[GenerateRequest] = Field(min_length=1, max_length=50_000)


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
    phrases: list[str] = Field(min_length=1, max_length=10_000, description="Lines to have ready in the cache.")
    voice: str | None = Field(None, description="Built-in voice or library voice id/name.")
    speed: float = Field(1.0, ge=0.25, le=4.0)


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


class SpeechRequest(BaseModel):
    """OpenAI's ``POST /v1/audio/speech`` body, so OpenAI clients work unchanged."""

    model: str = Field(min_length=1, description="Accepted for compatibility; the deployment's engine speaks.")
    input: str = Field(min_length=1, max_length=4096, description="Text to speak.")
    voice: str = Field(min_length=1, description="Built-in voice or library voice id/name.")
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: float = Field(1.0, ge=0.25, le=4.0)
    instructions: str | None = Field(None, description="Accepted and ignored: no engine here takes style prompts.")
    stream_format: Literal["audio", "sse"] | None = Field(None, description="Only 'audio' (the whole file) is served.")
