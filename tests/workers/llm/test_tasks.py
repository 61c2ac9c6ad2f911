"""The LLM pool's tasks in a real Celery worker process (queue llm), on real vLLM and Postgres."""

import base64
import json
import time

import httpx
import pytest

from cli.events import read_events
from deploy.stack import Stack, start_stack
from deploy.vllm_server import VLLMServer
from shared.config import get_settings
from shared.dialect.labels import LABELS
from tests.plugins.services import wait_for
from tests.workers.llm.proxy import VLLMProxy, overloaded_when


def finished(api: httpx.Client, job_id: str) -> dict | None:  # type: ignore[type-arg]
    job = api.get(f"/v1/jobs/{job_id}").json()
    return job if job["status"] in ("succeeded", "failed") else None


def batch_done(api: httpx.Client, batch_id: str) -> dict | None:  # type: ignore[type-arg]
    batch = api.get(f"/v1/batches/{batch_id}").json()
    return batch if batch["done"] else None


def test_dialect_jobs_all_get_one_of_the_eight_labels(llm_stack: Stack) -> None:
    items = [
        {"text": f"第{i}句：你今天吃饭了没得？", "context": {"region": "成都"}, "id": f"line-{i}"} for i in range(64)
    ]
    with llm_stack.client() as api:
        r = api.post("/v1/dialect/batch", json={"items": items})
        assert r.status_code == 202, r.text
        assert r.json()["kind"] == "dialect"
        batch = wait_for(lambda: batch_done(api, r.json()["id"]), timeout=120)
        jobs = api.get(f"/v1/batches/{batch['id']}/jobs", params={"limit": 100}).json()

    assert batch["counts"]["succeeded"] == 64, jobs[0]["error"]

    assert {job["result"]["label"] for job in jobs} <= set(LABELS)
    assert {job["result"]["llm_label"] for job in jobs} <= set(LABELS)
    assert {job["result"]["decided_by"] for job in jobs} <= {"cpu", "llm", "agree"}
    assert [job["line_id"] for job in jobs] == [f"line-{i}" for i in range(64)]
    assert jobs[0]["input"]["context"] == {"region": "成都"}


def test_a_reply_with_thinking_keeps_the_reasoning_apart(llm_stack: Stack) -> None:
    with llm_stack.client() as api:
        body = {
            "persona": "你是一个说四川话的导游。",
            "history": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好噻"}],
            "input": "成都有啥子好耍的？",
            "thinking": True,
            "max_tokens": 24,
        }
        thinking = api.post("/v1/generate", json=body).json()
        direct = api.post("/v1/generate", json=body | {"thinking": False}).json()
        thinking = wait_for(lambda: finished(api, thinking["id"]))
        direct = wait_for(lambda: finished(api, direct["id"]))

    assert thinking["status"] == direct["status"] == "succeeded"
    # The random tiny model never closes its think block: everything it says is reasoning.
    assert thinking["result"]["reasoning"] and thinking["result"]["text"] == ""
    assert direct["result"]["reasoning"] is None and direct["result"]["text"]
    assert direct["result"]["usage"]["prompt_tokens"] > thinking["result"]["usage"]["prompt_tokens"]


def test_a_spoken_reply_becomes_a_synthesis_job_of_the_tts_pool(llm_stack: Stack) -> None:
    with llm_stack.client() as api:
        r = api.post("/v1/generate", json={"input": "讲个笑话", "max_tokens": 16, "speak": {"voice": "cmn"}})
        parent = wait_for(lambda: finished(api, r.json()["id"]))
        assert parent["status"] == "succeeded", parent
        child_id = parent["result"]["speech_job_id"]
        child = wait_for(lambda: finished(api, child_id), timeout=120)
        audio = api.get(f"/v1/jobs/{child_id}/audio")

    assert child["kind"] == "synthesis" and child["status"] == "succeeded", child
    assert child["parent_id"] == parent["id"]
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"


def test_an_unknown_voice_is_refused_before_anything_is_generated(llm_stack: Stack) -> None:
    with llm_stack.client() as api:
        r = api.post("/v1/generate", json={"input": "你好", "speak": {"voice": "no-such-voice"}})

    assert r.status_code == 400, r.text


