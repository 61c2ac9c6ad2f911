"""The Celery app of the worker pools: the app every VoxQueue process shares
(`shared/jobs/queue.py`), with the task modules loaded. `celery -A workers.app worker ...`
(see `workers/pools.py` for each pool's arguments)."""

from shared.config import get_settings
from shared.jobs.celery_app import make_celery_app

celery_app = make_celery_app(get_settings())
celery_app.autodiscover_tasks(["workers.tts", "workers.llm", "workers.books"], related_name="tasks", force=False)
