"""The queue client: bulk enqueue onto a pool's lane, and what is on the broker.

A bulk script of 10,000 lines must be accepted in well under a second, and Celery's
`send_task` costs ~120 us a message even pipelined (routing, declaring, retry wrappers).
So `enqueue_jobs` builds Celery's own task message once, with `amqp.as_task_v2`, and
stamps each job id into a copy of it: the messages are exactly what `send_task` would
publish (protocol 2, JSON body; a test compares them) and are pushed with one LPUSH per
thousand jobs.
"""

import base64
import json
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from celery.app.amqp import AMQP
from celery.utils.saferepr import saferepr
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.errors import EngineUnavailable
from shared.jobs import state
from shared.jobs.celery_app import publisher
from shared.jobs.lanes import (
    BOOK_TASK,
    LANES,
    PRIORITY,
    QUEUE_FOR_TASK,
    QUEUES,
    SYNTHESIZE_TASK,
    Lane,
    lane_list,
)
from shared.redis import broker, script

logger = logging.getLogger(__name__)

# LLM jobs travel in groups, which the LLM worker sends to vLLM as batch requests; a
# synthesis message carries `tts_group_size` jobs (one by default: its Celery task id is then
# the job id, as Flower shows it).

# Messages pushed per LPUSH command when enqueuing many jobs, and read per LRANGE.
_PUSH_SIZE = 1000
_SCAN_SIZE = 5000
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def enqueue(task_name: str, job_ids: Sequence[str], lane: Lane = "live", batch_id: str | None = None) -> None:
    """Put jobs on their pool's queue, in `lane`: one per group of up to `llm_group_size` jobs
    for the LLM tasks, up to `tts_group_size` for synthesis (one job a message when that is 1),
    and one book a message (a build takes minutes: books wait for a free worker, not for each other)."""
    enqueue_jobs(task_name, job_ids, _per_message(task_name), lane, batch_id)


def _per_message(task_name: str) -> int | None:
    """Jobs one message of the task carries; None: one job, its id the task id."""
    settings = get_settings()
    if task_name == BOOK_TASK:
        return None
    if task_name == SYNTHESIZE_TASK:
        return None if settings.tts_group_size == 1 else settings.tts_group_size
    return settings.llm_group_size


def enqueue_jobs(
    task_name: str,
    job_ids: Sequence[str],
    per_message: int | None = None,
    lane: Lane = "live",
    batch_id: str | None = None,
) -> None:
    """Send one task message per job, whose Celery task id is the job id; or, with
    `per_message`, one message per group of up to that many jobs, for a task that takes a
    list of job ids (a group of several gets a new task id).

    In the bulk lane, batches take turns (fair share): the lane's list is rebuilt, in one
    Redis script, so that its batches alternate, one message each in the order the batches
    came, the new batch's messages after what each had. A 20-line batch sent after a
    10,000-line one is done after about 40 lines, not 10,020."""
    if not job_ids:
        return
    messages: list[tuple[str, list[Any]]]
    if per_message is None:
        messages = [(job_id, [job_id]) for job_id in job_ids]
    else:
        groups = [list(job_ids[i : i + per_message]) for i in range(0, len(job_ids), per_message)]
        messages = [(group[0] if len(group) == 1 else str(uuid.uuid4()), [group]) for group in groups]
    # Straight onto the queue's list, one message as many: a message through an exchange
    # would need kombu's bindings in Redis, which a Redis restarted without its data has lost
    # until a worker declares them again.
    app = publisher()
    queue = QUEUE_FOR_TASK[task_name]
    target = lane_list(queue, lane)
    # ignore_result=None, as send_task: the worker then applies the task's own setting.
    # (celery-types declares it bool; celery's own send_task passes None here.)
    template = app.amqp.as_task_v2("-", task_name, args=("-",), ignore_result=None).headers  # type: ignore[arg-type]
    redis = broker()
    built = [message(template, task_id, args, queue, PRIORITY[lane], batch_id) for task_id, args in messages]
    if lane == "bulk":
        script("take_turns", redis)(keys=[target], args=built)
    else:
        for start in range(0, len(built), _PUSH_SIZE):
            # Workers BRPOP from the right, so LPUSH of a list keeps submission order.
            redis.lpush(target, *built[start : start + _PUSH_SIZE])
    logger.info("enqueued %d %s jobs in %d messages on %s", len(job_ids), task_name, len(messages), target)


