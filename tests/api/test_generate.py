"""POST /v1/generate in the in-process API: what is refused before any job exists."""

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.config import get_settings
from shared.db import session_scope
from shared.models import Job


def jobs_stored() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def messages_waiting() -> int:
    return int(redis.Redis.from_url(get_settings().redis_url).llen("llm"))


def test_generation_without_an_llm_server_is_a_503_and_stores_nothing(client: TestClient) -> None:
    before = (jobs_stored(), messages_waiting())

    r = client.post("/v1/generate", json={"input": "你好"})

    assert r.status_code == 503
    assert "VOXQ_LLM_URL" in r.json()["error"]["message"]
    assert (jobs_stored(), messages_waiting()) == before


def test_a_reply_to_be_spoken_in_an_unknown_voice_is_refused_before_any_job_exists(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "llm_url", "http://127.0.0.1:9/v1")  # never asked: refused first
    before = (jobs_stored(), messages_waiting())

    single = client.post("/v1/generate", json={"input": "你好", "speak": {"voice": "nobody"}})
    many = client.post(
        "/v1/generate/batch", json={"items": [{"input": "一"}, {"input": "二", "speak": {"voice": "nobody"}}]}
    )

    assert single.status_code == 400 and "unknown voice 'nobody'" in single.json()["error"]["message"]
    assert many.status_code == 400
    assert (jobs_stored(), messages_waiting()) == before


def test_a_generation_needs_an_input(client: TestClient) -> None:
    assert client.post("/v1/generate", json={"persona": "导游"}).status_code == 422
