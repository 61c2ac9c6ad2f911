"""The queue client: task messages onto a pool's lane list.

Celery's `send_task` costs ~120 us a message even pipelined (routing, declaring, retry
wrappers). So `send` builds Celery's own task message once, with `amqp.as_task_v2`, and
stamps each job id into a copy of it: the messages are exactly what `send_task` would
publish (protocol 2, JSON body; a test compares them) and are pushed with one LPUSH per
thousand. A batch's lines are not sent at submission: they wait in the database, and the
dispatcher (shared/jobs/dispatch.py) sends a few at a time.
"""

import base64
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
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
    PRIORITY,
    QUEUE_FOR_TASK,
    SYNTHESIZE_TASK,
    Lane,
    lane_list,
)
from shared.redis import broker

logger = logging.getLogger(__name__)

# LLM jobs travel in groups, which the LLM worker sends to vLLM as batch requests; a
# synthesis message carries `tts_group_size` jobs (one by default: its Celery task id is then
# the job id, as Flower shows it).

_PUSH_SIZE = 1000  # messages pushed per LPUSH command
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


@dataclass(frozen=True)
class Group:
    """The jobs one message carries, and the batch they are lines of (a header of the message,
    so that cancelling a batch can take its messages off the list)."""

    job_ids: list[str]
    batch_id: str | None = None


def enqueue(task_name: str, job_ids: Sequence[str], lane: Lane = "live", batch_id: str | None = None) -> None:
    """Put jobs on their pool's queue, in `lane`: one message per group of `per_message(task)` jobs."""
    per = per_message(task_name) or 1
    send(task_name, [Group(list(job_ids[i : i + per]), batch_id) for i in range(0, len(job_ids), per)], lane)


def per_message(task_name: str) -> int | None:
    """Jobs one message of the task carries: up to `llm_group_size` for the LLM tasks, up to
    `tts_group_size` for synthesis; one book a message (a build takes minutes: books wait for a
    free worker, not for each other). None: one job, sent as the task's only argument."""
    settings = get_settings()
    if task_name == BOOK_TASK:
        return None
    if task_name == SYNTHESIZE_TASK:
        return None if settings.tts_group_size == 1 else settings.tts_group_size
    return settings.llm_group_size


def send(task_name: str, groups: Sequence[Group], lane: Lane = "live") -> None:
    """One task message per group, pushed in order onto the lane's list. A task of one job a
    message (`per_message` None) gets the job id as its argument and its task id; the others
    get a list of job ids (a group of several gets a new task id)."""
    if not groups:
        return
    single = per_message(task_name) is None
    # Straight onto the queue's list, one message as many: a message through an exchange
    # would need kombu's bindings in Redis, which a Redis restarted without its data has lost
    # until a worker declares them again.
    app = publisher()
    queue = QUEUE_FOR_TASK[task_name]
    target = lane_list(queue, lane)
    # ignore_result=None, as send_task: the worker then applies the task's own setting.
    # (celery-types declares it bool; celery's own send_task passes None here.)
    template = app.amqp.as_task_v2("-", task_name, args=("-",), ignore_result=None).headers  # type: ignore[arg-type]
    built = []
    for group in groups:
        if single:
            built += [
                message(template, job_id, [job_id], queue, PRIORITY[lane], group.batch_id) for job_id in group.job_ids
            ]
        else:
            task_id = group.job_ids[0] if len(group.job_ids) == 1 else str(uuid.uuid4())
            built.append(message(template, task_id, [group.job_ids], queue, PRIORITY[lane], group.batch_id))
    redis = broker()
    for start in range(0, len(built), _PUSH_SIZE):
        # Workers BRPOP from the right, so LPUSH of a list keeps submission order.
        redis.lpush(target, *built[start : start + _PUSH_SIZE])
    logger.info("enqueued %d messages of %s on %s", len(built), task_name, target)


def message(
    headers: dict[str, Any], task_id: str, args: list[Any], queue: str, priority: int = 0, batch_id: str | None = None
) -> str:
    """One task message as kombu's Redis transport stores it, from the task's header template;
    a batch's line names its batch (``voxq_batch``), so that cancelling it can find it."""
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
