"""The Celery app: two queues, one per worker pool, and the policies every task shares.

Worker commands (one pool per GPU host kind):
    voxq worker tts   ->  celery -A workers.app worker -Q tts -P prefork -c 1 --prefetch-multiplier 1 -E
    voxq worker llm   ->  celery -A workers.app worker -Q llm -P threads -c $VOXQ_LLM_CONCURRENCY ...
"""

from celery import Celery
from kombu import Queue

from shared.config import get_settings

settings = get_settings()

celery_app = Celery("voxqueue", broker=settings.redis_url)
celery_app.conf.update(
    # Only typed JSON crosses the queue: task arguments are job ids.
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    # Job state lives in the database; Celery keeps no results.
    task_ignore_result=True,
    task_queues=[Queue("llm"), Queue("tts")],
    task_default_queue="tts",
    task_routes={"voxq.llm.*": {"queue": "llm"}, "voxq.tts.*": {"queue": "tts"}},
    # A job is acknowledged only after it ran; a killed worker gives it back to the queue.
    # Tasks are idempotent: a job already finished in the database is skipped.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # Model pools take one message per slot, so the queue's list length shows the real backlog
    # to an autoscaler and a slow GPU host does not sit on work another host could do.
    worker_prefetch_multiplier=1,
    # One visibility timeout everywhere: a task still unacknowledged after it is redelivered.
    broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
    result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
    visibility_timeout=settings.visibility_timeout_s,
    broker_connection_retry_on_startup=True,
    # Events for Flower.
    worker_send_task_events=True,
    task_send_sent_event=True,
    worker_hijack_root_logger=False,
)
celery_app.autodiscover_tasks(["workers.tts", "workers.llm"], related_name="tasks", force=False)
