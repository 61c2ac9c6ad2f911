"""The messages `send` builds by hand for the bulk path are the ones Celery's own
`send_task` publishes, and a worker reads from them the task, the job ids and its policy."""

import base64
import json
from typing import Any, cast

import pytest
import redis
from celery.worker.request import Request
from kombu.serialization import prepare_accept_content
from kombu.transport.virtual import Channel, Message

from shared.config import get_settings
from shared.jobs.celery_app import publisher
from shared.jobs.lanes import QUEUE_FOR_TASK
from shared.jobs.queue import Group, send
from shared.models import new_id
from workers.app import celery_app

celery_app.loader.import_default_modules()  # the worker side: the tasks a message names

# Differ between any two publications of one task: kombu's random tag for the delivery, and
# the publishing app's own id, where an rpc:// result backend would reply (VoxQueue keeps no
# results, so bulk messages carry none).
_PER_PUBLICATION = ("delivery_tag", "reply_to")


def _take_all(broker: redis.Redis, queue: str) -> list[dict[str, Any]]:
    """Every message on the queue's list, oldest first (workers pop from the right), removed."""
    raw = broker.lrange(queue, 0, -1)
    broker.delete(queue)
    return [json.loads(item) for item in reversed(raw)]


def _comparable(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its body decoded and what differs per publication left out."""
    properties = {k: v for k, v in message["properties"].items() if k not in _PER_PUBLICATION}
    return dict(message, body=json.loads(base64.b64decode(message["body"])), properties=properties)


def _groups(job_ids: list[str], per: int) -> list[Group]:
    return [Group(job_ids[i : i + per]) for i in range(0, len(job_ids), per)]


def _args(message: dict[str, Any]) -> list[Any]:
    return json.loads(base64.b64decode(message["body"]))[0]


@pytest.mark.parametrize(
    ("task_name", "jobs", "per_message"),
    [
        ("voxq.llm.dialect", 5, 2),
        ("voxq.llm.dialect", 60, 30),  # a group whose argsrepr is longer than Celery lets it be
        ("voxq.tts.synthesize", 5, None),
    ],
    ids=["groups", "long-groups", "one-job-each"],
)
def test_bulk_messages_are_exactly_what_send_task_publishes(
    broker: redis.Redis, task_name: str, jobs: int, per_message: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = QUEUE_FOR_TASK[task_name]
    groups = _groups([new_id("job") for _ in range(jobs)], per_message or 1)
    monkeypatch.setattr(get_settings(), "llm_group_size", per_message or 16)
    send(task_name, groups)
    bulk = _take_all(broker, queue)

    for message in bulk:
        publisher().send_task(task_name, args=_args(message), task_id=message["headers"]["id"])
    sent = _take_all(broker, queue)

    assert len(bulk) > 1  # the hand-built path (a single message goes through send_task)
    assert [_comparable(m) for m in bulk] == [_comparable(m) for m in sent]


def test_a_worker_reads_the_task_the_job_ids_and_the_apps_policy_from_a_bulk_message(broker: redis.Redis) -> None:
    send("voxq.llm.dialect", _groups(["job_1", "job_2", "job_3"], 2))
    raw = _take_all(broker, "llm")[0]  # the first group, which a worker takes first

    with publisher().connection_for_read() as connection:
        # What kombu's Redis channel makes of a popped message, checked against the workers' accept list.
        accept = prepare_accept_content(celery_app.conf.accept_content)
        channel = cast(Channel, connection.default_channel)  # the Redis transport's, a virtual channel
        message = Message(raw, channel=channel, accept=accept)
        request = Request(message, app=celery_app)

    assert (request.task_name, request.id, request.args, request.kwargs) == (
        "voxq.llm.dialect",
        raw["headers"]["id"],
        [["job_1", "job_2"]],
        {},
    )
    assert request.delivery_info["routing_key"] == "llm"
    assert request.ignore_result is True  # as the app says: job state lives in the database