def test_a_request_the_model_server_rejects_fails_the_job_at_once(llm_stack: Stack) -> None:
    with llm_stack.client() as api:
        r = api.post("/v1/generate", json={"input": "你好", "max_tokens": 30_000})
        job = wait_for(lambda: finished(api, r.json()["id"]))

    assert job["status"] == "failed"
    assert job["attempts"] == 1
    assert "max_model_len" in job["error"]


def test_generation_batches_are_followed_like_any_batch(llm_stack: Stack) -> None:
    items = [{"input": f"第{i}个问题", "max_tokens": 8} for i in range(20)]
    with llm_stack.client() as api:
        r = api.post("/v1/generate/batch", json={"items": items})
        assert r.status_code == 202, r.text
        batch = wait_for(lambda: batch_done(api, r.json()["id"]), timeout=120)

    assert batch["kind"] == "generation" and batch["counts"]["succeeded"] == 20


def _one_dialect_job(stack: Stack, text: str, timeout: float) -> dict:  # type: ignore[type-arg]
    """Start an LLM worker on `stack`, identify one text, and stop the stack; the finished job."""
    try:
        stack.start_worker("llm", 2)
        with stack.client() as api:
            r = api.post("/v1/dialect/batch", json={"items": [{"text": text}]})
            job_id = api.get(f"/v1/batches/{r.json()['id']}/jobs").json()[0]["id"]
            return wait_for(lambda: finished(api, job_id), timeout=timeout)
    finally:
        stack.stop()


def test_an_unreachable_model_server_is_retried_then_the_job_fails(
    tmp_path_factory: pytest.TempPathFactory, pg_database: str, vllm_server: VLLMServer
) -> None:
    dead = "http://127.0.0.1:9/v1"  # discard port: connection refused
    stack = start_stack(
        tmp_path_factory.mktemp("stack-llm-dead"),
        pg_database,
        tts_workers=0,
        VOXQ_LLM_URL=dead,
        VOXQ_LLM_MODEL=vllm_server.model,
        VOXQ_TASK_MAX_RETRIES="1",
        VOXQ_TASK_RETRY_BACKOFF_MAX_S="1",
    )
    job = _one_dialect_job(stack, "你好", timeout=90)

    assert job["status"] == "failed"
    assert job["attempts"] == 2  # the first try and one Celery retry
    assert "gave up" in job["error"] and "ConnectError" in job["error"]


def test_when_the_model_server_rejects_a_dialect_request_the_cpu_answer_stands(
    tmp_path_factory: pytest.TempPathFactory, pg_database: str, vllm_server: VLLMServer
) -> None:
    stack = start_stack(
        tmp_path_factory.mktemp("stack-llm-wrong-model"),
        pg_database,
        tts_workers=0,
        VOXQ_LLM_URL=vllm_server.base_url,
        VOXQ_LLM_MODEL="no-such-model",
    )
    job = _one_dialect_job(stack, "佢哋而家喺邊度食緊飯？", timeout=60)

    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert job["result"]["label"] == "粤语" and job["result"]["decided_by"] == "cpu"
    assert "no-such-model" in job["result"]["llm_error"]


def test_the_worker_holds_no_more_messages_than_it_runs_and_the_list_no_more_than_the_window(
    llm_stack: Stack,
) -> None:
    import threading

    import redis

    broker = redis.Redis.from_url(llm_stack.env["VOXQ_REDIS_URL"])
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((broker.llen("llm:9"), broker.hlen("unacked")))  # a batch: the bulk lane
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    items = [{"text": f"第{i}句：这个火锅巴适得很。"} for i in range(300)]
    with llm_stack.client() as api:
        sampler.start()
        r = api.post("/v1/dialect/batch", json={"items": items})
        batch = wait_for(lambda: batch_done(api, r.json()["id"]), timeout=120)
        done.set()

    assert batch["counts"]["succeeded"] == 300
    # 300 jobs in groups of 4 are 75 messages. The llm worker runs 4 threads: it reserves at
    # most 4 messages; the list holds at most the dispatcher's window, the rest waits in the database.
    assert max(unacked for _, unacked in samples) <= 4
    assert 0 < max(length for length, _ in samples) <= get_settings().dispatch_window


