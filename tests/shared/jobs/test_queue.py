"""Messages as the workers receive them: one per job, or one per group of jobs."""

import base64
import json

import redis

from shared.jobs.lanes import lane_list
from shared.jobs.queue import enqueue_jobs, job_ids_on_broker


def _queued(broker: redis.Redis, queue: str) -> list[tuple[str, list]]:  # type: ignore[type-arg]
    """(task id, args) of every message on the list, oldest first (workers pop from the right)."""
    messages = [json.loads(raw) for raw in reversed(broker.lrange(queue, 0, -1))]
    return [(m["headers"]["id"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


def test_jobs_of_a_grouped_task_travel_in_groups_in_submission_order(broker: redis.Redis) -> None:
    ids = [f"job_{i}" for i in range(10)]

    enqueue_jobs("voxq.llm.dialect", ids, per_message=4)

    queued = _queued(broker, "llm")
    assert [args for _, args in queued] == [[ids[0:4]], [ids[4:8]], [ids[8:10]]]
    assert len({task_id for task_id, _ in queued}) == 3 and not set(ids) & {task_id for task_id, _ in queued}


def test_other_jobs_travel_one_per_message_with_the_job_id_as_task_id(broker: redis.Redis) -> None:
    ids = ["job_a", "job_b", "job_c"]

    enqueue_jobs("voxq.tts.synthesize", ids)

    assert _queued(broker, "tts") == [(job_id, [job_id]) for job_id in ids]


def test_the_jobs_with_a_message_on_the_broker_are_found_waiting_or_unacknowledged(broker: redis.Redis) -> None:
    enqueue_jobs("voxq.llm.dialect", ["job_1", "job_2", "job_3"], per_message=2)
    enqueue_jobs("voxq.tts.synthesize", ["job_4", "job_5"])
    # A worker takes one message: kombu moves it to the unacked hash as [message, exchange, routing key].
    taken = broker.rpop("tts")
    broker.hset("unacked", "tag-1", json.dumps([json.loads(taken), "", "tts"]))

    assert job_ids_on_broker(["llm", "tts"]) == {"job_1", "job_2", "job_3", "job_4", "job_5"}
    assert job_ids_on_broker(["llm"]) == {"job_1", "job_2", "job_3", "job_4"}  # job_4 through unacked


def test_each_pool_has_a_live_list_and_a_bulk_list(broker: redis.Redis) -> None:
    enqueue_jobs("voxq.tts.synthesize", ["job_live"], lane="live")
    enqueue_jobs("voxq.tts.synthesize", ["job_bulk"], lane="bulk")
    enqueue_jobs("voxq.llm.dialect", ["job_d"], per_message=4, lane="bulk")

    assert (lane_list("tts", "live"), lane_list("tts", "bulk"), lane_list("llm", "bulk")) == ("tts", "tts:9", "llm:9")
    assert _queued(broker, "tts") == [("job_live", ["job_live"])]
    assert _queued(broker, "tts:9") == [("job_bulk", ["job_bulk"])]
    assert json.loads(broker.lindex("tts:9", 0))["properties"]["priority"] == 9  # where kombu puts it back
    assert job_ids_on_broker(["tts", "llm"]) == {"job_live", "job_bulk", "job_d"}


def test_batches_in_the_bulk_lane_take_turns(broker: redis.Redis) -> None:
    big = [f"job_a{i}" for i in range(10)]
    small = ["job_b0", "job_b1"]
    enqueue_jobs("voxq.tts.synthesize", big, lane="bulk", batch_id="batch_a")
    enqueue_jobs("voxq.tts.synthesize", small, lane="bulk", batch_id="batch_b")
    enqueue_jobs("voxq.tts.synthesize", ["job_c0"], lane="bulk", batch_id="batch_c")

    order = [task_id for task_id, _ in _queued(broker, "tts:9")]  # as the workers will take them

    assert order == ["job_a0", "job_b0", "job_c0", "job_a1", "job_b1", *big[2:]]
    assert json.loads(broker.lindex("tts:9", -1))["headers"]["voxq_batch"] == "batch_a"
