"""The collector behind GET /metrics: the whole deployment as it is at scrape time.

Nothing is counted in this process. The queue depths and the counters and histograms that
workers, the reconciler and submissions record are read from Redis (shared/metrics.py), and
the jobs by kind and state are counted in the database (a count shared by every process for
VOXQ_METRICS_JOBS_EVERY_S, since it reads the whole table), so that every API process answers
with the same global values: scrape one of them (or take max(), never sum(), across several).
"""

import contextlib
import json
import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from shared import metrics
from shared.config import get_settings
from shared.jobs import state
from shared.models import JobKind
from shared.redis import broker

logger = logging.getLogger(__name__)

QUEUE_DEPTH = "voxq_queue_depth"
JOBS = "voxq_jobs"
BACKLOG = "voxq_backlog"
_JOBS_KEPT = "voxq:metrics:jobs"  # the last count of voxq_jobs, while it is fresh

# Series shown at 0 before anything is recorded, so a dashboard's rate() has a start and a
# panel shows 0, not "no data". Engines are open-ended: their errors appear once one occurs.
_KNOWN: dict[metrics.Family, list[tuple[str, ...]]] = {
    metrics.CACHE_HITS: [()],
    metrics.CACHE_MISSES: [()],
    metrics.RECONCILER_RESENT: [
        (kind.value, reason) for kind in JobKind for reason in ("lease_ran_out", "message_lost")
    ],
    metrics.WAIT_SECONDS: [(kind.value,) for kind in JobKind],
    metrics.RUN_SECONDS: [(kind.value,) for kind in JobKind],
}


class DeploymentCollector:
    """A prometheus_client collector for one scrape: the jobs counted through the request's
    `session`, the rest read from the broker's Redis. Without Redis, only the database's
    figures are reported (and the reason logged), so a scrape still shows the jobs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        yield self._jobs()
        yield self._backlog()
        try:
            snapshot = metrics.read(broker())
        except RedisError as exc:
            logger.warning("metrics: Redis is unreachable, its figures are left out: %s", exc)
            return
        depth = GaugeMetricFamily(
            QUEUE_DEPTH, "Messages waiting in a queue's lane (its Redis list).", labels=["queue", "lane"]
        )
        for (name, lane), n in sorted(snapshot.depths.items()):
            depth.add_metric([name, lane], n)
        yield depth
        for family, series in snapshot.counters.items():
            counter = CounterMetricFamily(family.name, family.help, labels=family.labels)
            for labels, value in sorted((dict.fromkeys(_KNOWN.get(family, []), 0.0) | series).items()):
                counter.add_metric(labels, value)
            yield counter
        for family, histograms in snapshot.histograms.items():
            histogram = HistogramMetricFamily(family.name, family.help, labels=family.labels)
            empty = metrics.Histogram([*((metrics.bound(b), 0.0) for b in family.buckets), ("+Inf", 0.0)], 0.0)
            for labels, observed in sorted((dict.fromkeys(_KNOWN.get(family, []), empty) | histograms).items()):
                histogram.add_metric(labels, observed.buckets, observed.sum)
            yield histogram

    def _backlog(self) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(
            BACKLOG,
            "Batch lines waiting in the database for the dispatcher, by queue and lane (what autoscaling reads: "
            "the lists hold only a window).",
            labels=["queue", "lane"],
        )
        for (name, lane), n in sorted(state.backlog(self.session).items()):
            gauge.add_metric([name, lane], n)
        return gauge

    def _jobs(self) -> GaugeMetricFamily:
        gauge = GaugeMetricFamily(
            JOBS,
            "Jobs in the database, by kind and state (counted at most every VOXQ_METRICS_JOBS_EVERY_S).",
            labels=["kind", "status"],
        )
        for (kind, status), n in sorted(self._job_counts().items()):
            gauge.add_metric([kind, status], n)
        return gauge

    def _job_counts(self) -> dict[tuple[str, str], int]:
        """The jobs by kind and state: counted in the database (the whole table) at most every
        `metrics_jobs_every_s`, kept in Redis meanwhile for every API process's scrapes. Without
        Redis, counted now."""
        every_s = get_settings().metrics_jobs_every_s
        try:
            kept = broker().get(_JOBS_KEPT) if every_s else None
        except RedisError:
            kept = None
        if kept is not None:
            return {(kind, status): n for kind, status, n in json.loads(kept)}
        counts = {(k.value, s.value): n for (k, s), n in state.kind_status_counts(self.session).items()}
        if every_s:
            with contextlib.suppress(RedisError):  # shown all the same; the next scrape counts again
                broker().set(_JOBS_KEPT, json.dumps([[*pair, n] for pair, n in counts.items()]), px=int(every_s * 1000))
        return counts
