"""The seam between LLM task code and language-model engines.

Only these plain dataclasses cross it; the task code never sees HTTP, JSON or a model
library. The real implementation is ``vllm_openai.py`` (vLLM's OpenAI-compatible server).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from shared.errors import EngineError

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
    usage: Usage | None = field(default_factory=Usage)  # None: answered in a batch, which has only a total


@dataclass(frozen=True)
class ChatDelta:
    """A piece of a streamed reply: new reply text, new reasoning, or (last) how it ended."""

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None  # only on the last piece


class LLMEngine(Protocol):
    """A chat model. Implementations must be safe to call from many threads at once."""

    name: str  # "vllm_openai": recorded with each result
    model: str

    def chat(self, request: ChatRequest) -> ChatResult:
        """Run one chat completion. Raises RetryableEngineError or PermanentEngineError."""
        ...

    def chat_many(self, requests: Sequence[ChatRequest], *, batch: bool = True) -> list[ChatResult | EngineError]:
        """Run several chat completions at once; a chat that failed gets its error in its
        place (Permanent- or RetryableEngineError). `batch`: in as few requests as the
        server allows, at the price of per-chat token usage; otherwise one request each."""
        ...

    def chat_stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        """Run one chat completion and yield the reply as the model writes it. A failure
        before the first piece is retried like `chat`; one after it raises
        RetryableEngineError (the pieces already given cannot be taken back)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
