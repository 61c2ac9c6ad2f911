"""Bad input gets a clear 4xx JSON error naming the problem, and stores nothing."""

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.config import get_settings
from shared.db import session_scope
from shared.jobs import dispatch
from shared.models import Batch, Job, JobStatus
from tests.plugins.services import NOWHERE, point_redis_at


def stored() -> tuple[int, int]:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Job)) or 0,
            session.scalar(select(func.count()).select_from(Batch)) or 0,
        )


def error_of(response) -> str:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]["message"]


def test_empty_text_is_rejected(client: TestClient) -> None:
    before = stored()
    r = client.post("/v1/synthesize", json={"text": "  \n "})
    assert r.status_code == 400 and "text is empty" in error_of(r)
    assert stored() == before


def test_unknown_voice_is_rejected_naming_it(client: TestClient) -> None:
    r = client.post("/v1/synthesize", json={"text": "你好", "voice": "nobody"})
    assert r.status_code == 400 and "unknown voice 'nobody'" in error_of(r)


def test_over_long_text_is_413(client: TestClient) -> None:
    r = client.post("/v1/synthesize", json={"text": "好" * 6000})
    assert r.status_code == 413 and "limit" in error_of(r)


def test_schema_errors_are_422_json_naming_the_field(client: TestClient) -> None:
    r = client.post("/v1/synthesize", json={"voice": "cmn"})
    assert r.status_code == 422 and "text" in error_of(r)
    r = client.post("/v1/synthesize", json={"text": "你好", "format": "aiff"})
    assert r.status_code == 422 and "format" in error_of(r)


def test_missing_and_wrong_keys_are_401(client: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer vq_wrong"}, {"Authorization": "Basic abc"}):
        r = client.get("/v1/jobs/job_x", headers=headers)
        assert r.status_code == 401, headers
        assert error_of(r)


def test_unknown_ids_are_404(client: TestClient) -> None:
    assert client.get("/v1/jobs/job_nope").status_code == 404
    assert client.get("/v1/batches/batch_nope").status_code == 404
    assert "no job 'job_nope'" in error_of(client.get("/v1/jobs/job_nope/audio"))


def upload(client: TestClient, name: str, data: bytes, **form: str):  # type: ignore[no-untyped-def]
    return client.post("/v1/batches", files={"file": (name, data)}, data=form)


def test_bad_scripts_are_rejected_and_store_nothing(client: TestClient) -> None:
    before = stored()
    cases = [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"\n \n", "empty"),
        ("latin1.txt", "早上好".encode("gb18030"), "not UTF-8"),
        ("nocol.csv", b"id,words\n1,hello\n", "no 'text' column"),
        ("hole.csv", "id,text\n1,你好\n2,\n".encode(), "line 3: empty or missing text"),
        ("broken.jsonl", b'{"text": "a"}\n{"text": \n', "line 2: not valid JSON"),
        ("notobj.jsonl", b'["a"]\n', "line 1: expected a JSON object"),
        ("voice.txt", "你好\n".encode(), "unknown voice"),
    ]
    for name, data, message in cases:
        form = {"voice": "ghost"} if name == "voice.txt" else {}
        r = upload(client, name, data, **form)
        assert r.status_code == 400, (name, r.text)
        assert message in error_of(r), (name, error_of(r))
    assert stored() == before


def test_over_limit_scripts_are_413(client: TestClient, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from shared.config import get_settings

    monkeypatch.setattr(get_settings(), "max_script_lines", 3)
    r = upload(client, "long.txt", "一\n二\n三\n四\n".encode())
    assert r.status_code == 413 and "4 lines" in error_of(r)
    monkeypatch.setattr(get_settings(), "max_script_bytes", 10)
    r = upload(client, "big.txt", "一二三四五六七八九十\n".encode())
    assert r.status_code == 413


def test_with_the_queue_unreachable_a_script_is_kept_and_its_lines_are_sent_once_it_is_back(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, broker: redis.Redis
) -> None:
    """The database holds the backlog: a batch needs no queue to be accepted."""
    reachable = get_settings().redis_url
    point_redis_at(monkeypatch, NOWHERE)

    r = upload(client, "lost.txt", "第一行，队列不在。\n第二行，也不在。\n".encode(), voice="cmn")

    assert r.status_code == 202, r.text
    with session_scope() as session:
        lines = session.scalars(select(Job).where(Job.batch_id == r.json()["id"])).all()
    assert [(job.status, job.dispatched_at) for job in lines] == [(JobStatus.queued, None)] * 2
    point_redis_at(monkeypatch, reachable)
    dispatch.dispatch_all()
    sent = b"".join(broker.lrange("tts:9", 0, -1))
    assert all(job.id.encode() in sent for job in lines)


def test_an_unknown_priority_is_a_400_naming_the_choices(client: TestClient) -> None:
    before = stored()

    r = upload(client, "s.txt", "你好。\n".encode(), priority="urgent")

    assert r.status_code == 400 and "unknown priority 'urgent': use live or bulk" in error_of(r)
    assert stored() == before
