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
