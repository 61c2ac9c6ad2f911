"""Cancelling a batch through the API in this process (no worker: every line waits): its
queued lines are cancelled in one go, their messages leave the queue, and the batch ends as
cancelled; another tenant's batch is a 404, and an ended batch is left as it is."""

import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from api.main import app
from shared.db import session_scope
from shared.migrate import upgrade
from shared.tenants.auth import create_key


@pytest.fixture
def api(broker: redis.Redis) -> Iterator[TestClient]:
    upgrade()
    with session_scope() as session:
        key = create_key(session, f"cancel-{uuid.uuid4().hex[:8]}")
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def waiting_messages_of(broker: redis.Redis, batch_id: str) -> int:
    return sum(batch_id.encode() in item for name in ("tts", "tts:9") for item in broker.lrange(name, 0, -1))


def test_cancel_ends_a_waiting_batch_and_takes_its_messages_off_the_queue(
    api: TestClient, broker: redis.Redis, client: TestClient
) -> None:
    script = "\n".join(f"第{i}行，还没有人念。" for i in range(30)).encode()
    batch = api.post("/v1/batches", files={"file": ("a.txt", script)}, data={"voice": "cmn"}).json()
    other = api.post("/v1/batches", files={"file": ("b.txt", "别的批次。".encode())}, data={"voice": "cmn"}).json()
    assert waiting_messages_of(broker, batch["id"]) == 30

    cancelled = api.post(f"/v1/batches/{batch['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    shown = cancelled.json()
    assert (shown["status"], shown["done"], shown["counts"]["cancelled"], shown["counts"]["queued"]) == (
        "cancelled",
        True,
        30,
        0,
    )
    assert shown["audio_url"] is None
    assert waiting_messages_of(broker, batch["id"]) == 0
    assert waiting_messages_of(broker, other["id"]) == 1  # another batch's line stays
    lines = api.get(f"/v1/batches/{batch['id']}/jobs", params={"status": "cancelled"}).json()
    assert len(lines) == 30 and all(j["attempts"] == 0 and j["started_at"] is None for j in lines)
    assert api.get(f"/v1/batches/{batch['id']}/audio").status_code == 409
    # Again: nothing changes, still 200.
    assert api.post(f"/v1/batches/{batch['id']}/cancel").json()["counts"] == shown["counts"]
    # Another tenant's key cannot tell the batch exists.
    assert client.post(f"/v1/batches/{other['id']}/cancel").status_code == 404
    assert api.get(f"/v1/batches/{other['id']}").json()["counts"]["queued"] == 1


def test_cancelling_a_batch_that_ended_changes_nothing(api: TestClient) -> None:
    # With no LLM, dialect lines are answered at submission: the batch has ended already.
    batch = api.post("/v1/dialect/batch", json={"items": [{"text": "你好"}, {"text": "佢哋去咗街市。"}]}).json()
    assert batch["status"] == "succeeded"

    after = api.post(f"/v1/batches/{batch['id']}/cancel")

    assert after.status_code == 200
    assert after.json()["status"] == "succeeded" and after.json()["counts"]["cancelled"] == 0
