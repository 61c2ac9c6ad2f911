"""The Celery app every VoxQueue process uses. The API and the CLI publish with it (it is built
on first use, from the settings); the workers' app (`workers/app.py`) is the same app with the
task modules loaded."""

from functools import lru_cache

from celery import Celery
from kombu import Queue

from shared.config import Settings, get_settings
from shared.jobs.lanes import PRIORITY, QUEUE_FOR_TASK, QUEUES, SEP


def make_celery_app(settings: Settings) -> Celery:
    """The Celery app every VoxQueue process uses, without its tasks (workers load those)."""
    app = Celery("voxqueue", broker=settings.redis_url)
    app.conf.update(
        # Only typed JSON crosses the queue: task arguments are job ids.
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        # Job state lives in the database; Celery keeps no results.
        task_ignore_result=True,
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="tts",
        task_routes={name: {"queue": queue} for name, queue in QUEUE_FOR_TASK.items()},
        # Late acknowledgement, giving back on a lost worker, retries and time limits: each
        # task declares them itself (workers/runner.py JOB_TASK_POLICY), and a test checks it.
        # Model pools take one message per slot, so the queue's list length shows the real
        # backlog to an autoscaler and a slow GPU host does not sit on work another could do.
        worker_prefetch_multiplier=1,
        # One visibility timeout everywhere: a task still unacknowledged after it is redelivered.
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            # The two lanes (see LANES): priority 0 is the queue's own list, 9 its bulk list.
            "priority_steps": sorted(PRIORITY.values()),
            "sep": SEP,
            "queue_order_strategy": "priority",
        },
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        visibility_timeout=settings.visibility_timeout_s,
        broker_connection_retry_on_startup=True,
        # Events for Flower.
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
    )
    return app


@lru_cache
def publisher() -> Celery:
    """The app the API and CLI publish with (built on first use, from the settings)."""
    return make_celery_app(get_settings())
