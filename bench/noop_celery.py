"""Bare Celery on the same Redis: a task that does nothing but count itself, for the rate that
bench/control_plane.py prints beside VoxQueue's own (what Celery and Redis alone allow here).

The worker runs with the options VoxQueue's workers use (prefork, prefetch 1, late
acknowledgement, no mingle or gossip), so the difference is VoxQueue's own work per line.
"""

import os

import redis
from celery import Celery

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
COUNTER = "bench:noop:done"

app = Celery("noop", broker=REDIS_URL)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    worker_hijack_root_logger=False,
)


_counter = redis.Redis.from_url(REDIS_URL)


@app.task(name="bench.noop")
def noop() -> None:
    """Nothing but one INCR, so the bench knows when all are done."""
    _counter.incr(COUNTER)