def test_a_reply_with_nothing_to_say_records_why_it_was_not_spoken(llm_stack: Stack) -> None:
    # With thinking on, the random tiny model never closes its think block: the reply is empty.
    with llm_stack.client() as api:
        r = api.post(
            "/v1/generate", json={"input": "你好", "thinking": True, "max_tokens": 8, "speak": {"voice": "cmn"}}
        )
        parent = wait_for(lambda: finished(api, r.json()["id"]))

    assert parent["status"] == "succeeded" and parent["result"]["text"] == ""
    assert parent["result"]["speech_error"] == "the reply is empty: nothing to speak"
    assert parent["result"]["speech_job_id"] is None


def test_one_message_carries_a_group_whose_jobs_end_each_on_their_own(llm_stack: Stack) -> None:
    """A group of four: two ordinary texts, one input no job may hold, and one text longer
    than the model's context, which the server refuses (the CPU answer then stands)."""
    from celery import Celery
    from sqlalchemy.orm import Session

    from shared.db import make_engine
    from shared.models import Job, JobKind
    from shared.tenants.auth import tenant_for_key

    inputs = [
        {"text": "佢哋喺度食紧饭"},
        {"text": 42},
        {"text": "".join(f"侬今朝去哪能{i}？" for i in range(450))},
        {"text": "今天天气很好。"},
    ]
    with Session(make_engine(llm_stack.env["VOXQ_DATABASE_URL"]), expire_on_commit=False) as s:
        tenant = tenant_for_key(s, llm_stack.key)
        group = [Job(tenant_id=tenant, kind=JobKind.dialect, input=data) for data in inputs]
        s.add_all(group)
        s.commit()
    ids = [job.id for job in group]
    sender = Celery(broker=llm_stack.env["VOXQ_REDIS_URL"])
    sender.send_task("voxq.llm.dialect", args=[ids], queue="llm")
    shanghainese, invalid_id, too_long, mandarin = ids
    with llm_stack.client() as api:
        done = {
            job_id: wait_for(lambda job_id=job_id: finished(api, job_id), timeout=60)
            for job_id in (shanghainese, too_long, mandarin)
        }
    # The API only ever stores typed input, so it does not show this row: read it directly.
    with Session(make_engine(llm_stack.env["VOXQ_DATABASE_URL"])) as s:
        invalid = wait_for(
            lambda: (lambda j: j if j.status not in ("queued", "running") else None)(
                s.get(Job, invalid_id, populate_existing=True)
            )
        )

    assert all(job["status"] == "succeeded" and job["attempts"] == 1 for job in done.values())
    assert invalid.status == "failed" and invalid.attempts == 1 and "invalid dialect input" in (invalid.error or "")
    assert done[shanghainese]["result"]["llm_label"] in LABELS and done[shanghainese]["result"]["llm_error"] is None
    assert done[too_long]["result"]["decided_by"] == "cpu" and "HTTP 400" in done[too_long]["result"]["llm_error"]
    assert done[too_long]["result"]["label"] == "上海话"


def test_in_a_group_only_the_job_that_could_not_get_through_goes_round_again(
    tmp_path_factory: pytest.TempPathFactory, pg_database: str, vllm_server: VLLMServer
) -> None:
    with VLLMProxy(vllm_server.base_url, overloaded_when("过载")) as proxy:
        stack = start_stack(
            tmp_path_factory.mktemp("stack-llm-partial"),
            pg_database,
            tts_workers=0,
            VOXQ_LLM_URL=proxy.url,
            VOXQ_LLM_MODEL=vllm_server.model,
            VOXQ_LLM_GROUP_SIZE="4",
            VOXQ_TASK_MAX_RETRIES="1",
            VOXQ_TASK_RETRY_BACKOFF_MAX_S="1",
        )
        try:
            stack.start_worker("llm", 1)
            with stack.client() as api:
                items = [{"input": text, "max_tokens": 4} for text in ("你好", "服务器过载了", "早上好")]
                r = api.post("/v1/generate/batch", json={"items": items})
                assert r.status_code == 202, r.text
                wait_for(lambda: batch_done(api, r.json()["id"]), timeout=90)
                jobs = api.get(f"/v1/batches/{r.json()['id']}/jobs").json()
        finally:
            stack.stop()

    assert [job["status"] for job in jobs] == ["succeeded", "failed", "succeeded"]
    assert [job["attempts"] for job in jobs] == [1, 2, 1]  # the two that finished were not asked again
    assert "gave up after 2 attempts" in jobs[1]["error"] and "503" in jobs[1]["error"]
    asked = [json.dumps(body, ensure_ascii=False) for path, body in proxy.requests if path == "/v1/chat/completions"]
    assert sum("你好" in a for a in asked) == 1 and sum("早上好" in a for a in asked) == 1


