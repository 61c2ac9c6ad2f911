"""The vLLM OpenAI client against a real vLLM CPU server serving the tiny Qwen3 model."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from deploy.vllm_server import VLLMServer
from shared.dialect.labels import LABELS
from shared.errors import PermanentEngineError, RetryableEngineError
from tests.workers.llm.proxy import OVERLOADED, VLLMProxy, overloaded_when, without_batch_route
from workers.llm.engines.base import ChatMessage, ChatRequest, ChatResult
from workers.llm.engines.vllm_openai import VLLMOpenAIEngine

PROMPTS = [f"第{i}段录音：{'今天我们去吃饭' if i % 2 else '你说的是什么话'}，请判断方言。" for i in range(64)]


@pytest.fixture(scope="module")
def engine(vllm_server: VLLMServer) -> Iterator[VLLMOpenAIEngine]:
    with VLLMOpenAIEngine(vllm_server.base_url, vllm_server.model, concurrency=32, timeout_s=60) as engine:
        yield engine


def _ask(prompt: str, **options: object) -> ChatRequest:
    return ChatRequest(messages=(ChatMessage("user", prompt),), **options)  # type: ignore[arg-type]


def _run_all(engine: VLLMOpenAIEngine, requests: list[ChatRequest], threads: int = 32) -> list[ChatResult]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(engine.chat, requests))


def test_every_constrained_answer_is_one_of_the_eight_labels(engine: VLLMOpenAIEngine) -> None:
    requests = [_ask(p, choices=LABELS, temperature=1.0, max_tokens=16) for p in PROMPTS]

    answers = [r.text for r in _run_all(engine, requests)]

    assert len(answers) == 64
    assert set(answers) <= set(LABELS)
    # Random weights at temperature 1 should not collapse onto one label.
    assert len(set(answers)) > 1


def test_the_same_prompts_without_the_constraint_do_not_always_give_a_label(engine: VLLMOpenAIEngine) -> None:
    requests = [_ask(p, temperature=1.0, max_tokens=16) for p in PROMPTS]

    answers = [r.text for r in _run_all(engine, requests)]

    assert sum(a not in LABELS for a in answers) > len(answers) // 2


def test_thinking_off_opens_the_reply_with_an_empty_think_block(engine: VLLMOpenAIEngine) -> None:
    thinking = engine.chat(_ask("你好", enable_thinking=True, max_tokens=24, temperature=0.0))
    direct = engine.chat(_ask("你好", enable_thinking=False, max_tokens=24, temperature=0.0))

    # "<think>\n\n</think>\n\n" is in the rendered prompt only when thinking is off.
    assert direct.usage.prompt_tokens > thinking.usage.prompt_tokens
    assert direct.reasoning is None
    # The random model never closes its think block, so all it says is reasoning.
    assert thinking.reasoning
    assert thinking.text == ""


def test_thinking_output_stays_out_of_the_answer_with_a_constraint(engine: VLLMOpenAIEngine) -> None:
    result = engine.chat(_ask("哪种方言？", enable_thinking=False, choices=LABELS, max_tokens=16))

    assert result.text in LABELS
    assert result.reasoning is None
    assert result.finish_reason == "stop"


def test_a_request_the_server_rejects_is_permanent_and_carries_its_message(engine: VLLMOpenAIEngine) -> None:
    with pytest.raises(PermanentEngineError) as caught:
        engine.chat(_ask("你好", max_tokens=100_000))

    assert "HTTP 400" in str(caught.value)
    assert "max_model_len" in str(caught.value)


def test_an_unknown_model_name_is_permanent(vllm_server: VLLMServer) -> None:
    with (
        VLLMOpenAIEngine(vllm_server.base_url, "no-such-model") as engine,
        pytest.raises(PermanentEngineError, match="no-such-model"),
    ):
        engine.chat(_ask("你好", max_tokens=4))


def test_many_concurrent_requests_all_complete(engine: VLLMOpenAIEngine) -> None:
    requests = [_ask(f"请随便说几句话，编号{i}", max_tokens=32, temperature=1.0) for i in range(256)]

    results = _run_all(engine, requests, threads=32)

    assert len(results) == 256
    assert all(r.finish_reason in {"stop", "length"} for r in results)
    assert all(r.usage.completion_tokens > 0 for r in results)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_retried_then_raised_as_retryable() -> None:
    port = _free_port()  # nothing listens here
    engine = VLLMOpenAIEngine(f"http://127.0.0.1:{port}/v1", "m", max_attempts=3, backoff_s=0.01)

    with pytest.raises(RetryableEngineError, match="after 3 attempts.*ConnectError"):
        engine.chat(_ask("你好"))


def test_a_5xx_is_retried_a_few_times_then_raised_as_retryable() -> None:
    with VLLMProxy("http://127.0.0.1:9/v1", lambda path, body: OVERLOADED) as server:  # answers all itself
        engine = VLLMOpenAIEngine(server.url, "m", max_attempts=4, backoff_s=0.01)
        with pytest.raises(RetryableEngineError, match="HTTP 503: engine overloaded"):
            engine.chat(_ask("你好"))

    assert len(server.requests) == 4


def test_chats_with_the_same_settings_go_as_one_batch_and_come_back_in_order(engine: VLLMOpenAIEngine) -> None:
    constrained = [_ask(p, choices=LABELS, temperature=0.0, max_tokens=16) for p in PROMPTS[:12]]
    free = [_ask(p, temperature=1.0, max_tokens=16) for p in PROMPTS[12:24]]
    mixed = [request for pair in zip(constrained, free, strict=True) for request in pair]

    results = engine.chat_many(mixed)

    assert len(results) == 24 and all(isinstance(r, ChatResult) for r in results)
    answers = [r.text for r in results]  # type: ignore[union-attr]
    assert set(answers[0::2]) <= set(LABELS)
    assert sum(a not in LABELS for a in answers[1::2]) > 6
    # Batched answers carry no usage of their own: the server reports only the batch's total.
    assert all(r.usage is None for r in results)  # type: ignore[union-attr]


def test_without_batching_each_chat_keeps_its_token_usage(engine: VLLMOpenAIEngine) -> None:
    results = engine.chat_many([_ask(p, max_tokens=8, temperature=1.0) for p in PROMPTS[:6]], batch=False)

    assert all(isinstance(r, ChatResult) and r.usage and r.usage.completion_tokens > 0 for r in results)


def test_a_chat_the_server_refuses_gets_its_error_and_the_rest_their_answers(engine: VLLMOpenAIEngine) -> None:
    too_long = "".join(f"第{i}句话很长。" for i in range(3000))
    requests = [_ask(p, choices=LABELS, temperature=0.0, max_tokens=16) for p in (*PROMPTS[:2], too_long, PROMPTS[2])]

    results = engine.chat_many(requests)

    assert isinstance(results[2], PermanentEngineError) and "HTTP 400" in str(results[2])
    assert all(isinstance(results[i], ChatResult) and results[i].text in LABELS for i in (0, 1, 3))  # type: ignore[union-attr]


def test_a_server_without_the_batch_endpoint_is_asked_one_chat_at_a_time(vllm_server: VLLMServer) -> None:
    with (
        VLLMProxy(vllm_server.base_url, without_batch_route) as proxy,
        VLLMOpenAIEngine(proxy.url, vllm_server.model, concurrency=4) as engine,
    ):
        first = engine.chat_many([_ask(p, choices=LABELS, max_tokens=16) for p in PROMPTS[:3]])
        second = engine.chat_many([_ask(p, choices=LABELS, max_tokens=16) for p in PROMPTS[3:6]])

    assert all(isinstance(r, ChatResult) and r.text in LABELS for r in [*first, *second])  # type: ignore[union-attr]
    # Asked for the batch route once, then remembered that the server has none.
    assert proxy.paths().count("/v1/chat/completions/batch") == 1
    assert proxy.paths().count("/v1/chat/completions") == 6


def test_a_chat_that_cannot_get_through_gets_a_retryable_error_and_the_rest_their_answers(
    vllm_server: VLLMServer,
) -> None:
    with (
        VLLMProxy(vllm_server.base_url, overloaded_when("过载")) as proxy,
        VLLMOpenAIEngine(proxy.url, vllm_server.model, max_attempts=2, backoff_s=0.01) as engine,
    ):
        results = engine.chat_many([_ask(p, max_tokens=4) for p in ("你好", "过载了", "早上好")], batch=False)

    assert isinstance(results[0], ChatResult) and isinstance(results[2], ChatResult)
    assert isinstance(results[1], RetryableEngineError) and "503" in str(results[1])


def test_a_streamed_reply_comes_in_pieces_that_add_up_to_the_whole(engine: VLLMOpenAIEngine) -> None:
    request = _ask("你好", enable_thinking=False, max_tokens=24, temperature=0.0)

    pieces = list(engine.chat_stream(request))
    whole = engine.chat(request)

    assert len(pieces) > 1
    assert "".join(p.text for p in pieces) == whole.text
    assert pieces[-1].usage == whole.usage  # stream_options.include_usage: the last piece
    assert whole.finish_reason in {p.finish_reason for p in pieces}


def test_streamed_reasoning_comes_apart_from_the_reply(engine: VLLMOpenAIEngine) -> None:
    pieces = list(engine.chat_stream(_ask("你好", enable_thinking=True, max_tokens=24, temperature=0.0)))

    # The random tiny model never closes its think block: all of it is reasoning.
    assert "".join(p.reasoning for p in pieces) and not "".join(p.text for p in pieces)


def test_a_streamed_request_the_server_rejects_is_permanent(engine: VLLMOpenAIEngine) -> None:
    with pytest.raises(PermanentEngineError, match="max_model_len"):
        list(engine.chat_stream(_ask("你好", max_tokens=100_000)))
