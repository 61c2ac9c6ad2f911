"""LLMEngine over vLLM's OpenAI-compatible HTTP server.

The worker never loads a model: vLLM runs as its own server (its own virtualenv, see
``deploy/vllm-cpu/``) and batches every request in flight. One ``httpx.Client`` is shared
by all worker threads (httpx clients are thread-safe), with a pool wide enough that each
thread gets its own connection: a narrower pool would serialise requests and starve the
server's batch.

``chat_many`` sends chats that differ only in their messages (a group of dialect jobs) as
one request to vLLM's ``/chat/completions/batch``: one HTTP exchange and one pass through
the server's front end for the lot. On 2 cores with the tiny test model, 512 dialect
requests went at 156/s one by one and at 221/s as batches of 16, two at a time (32 chats in
flight either way), because vLLM's per-request HTTP and scheduling work, not the model, is
the cost.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from shared.config import Settings, get_settings
from shared.errors import EngineError, EngineUnavailable, PermanentEngineError, RetryableEngineError
from workers.llm.engines.base import ChatDelta, ChatRequest, ChatResult, Usage

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
        self._concurrency = concurrency
        # False once the server has said it has no batch endpoint: ask one chat at a time.
        self._batch_endpoint = True
        self._pool: ThreadPoolExecutor | None = None  # for chats sent one at a time, made on first use

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> VLLMOpenAIEngine:
        settings = settings or get_settings()
        if not settings.llm_url:
            raise EngineUnavailable("no LLM server configured (set VOXQ_LLM_URL)")
        return cls(
            settings.llm_url,
            settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else None,
            timeout_s=settings.llm_timeout_s,
            concurrency=settings.llm_concurrency,
        )

    def chat(self, request: ChatRequest) -> ChatResult:
        body = self._body(request)
        response = self._post_with_retries("/chat/completions", body)
        return _parse(response)

    def chat_stream(self, request: ChatRequest) -> Iterator[ChatDelta]:
        """The reply as vLLM writes it: its server-sent events, one piece each, the last one
        with the finish reason and the token usage (``stream_options.include_usage``)."""
        body = self._body(request) | {"stream": True, "stream_options": {"include_usage": True}}
        response = self._open("/chat/completions", body, stream=True)
        try:
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators and comments
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    return
                if delta := _delta(json.loads(data)):
                    yield delta
        except httpx.TransportError as exc:  # cut off mid-reply: the job goes round again
            raise RetryableEngineError(f"the LLM server's stream broke off: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:
            raise PermanentEngineError(f"LLM server streamed something that is not JSON: {exc}") from exc
        finally:
            response.close()

    def chat_many(self, requests: Sequence[ChatRequest], *, batch: bool = True) -> list[ChatResult | EngineError]:
        """Several chats, answered in order; a chat that failed gets its error in its place
        (PermanentEngineError: refused; RetryableEngineError: the server could not be reached).

        With `batch`, chats with the same settings go as one batch request, whose results
        carry no token usage (the server reports only the batch's total). A server without
        the batch endpoint (vLLM before it had one), or a batch refused as a whole (one
        conversation too long, say), is asked one chat per request, concurrently, so that
        each chat gets its own answer or its own error; so is every chat without `batch`.
        """
        results: dict[int, ChatResult | EngineError] = {}
        for indexes in _same_settings(requests).values():
            group = [requests[i] for i in indexes]
            answers = self._batch(group) if batch and len(group) > 1 and self._batch_endpoint else None
            if answers is None:
                answers = self._one_by_one(group)
            results.update(zip(indexes, answers, strict=True))
        return [results[i] for i in range(len(requests))]

    def close(self) -> None:
        self._client.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def __enter__(self) -> VLLMOpenAIEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals -----------------------------------------------------------------------

    def _batch(self, requests: list[ChatRequest]) -> list[ChatResult | EngineError] | None:
        """One request to /chat/completions/batch; None when the server would not take it."""
        body = self._body(requests[0])
        body["messages"] = [_messages(request) for request in requests]
        try:
            data = self._post_with_retries("/chat/completions/batch", body)
        except RetryableEngineError as exc:
            return [exc] * len(requests)
        except _NoSuchEndpoint:
            logger.warning("the LLM server has no /chat/completions/batch: sending chats one at a time")
            self._batch_endpoint = False
            return None
        except PermanentEngineError as exc:
            logger.info("the LLM server refused a batch of %d (%s): asking one chat at a time", len(requests), exc)
            return None
        return _parse_batch(data, len(requests))

    def _one_by_one(self, requests: list[ChatRequest]) -> list[ChatResult | EngineError]:
        if len(requests) == 1:
            return [self._chat_or_error(requests[0])]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="llm-chat")
        return list(self._pool.map(self._chat_or_error, requests))

    def _chat_or_error(self, request: ChatRequest) -> ChatResult | EngineError:
        try:
            return self.chat(request)
        except EngineError as exc:
            return exc

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": _messages(request),
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
        response = self._open(path, body, stream=False)
        return _json(response)

    def _open(self, path: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        """POST until the server answers with a success status; a streamed answer is
        returned open, its body still to be read (the caller closes it)."""
        last: str = ""
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._client.send(self._client.build_request("POST", path, json=body), stream=stream)
            except httpx.TransportError as exc:  # refused, reset, timeouts, pool wait
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                if stream:
                    response.read()  # the error body, then let the connection go
                    response.close()
                message = _error_message(response)
                if response.status_code in (404, 405) and not _is_api_error(response):
                    raise _NoSuchEndpoint(f"LLM server has no {path} (HTTP {response.status_code})")
                if response.status_code not in _RETRYABLE_STATUS:
                    raise PermanentEngineError(
                        f"LLM server rejected the request (HTTP {response.status_code}): {message}"
                    )
                last = f"HTTP {response.status_code}: {message}"
                retry_after = _retry_after(response)
            if attempt == self.max_attempts:
                break
            delay = self._delay(attempt, retry_after)
            logger.warning(
                "LLM request failed (%s); attempt %d/%d, retrying in %.2fs", last, attempt, self.max_attempts, delay
            )
            time.sleep(delay)
        raise RetryableEngineError(f"LLM server unavailable after {self.max_attempts} attempts: {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.backoff_max_s)
        # Full jitter, so threads that failed together do not come back together.
        return random.uniform(0, min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1)))


class _NoSuchEndpoint(PermanentEngineError):
    """The server does not have the path asked for (as opposed to refusing the request)."""


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in request.messages]


def _same_settings(requests: Sequence[ChatRequest]) -> dict[ChatRequest, list[int]]:
    """Indexes of the requests, grouped by everything but their messages."""
    groups: dict[ChatRequest, list[int]] = {}
    for i, request in enumerate(requests):
        groups.setdefault(dataclasses.replace(request, messages=()), []).append(i)
    return groups


def _is_api_error(response: httpx.Response) -> bool:
    """vLLM answers a request it refuses (an unknown model: 404) with an OpenAI error
    object; a path it does not serve gets the web framework's {"detail": "Not Found"}."""
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and "error" in data


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


def _parse_batch(data: dict[str, Any], expected: int) -> list[ChatResult | EngineError]:
    """One result per conversation, by the choices' ``index``. The batch's token usage is a
    total, so the results carry none of their own."""
    try:
        by_index = {int(choice["index"]): choice for choice in data["choices"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise PermanentEngineError(f"LLM server answered a batch without indexed choices: {str(data)[:300]}") from exc
    if sorted(by_index) != list(range(expected)):
        raise PermanentEngineError(f"LLM server answered {len(by_index)} of a batch of {expected} chats")
    return [_choice(by_index[i], None) for i in range(expected)]


def _parse(data: dict[str, Any]) -> ChatResult:
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError) as exc:
        raise PermanentEngineError(f"LLM server answered without a choice: {str(data)[:300]}") from exc
    usage = data.get("usage") or {}
    return _choice(
        choice,
        Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
    )


def _delta(chunk: dict[str, Any]) -> ChatDelta | None:
    """One streamed chunk as a piece of the reply; None for a chunk that adds nothing."""
    if error := chunk.get("error"):  # vLLM reports a failure mid-stream as an event of its own
        raise PermanentEngineError(f"LLM server failed mid-reply: {error}")
    usage = chunk.get("usage")
    choices = chunk.get("choices") or [{}]
    delta = choices[0].get("delta") or {}
    piece = ChatDelta(
        text=delta.get("content") or "",
        reasoning=delta.get("reasoning") or delta.get("reasoning_content") or "",
        finish_reason=choices[0].get("finish_reason"),
        usage=None
        if not usage
        else Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        ),
    )
    return piece if piece != ChatDelta() else None


def _choice(choice: dict[str, Any], usage: Usage | None) -> ChatResult:
    try:
        message = choice["message"]
    except (KeyError, TypeError) as exc:
        raise PermanentEngineError(f"LLM server answered a choice without a message: {str(choice)[:300]}") from exc
    # vLLM renamed reasoning_content to reasoning; accept either so a server upgrade or
    # downgrade does not silently drop the reasoning.
    reasoning = message.get("reasoning") or message.get("reasoning_content")
    return ChatResult(
        text=message.get("content") or "",
        reasoning=reasoning or None,
        finish_reason=choice.get("finish_reason"),
        usage=usage,
    )
