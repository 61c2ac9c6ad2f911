"""Lines of a batch in groups (VOXQ_TTS_GROUP_SIZE): one message carries several, and each
line ends on its own."""

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from deploy.stack import Stack, sqlite_url, start_stack
from tests.plugins.services import wait_for


@pytest.fixture
def grouped_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = start_stack(tmp_path, sqlite_url(tmp_path), tts_workers=0, VOXQ_TTS_GROUP_SIZE="4")
    yield stack
    stack.stop()


def test_a_batch_travels_in_groups_and_a_line_that_fails_fails_alone(grouped_stack: Stack) -> None:
    lines = ["第一行。", "第二行。", "……", "第四行。", "第五行。", "第六行。"]  # line 3 has nothing to say
    with grouped_stack.client() as api:
        batch = api.post("/v1/batches", files={"file": ("s.txt", "\n".join(lines).encode())}, data={"voice": "cmn"})
        assert batch.status_code == 202, batch.text
        broker = redis.Redis.from_url(grouped_stack.env["VOXQ_REDIS_URL"])
        messages = [json.loads(raw) for raw in reversed(broker.lrange("tts:9", 0, -1))]  # the bulk lane
        groups = [json.loads(base64.b64decode(m["body"]))[0][0] for m in messages]

        grouped_stack.start_worker("tts")
        done = wait_for(
            lambda: (lambda b: b if b["done"] else None)(api.get(f"/v1/batches/{batch.json()['id']}").json())
        )
        jobs = api.get(f"/v1/batches/{batch.json()['id']}/jobs").json()

    assert [len(group) for group in groups] == [4, 2]
    assert [job["id"] for job in jobs] == [job_id for group in groups for job_id in group]
    assert done["counts"] == {"queued": 0, "running": 0, "succeeded": 5, "failed": 1, "cancelled": 0}
    assert [job["status"] for job in jobs] == [
        "succeeded",
        "succeeded",
        "failed",
        "succeeded",
        "succeeded",
        "succeeded",
    ]
    assert "nothing to speak" in jobs[2]["error"] and all(job["attempts"] == 1 for job in jobs)
