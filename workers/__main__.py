"""`python -m workers POOL [--concurrency N]`: run a worker of the tts, llm or media pool with the
arguments of `workers/pools.py`, or the webhook sender (`webhooks`). `voxq worker` runs this.

SIGTERM (a scale-down, `docker stop`, a host shutting down) is Celery's warm shutdown: the
worker takes no new message and lets its running jobs finish. Here it is bounded: after
`VOXQ_WORKER_SHUTDOWN_GRACE_S` the worker goes on to a cold shutdown (SIGQUIT), in which the
jobs still running are cancelled and their messages go back to the queue.

The webhook sender is no Celery worker: it takes the due webhooks from the database
(shared/webhooks/sender.py). On SIGTERM or SIGINT it claims no more and ends once the attempts
in flight have ended, by VOXQ_WEBHOOK_DEADLINE_S at the latest, and been recorded.
"""

import argparse
import logging
import os
import signal
import threading
from typing import Any

from celery.signals import worker_shutting_down

from shared.config import get_settings
from shared.jobs.lanes import POOLS
from shared.webhooks import sender
from workers.pools import worker_argv

logger = logging.getLogger(__name__)


@worker_shutting_down.connect
def _bound_the_warm_shutdown(how: str, **_: Any) -> None:
    if how != "Warm":
        return
    grace_s = get_settings().worker_shutdown_grace_s
    logger.warning("shutting down: running jobs have %.0fs to finish, then go back to the queue", grace_s)
    timer = threading.Timer(grace_s, os.kill, (os.getpid(), signal.SIGQUIT))
    timer.daemon = True
    timer.start()


def send_webhooks(concurrency: int | None) -> None:
    """The webhook sender in this process, until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"webhook_concurrency": concurrency})
    webhooks = sender.Sender(settings)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: webhooks.stop())
    logger.info(
        "webhook sender: %d at once, %d per tenant, %gs per attempt",
        settings.webhook_concurrency,
        settings.webhook_tenant_concurrency,
        settings.webhook_deadline_s,
    )
    webhooks.run()
    if not webhooks.stopped.is_set():
        raise SystemExit(1)  # it failed (logged): its supervisor starts it again
    logger.info("webhook sender stopped")


parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
parser.add_argument("pool", choices=(*POOLS, sender.POOL))
parser.add_argument("--concurrency", type=int, default=None, help="Slots of this worker.")
args = parser.parse_args()
if args.pool == sender.POOL:
    send_webhooks(args.concurrency)
else:
    from workers.app import celery_app  # the tasks' modules: only a Celery worker loads them

    celery_app.worker_main(worker_argv(args.pool, args.concurrency))
