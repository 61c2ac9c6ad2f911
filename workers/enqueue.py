"""Putting jobs on the queues. The API calls this after the job rows are committed.

A bulk script of 10,000 lines must be accepted in well under a second, and Celery's
`send_task` costs ~120 us a message even pipelined (routing, declaring, retry wrappers).
So `enqueue_jobs` builds Celery's own task message once, with `amqp.as_task_v2`, and
stamps each job id into a copy of it: the messages are exactly what `send_task` would
publish (protocol 2, JSON body) and are pushed with one LPUSH per thousand jobs.
"""

import base64
import json
import logging
import uuid
from collections.abc import Sequence

from redis import Redis

from workers.app import celery_app

logger = logging.getLogger(__name__)

# Messages pushed per LPUSH command when enqueuing many jobs, and read per LRANGE.
_PUSH_SIZE = 1000
_SCAN_SIZE = 5000
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def queue_for(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


def _message(template: dict, task_id: str, args: list, queue: str) -> str:  # type: ignore[type-arg]
    headers = dict(template, id=task_id, root_id=task_id, argsrepr=repr(args))
    body = json.dumps([args, {}, _EMBED]).encode()
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": {
                "correlation_id": task_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def enqueue_jobs(task_name: str, job_ids: Sequence[str], per_message: int | None = None) -> None:
    """Send one task message per job, whose Celery task id is the job id (as Flower shows
    it); or, with `per_message`, one message per group of up to that many jobs, for a task
    that takes a list of job ids (a group of several gets a new task id)."""
    if not job_ids:
        return
    if per_message is None:
        messages = [(job_id, [job_id]) for job_id in job_ids]
    else:
        groups = [list(job_ids[i : i + per_message]) for i in range(0, len(job_ids), per_message)]
        messages = [(group[0] if len(group) == 1 else str(uuid.uuid4()), [group]) for group in groups]
    if len(messages) == 1:
        task_id, args = messages[0]
        celery_app.send_task(task_name, args=args, task_id=task_id)
        return
    queue = queue_for(task_name)
    template = celery_app.amqp.as_task_v2("-", task_name, args=["-"]).headers
    redis = Redis.from_url(celery_app.conf.broker_url)
    try:
        for start in range(0, len(messages), _PUSH_SIZE):
            chunk = messages[start : start + _PUSH_SIZE]
            # Workers BRPOP from the right, so LPUSH of a list keeps submission order.
            redis.lpush(queue, *(_message(template, task_id, args, queue) for task_id, args in chunk))
    finally:
        redis.close()
    logger.info("enqueued %d %s jobs in %d messages on %s", len(job_ids), task_name, len(messages), queue)


def job_ids_on_broker(queues: Sequence[str]) -> set[str]:
    """The jobs that have a message on the broker: waiting on one of `queues`, or delivered
    to a worker and not yet acknowledged (kombu keeps those in the ``unacked`` hash, as
    [message, exchange, routing key])."""
    redis = Redis.from_url(celery_app.conf.broker_url)
    try:
        raw: list[bytes] = []
        for queue in queues:
            for start in range(0, redis.llen(queue), _SCAN_SIZE):
                raw.extend(redis.lrange(queue, start, start + _SCAN_SIZE - 1))
        raw.extend(redis.hvals("unacked"))
    finally:
        redis.close()
    found: set[str] = set()
    for item in raw:
        message = json.loads(item)
        if isinstance(message, list):
            message = message[0]
        args = json.loads(base64.b64decode(message["body"]))[0]
        if args:  # a job task's first argument: one job id, or a group's list of them
            found.update(args[0] if isinstance(args[0], list) else [args[0]])
    return found
