"""`python -m workers POOL [--concurrency N]`: run a worker of the tts or llm pool with the
arguments of `workers/pools.py`. `voxq worker` runs this."""

import argparse

from workers.app import celery_app
from workers.pools import worker_argv

parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
parser.add_argument("pool", choices=["tts", "llm"])
parser.add_argument("--concurrency", type=int, default=None, help="Slots of this worker.")
args = parser.parse_args()
celery_app.worker_main(worker_argv(args.pool, args.concurrency))