def message(
    headers: dict[str, Any], task_id: str, args: list[Any], queue: str, priority: int = 0, batch_id: str | None = None
) -> str:
    """One task message as kombu's Redis transport stores it, from the task's header template;
    a batch's line names its batch (``voxq_batch``), so that batches can take turns."""
    if batch_id is not None:
        headers = dict(headers, voxq_batch=batch_id)
    body = json.dumps([args, {}, _EMBED]).encode()
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": dict(headers, id=task_id, root_id=task_id, argsrepr=_argsrepr(args)),
            "properties": {
                "correlation_id": task_id,
                "delivery_mode": 2,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": priority,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def _argsrepr(args: list[Any]) -> str:
    """The `argsrepr` header as send_task writes it: cut to Celery's size limit by saferepr,
    which gives plain repr's text (20 times faster) when that fits."""
    text = repr(args)
    return text if len(text) <= AMQP.argsrepr_maxsize else saferepr(args, AMQP.argsrepr_maxsize)


def job_ids_on_broker(queues: Sequence[str] = QUEUES, unacked_stale_s: float | None = None) -> set[str]:
    """The jobs that have a message on the broker: waiting on one of `queues`, or delivered
    to a worker and not yet acknowledged (kombu keeps those in the ``unacked`` hash, as
    [message, exchange, routing key], with the delivery time in the ``unacked_index`` zset).

    With `unacked_stale_s`, an unacknowledged message delivered longer ago than that, and not
    due later (a retry's eta), does not count: a worker starts what it takes at once, so the
    worker that took it was lost before it began (or Redis restarted under it)."""
    redis = broker()
    raw: list[bytes | str] = []
    for name in (lane_list(queue, lane) for queue in queues for lane in LANES):
        for start in range(0, redis.llen(name), _SCAN_SIZE):
            raw.extend(redis.lrange(name, start, start + _SCAN_SIZE - 1))
    unacked: dict[bytes | str, bytes | str] = redis.hgetall("unacked")
    # zrange with scores: (tag, delivery time) pairs, which redis-py's stubs do not say.
    scored: list[tuple[bytes, float]] = redis.zrange("unacked_index", 0, -1, withscores=True)  # type: ignore[assignment]
    delivered: dict[bytes | str, float] = dict(scored)
    now = time.time()
    for tag, item in unacked.items():
        if (
            unacked_stale_s is None
            or delivered.get(tag, now) > now - unacked_stale_s
            or _due_after(item, now - unacked_stale_s)
        ):
            raw.append(item)
    found: set[str] = set()
    for item in raw:
        args = json.loads(base64.b64decode(_message_of(item)["body"]))[0]
        if args:  # a job task's first argument: one job id, or a group's list of them
            found.update(args[0] if isinstance(args[0], list) else [args[0]])
    return found


def _message_of(item: bytes | str) -> dict[str, Any]:
    decoded = json.loads(item)
    message: dict[str, Any] = decoded[0] if isinstance(decoded, list) else decoded
    return message


def _due_after(item: bytes | str, moment: float) -> bool:
    """Whether the message's eta (a retry's backoff) is later than `moment`."""
    eta = _message_of(item)["headers"].get("eta")
    return eta is not None and datetime.fromisoformat(eta).timestamp() > moment


def commit_and_enqueue(
    session: Session, task_name: str, job_ids: list[str], lane: Lane = "live", batch_id: str | None = None
) -> None:
    """Commit, so that no worker can take a job before its row exists, then enqueue. If the
    broker is down, fail the jobs rather than leave them queued forever, and say so."""
    session.commit()
    if not job_ids:
        return
    try:
        enqueue(task_name, job_ids, lane, batch_id)
    except Exception as exc:  # redis-py raises several unrelated classes for a dead broker
        state.fail_unqueued(session, job_ids, f"could not reach the queue: {exc}")
        session.commit()
        raise EngineUnavailable(f"the job queue (Redis) is unreachable: {exc}") from None
