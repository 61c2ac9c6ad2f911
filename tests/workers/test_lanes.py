"""Lanes with a real worker: a single request is taken before every waiting line of a batch,
a batch sent with priority=live goes with the single requests, and batches of other tenants
take turns. The dispatcher's window is small here, so that turns show within a few lines."""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis

from deploy.stack import Stack, sqlite_url, start_stack
from tests.plugins.services import wait_for


@pytest.fixture
def unstaffed(tmp_path: Path) -> Iterator[Stack]:
    """A stack whose worker starts only when the test has queued everything."""
    stack = start_stack(
        tmp_path,
        sqlite_url(tmp_path),
        tts_workers=0,
        VOXQ_DISPATCH_WINDOW=str(WINDOW),
        VOXQ_DISPATCH_LIVE_WINDOW=str(LIVE_WINDOW),
        VOXQ_TTS_GROUP_SIZE="1",
    )
    yield stack
    stack.stop()


WINDOW = 4
LIVE_WINDOW = 2


def started(job: dict[str, str]) -> datetime:
    return datetime.fromisoformat(job["started_at"])


def test_a_single_line_is_spoken_before_the_waiting_lines_of_a_batch(unstaffed: Stack) -> None:
    script = "\n".join(f"这是一本书的第{i}行。" for i in range(30)).encode()
    with unstaffed.client() as api:
        batch = api.post("/v1/batches", files={"file": ("book.txt", script)}, data={"voice": "cmn"}).json()
        live = api.post("/v1/synthesize", json={"text": "您好，请问有什么可以帮您？", "voice": "cmn"}).json()
        broker = redis.Redis.from_url(unstaffed.env["VOXQ_REDIS_URL"])
        waiting = (broker.llen("tts"), broker.llen("tts:9"))

        unstaffed.start_worker("tts", concurrency=1)
        done = wait_for(lambda: (lambda b: b if b["done"] else None)(api.get(f"/v1/batches/{batch['id']}").json()))
        lines = api.get(f"/v1/batches/{batch['id']}/jobs").json()
        spoken = api.get(f"/v1/jobs/{live['id']}").json()

    assert waiting == (1, WINDOW)  # the live lane, and the bulk lane's window: the rest waits in the database
    assert done["counts"]["succeeded"] == 30 and spoken["status"] == "succeeded"
    assert started(spoken) < min(started(job) for job in lines)


def test_a_batch_sent_with_priority_live_goes_in_the_live_lane(unstaffed: Stack) -> None:
    with unstaffed.client() as api:
        r = api.post(
            "/v1/batches",
            files={"file": ("call.txt", "第一句。\n第二句。".encode())},
            data={"voice": "cmn", "priority": "live"},
        )
        broker = redis.Redis.from_url(unstaffed.env["VOXQ_REDIS_URL"])

    assert r.status_code == 202 and r.json()["options"]["priority"] == "live"
    assert (broker.llen("tts"), broker.llen("tts:9")) == (2, 0)


def test_a_live_batch_stands_before_another_tenants_single_line_by_the_live_window_at_most(unstaffed: Stack) -> None:
    caller = unstaffed.new_key("caller")
    script = "\n".join(f"抢先的第{i}行。" for i in range(200)).encode()
    with unstaffed.client() as api, unstaffed.client(caller) as api_b:
        batch = api.post("/v1/batches", files={"file": ("jump.txt", script)}, data={"voice": "cmn", "priority": "live"})
        single = api_b.post("/v1/synthesize", json={"text": "您好，这里是客服。", "voice": "cmn"}).json()
        broker = redis.Redis.from_url(unstaffed.env["VOXQ_REDIS_URL"])
        on_the_list = broker.llen("tts")
        unstaffed.start_worker("tts", concurrency=1)
        spoken = wait_for(
            lambda: (lambda j: j if j["status"] == "succeeded" else None)(api_b.get(f"/v1/jobs/{single['id']}").json())
        )
        ahead = [
            j
            for j in api.get(f"/v1/batches/{batch.json()['id']}/jobs", params={"limit": 200}).json()
            if j["started_at"]
        ]
        api.post(f"/v1/batches/{batch.json()['id']}/cancel")

    assert batch.status_code == 202 and on_the_list == LIVE_WINDOW + 1  # the window, then the single line
    assert sum(1 for job in ahead if started(job) < started(spoken)) <= LIVE_WINDOW


def test_a_small_batch_takes_turns_with_a_big_one_sent_before_it(unstaffed: Stack) -> None:
    other = unstaffed.new_key("call-centre")
    big_script = "\n".join(f"有声书第{i}行。" for i in range(120)).encode()
    small_script = "\n".join(f"客服话术第{i}句。" for i in range(10)).encode()
    with unstaffed.client() as api, unstaffed.client(other) as api_b:
        big = api.post("/v1/batches", files={"file": ("book.txt", big_script)}, data={"voice": "cmn"}).json()
        small = api_b.post("/v1/batches", files={"file": ("calls.txt", small_script)}, data={"voice": "cmn"}).json()
        unstaffed.start_worker("tts", concurrency=1)
        wait_for(lambda: (lambda b: b if b["done"] else None)(api.get(f"/v1/batches/{big['id']}").json()), timeout=120)
        big_lines = api.get(f"/v1/batches/{big['id']}/jobs", params={"limit": 200}).json()
        small_lines = api_b.get(f"/v1/batches/{small['id']}/jobs").json()

    last_small = max(started(job) for job in small_lines)
    big_before = sum(1 for job in big_lines if started(job) < last_small)
    assert all(job["status"] == "succeeded" for job in small_lines + big_lines)
    # Turn about, not after the 120 lines of the big one: what the big batch had in the window
    # when the small one came, then one line each.
    assert big_before <= WINDOW + len(small_lines) + 1
