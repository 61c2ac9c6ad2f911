"""Messages as the workers receive them: one per job, or one per group of jobs, on the lane's list."""

import base64
import json

import pytest
import redis

from shared.config import get_settings
from shared.jobs.lanes import lane_list
from shared.jobs.queue import Group, enqueue, send


def queued(broker: redis.Redis, queue: str) -> list[tuple[str, list]]:  # type: ignore[type-arg]
    """(task id, args) of every message on the list, oldest first (workers pop from the right)."""
    messages = [json.loads(raw) for raw in reversed(broker.lrange(queue, 0, -1))]
    return [(m["headers"]["id"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


def test_jobs_of_a_grouped_task_travel_in_groups_in_submission_order(
    broker: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "llm_group_size", 4)
    ids = [f"job_{i}" for i in range(10)]

    enqueue("voxq.llm.dialect", ids)

    messages = queued(broker, "llm")
    assert [args for _, args in messages] == [[ids[0:4]], [ids[4:8]], [ids[8:10]]]
    assert len({task_id for task_id, _ in messages}) == 3 and not set(ids) & {task_id for task_id, _ in messages}


def test_other_jobs_travel_one_per_message_with_the_job_id_as_task_id(broker: redis.Redis) -> None:
    ids = ["job_a", "job_b", "job_c"]

    enqueue("voxq.tts.synthesize", ids)

    assert queued(broker, "tts") == [(job_id, [job_id]) for job_id in ids]


def test_each_pool_has_a_live_list_and_a_bulk_list(broker: redis.Redis) -> None:
    send("voxq.tts.synthesize", [Group(["job_live"])], "live")
    send("voxq.tts.synthesize", [Group(["job_bulk"], "batch_b")], "bulk")
    send("voxq.llm.dialect", [Group(["job_d"], "batch_d")], "bulk")

    assert (lane_list("tts", "live"), lane_list("tts", "bulk"), lane_list("llm", "bulk")) == ("tts", "tts:9", "llm:9")
    assert queued(broker, "tts") == [("job_live", ["job_live"])]
    assert queued(broker, "tts:9") == [("job_bulk", ["job_bulk"])]
    assert json.loads(broker.lindex("tts:9", 0))["properties"]["priority"] == 9  # where kombu puts it back
    assert json.loads(broker.lindex("llm:9", 0))["headers"]["voxq_batch"] == "batch_d"


def test_a_book_travels_alone_whatever_the_group_sizes(broker: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "llm_group_size", 8)

    enqueue("voxq.media.book", ["job_1", "job_2"])

    assert queued(broker, "media") == [("job_1", ["job_1"]), ("job_2", ["job_2"])]