def _stream(api: httpx.Client, body: dict) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    with api.stream("POST", "/v1/generate", json=body | {"stream": True}, timeout=180) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(read_events(r.iter_lines()))


def test_a_streamed_spoken_reply_sends_its_text_then_each_sentence_s_audio_in_order(llm_stack: Stack) -> None:
    body = {"input": "讲个故事", "max_tokens": 120, "temperature": 1.0, "speak": {"voice": "cmn"}}
    with llm_stack.client() as api:
        events = _stream(api, body)
        names = [name for name, _ in events]
        done = events[-1][1]
        audio = [data for name, data in events if name == "audio"]
        wav = api.get(audio[0]["url"])

    assert names[-1] == "done" and done["status"] == "succeeded", events[-3:]
    assert "error" not in names and "speech_error" not in names
    text = "".join(data["text"] for name, data in events if name == "text")
    assert text == done["result"]["text"]
    # Every sentence spoken, once, in order, and the job lists the same synthesis jobs.
    assert [a["index"] for a in audio] == list(range(len(audio))) and audio
    assert [a["job_id"] for a in audio] == done["result"]["speech_job_ids"]
    assert "".join(a["text"] for a in audio).replace(" ", "") == "".join(text.split())
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"


def test_a_streamed_reply_with_thinking_speaks_none_of_its_reasoning(llm_stack: Stack) -> None:
    body = {"input": "你好", "thinking": True, "max_tokens": 24, "speak": {"voice": "cmn"}, "stream_audio": "base64"}
    with llm_stack.client() as api:
        events = _stream(api, body)

    done = events[-1][1]
    reasoning = "".join(data["reasoning"] for name, data in events if name == "text")
    # The random tiny model never closes its think block: all of it is reasoning, none spoken.
    assert reasoning == done["result"]["reasoning"] and reasoning
    assert not [name for name, _ in events if name == "audio"]
    assert done["result"]["speech_job_ids"] == []
    assert done["result"]["speech_error"] == "the reply is empty: nothing to speak"


def test_base64_audio_comes_inside_the_events(llm_stack: Stack) -> None:
    body = {"input": "你好", "max_tokens": 24, "speak": {"voice": "cmn", "format": "flac"}, "stream_audio": "base64"}
    with llm_stack.client() as api:
        events = _stream(api, body)

    audio = [data for name, data in events if name == "audio"]
    assert audio and all(base64.b64decode(a["base64"])[:4] == b"fLaC" for a in audio)


def test_a_client_that_leaves_mid_stream_cancels_nothing(llm_stack: Stack) -> None:
    body = {"input": "讲个故事", "max_tokens": 120, "speak": {"voice": "cmn"}, "stream": True}
    with llm_stack.client() as api:
        with api.stream("POST", "/v1/generate", json=body) as r:
            job_id = r.headers["x-voxqueue-job-id"]
            next(r.iter_lines())  # the first line, then away
        job = wait_for(lambda: finished(api, job_id), timeout=120)
        spoken = [wait_for(lambda i=i: finished(api, i), timeout=120) for i in job["result"]["speech_job_ids"]]

    assert job["status"] == "succeeded" and spoken
    assert all(s["status"] == "succeeded" and s["parent_id"] == job_id for s in spoken)


def test_a_batch_of_replies_cannot_be_streamed(llm_stack: Stack) -> None:
    with llm_stack.client() as api:
        r = api.post("/v1/generate/batch", json={"items": [{"input": "一"}, {"input": "二", "stream": True}]})

    assert r.status_code == 400 and "stream" in r.json()["error"]["message"]
