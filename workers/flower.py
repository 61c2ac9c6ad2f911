"""`python -m workers.flower --port=P`: Flower on the workers' broker, with its Prometheus
`/metrics` behind the same basic auth as its pages. `voxq flower` runs this.

Flower 2.2 guards its pages with `@tornado.web.authenticated`, but not `/metrics`, which would
show anyone who can reach the port the workers' names and task counts. Wrapping that one
handler the same way makes it answer 401 without credentials, like the rest of Flower.
"""

import sys

import tornado.web
from celery.bin.celery import main as celery_main
from flower.views.monitor import Metrics


def main() -> None:
    Metrics.get = tornado.web.authenticated(Metrics.get)
    sys.argv = ["celery", "-A", "workers.app", "flower", *sys.argv[1:]]
    celery_main()


if __name__ == "__main__":
    main()
