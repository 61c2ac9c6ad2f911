"""`python -m workers POOL [--concurrency N]`: run a worker of the tts, llm or media pool with the
arguments of `workers/pools.py`. `voxq worker` runs this.

SIGTERM (a scale-down, `docker stop`, a host shutting down) is Celery's warm shutdown: the
worker takes no new message and lets its running jobs finish. Here it is bounded: after
`VOXQ_WORKER_SHUTDOWN_GRACE_S` the worker goes on to a cold shutdown (SIGQUIT), in which the
jobs still running are cancelled and their messages go back to the queue.
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
from workers.app import celery_app
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


parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
parser.add_argument("pool", choices=POOLS)
parser.add_argument("--concurrency", type=int, default=None, help="Slots of this worker.")
args = parser.parse_args()
celery_app.worker_main(worker_argv(args.pool, args.concurrency))
