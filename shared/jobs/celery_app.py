"""The Celery app every VoxQueue process uses. The API and the CLI publish with it (it is built
on first use, from the settings); the workers' app (`workers/app.py`) is the same app with the
task modules loaded."""

from functools import lru_cache
from typing import Any

from celery import Celery
from kombu import Queue

from shared.config import Settings, get_settings, is_sentinel_url, sentinel_password
from shared.jobs.lanes import PRIORITY, QUEUE_FOR_TASK, QUEUES, SEP
from shared.redis import SOCKET_CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S

# How often a worker pings its connections, the one blocked in BRPOP too (kombu >= 5.7): a
# connection left half-open by a master that vanished (a failover on a network cut) is found
# within about twice this, rather than kombu's default 25 s.
BROKER_HEALTH_CHECK_S = 10


def broker_transport_options(settings: Settings) -> dict[str, Any]:
    """kombu's Redis transport options: the lanes, one visibility timeout, timeouts that drop a
    half-open connection; for a Sentinel URL list (kombu's `sentinel://` transport) the
    master's name and, if the Sentinels have one, their password."""
    options: dict[str, Any] = {
        # One visibility timeout everywhere: a task still unacknowledged after it is redelivered.
        "visibility_timeout": settings.visibility_timeout_s,
        # The two lanes (see LANES): priority 0 is the queue's own list, 9 its bulk list.
        "priority_steps": sorted(PRIORITY.values()),
        "sep": SEP,
        "queue_order_strategy": "priority",
        # Without a read timeout a publish or an ack on a connection whose peer is gone can
        # wait forever; kombu's own BRPOP blocks 1 s, far below it.
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
        "health_check_interval": BROKER_HEALTH_CHECK_S,
    }
    if is_sentinel_url(settings.redis_url):
        options["master_name"] = settings.redis_sentinel_master
        # Given whole, since redis-py copies no socket timeout to the Sentinels' connections
        # once sentinel_kwargs is given (which the Sentinels' password needs).
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": SOCKET_CONNECT_TIMEOUT_S,
            "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
        }
        if password := sentinel_password(settings):
            sentinel_kwargs["password"] = password
        options["sentinel_kwargs"] = sentinel_kwargs
    return options


def make_celery_app(settings: Settings) -> Celery:
    """The Celery app every VoxQueue process uses, without its tasks (workers load those).
    A `sentinel://` URL list selects kombu's Sentinel transport, which finds the master by
    asking the Sentinels listed, and again after every lost connection (a failover)."""
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
        broker_transport_options=broker_transport_options(settings),
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
