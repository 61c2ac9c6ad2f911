"""LLMEngine over vLLM's OpenAI-compatible HTTP server.

The worker never loads a model: vLLM runs as its own server (its own virtualenv, see
``deploy/vllm-cpu/``) and batches every request in flight. One ``httpx.Client`` is shared
by all worker threads (httpx clients are thread-safe), with a pool wide enough that each
thread gets its own connection: a narrower pool would serialise requests and starve the
server's batch.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import httpx

from shared.config import Settings, get_settings
from shared.errors import EngineUnavailable, PermanentEngineError, RetryableEngineError
from workers.llm.engines.base import ChatRequest, ChatResult, Usage

logger = logging.getLogger(__name__)

# Statuses that say "try again later": overload, gateway trouble, a restarting server.
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class VLLMOpenAIEngine:
    """Chat completions against ``{base_url}/chat/completions`` of a vLLM server."""

    name = "vllm_openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        concurrency: int = 32,
        max_attempts: int = 4,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
    ) -> None:
        self.model = model
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            # The pool wait counts against the same budget as the request itself.
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> VLLMOpenAIEngine:
        settings = settings or get_settings()
        if not settings.llm_url:
            raise EngineUnavailable("no LLM server configured (set VOXQ_LLM_URL)")
        return cls(
            settings.llm_url,
            settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
            concurrency=settings.llm_concurrency,
        )

    def chat(self, request: ChatRequest) -> ChatResult:
        body = self._body(request)
        response = self._post_with_retries("/chat/completions", body)
        return _parse(response)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> VLLMOpenAIEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals -----------------------------------------------------------------------

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            # Qwen3 templates think by default; say which way explicitly every time.
            "chat_template_kwargs": {"enable_thinking": request.enable_thinking},
        }
        if request.choices is not None:
            # "structured_outputs", not the removed "guided_choice": vLLM answers the old
            # field with HTTP 200 and an unconstrained reply.
            body["structured_outputs"] = {"choice": list(request.choices)}
        return body

    def _post_with_retries(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        last: str = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._client.post(path, json=body)
            except httpx.TransportError as exc:  # refused, reset, timeouts, pool wait
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return _json(response)
                message = _error_message(response)
                if response.status_code not in _RETRYABLE_STATUS:
                    raise PermanentEngineError(f"LLM server rejected the request (HTTP {response.status_code}): {message}")
                last = f"HTTP {response.status_code}: {message}"
                retry_after = _retry_after(response)
            if attempt == self.max_attempts:
                break
            delay = self._delay(attempt, retry_after)
            logger.warning("LLM request failed (%s); attempt %d/%d, retrying in %.2fs", last, attempt, self.max_attempts, delay)
            time.sleep(delay)
        raise RetryableEngineError(f"LLM server unavailable after {self.max_attempts} attempts: {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max_s)
        # Full jitter, so threads that failed together do not come back together.
        return random.uniform(0, min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1)))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise PermanentEngineError(f"LLM server sent non-JSON (HTTP {response.status_code})") from exc
    if not isinstance(data, dict):
        raise PermanentEngineError("LLM server sent an unexpected JSON shape")
    return data


def _error_message(response: httpx.Response) -> str:
    """The server's own words: vLLM sends {"error": {"message": ...}} (older: {"message": ...})."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if data.get("message"):
            return str(data["message"])
    return response.text[:500]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _parse(data: dict[str, Any]) -> ChatResult:
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise PermanentEngineError(f"LLM server answered without a choice: {str(data)[:300]}") from exc
    usage = data.get("usage") or {}
    # vLLM renamed reasoning_content to reasoning; accept either so a server upgrade or
    # downgrade does not silently drop the reasoning.
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    return ChatResult(
        text=message.get("content") or "",
        reasoning=reasoning or None,
        finish_reason=choice.get("finish_reason"),
        usage=Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
    )
