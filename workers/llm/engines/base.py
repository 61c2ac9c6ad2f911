"""The seam between LLM task code and language-model engines.

Only these plain dataclasses cross it; the task code never sees HTTP, JSON or a model
library. The real implementation is ``vllm_openai.py`` (vLLM's OpenAI-compatible server).
"""

from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion.

    ``choices`` constrains the whole answer to exactly one of the given strings (the server
    enforces it while decoding); None leaves the answer free.
    """

    messages: tuple[ChatMessage, ...]
    enable_thinking: bool = False
    choices: tuple[str, ...] | None = None
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ChatResult:
    """The answer, with the model's reasoning kept apart (None when thinking was off)."""

    text: str
    reasoning: str | None
    finish_reason: str | None  # "stop", "length", ...
    usage: Usage = field(default_factory=Usage)


class LLMEngine(Protocol):
    """A chat model. Implementations must be safe to call from many threads at once."""

    name: str  # "vllm_openai": recorded with each result
    model: str

    def chat(self, request: ChatRequest) -> ChatResult:
        """Run one chat completion. Raises RetryableEngineError or PermanentEngineError."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
