"""Metrics: recorded where things happen (workers, the reconciler, submission), read where
Prometheus scrapes (the API's GET /metrics, `api/metrics.py`).

Workers run on other hosts and the API may run as several processes, so no process keeps a
count of its own: each counter and histogram is one Redis hash, `voxq:metrics:<name>`, that
every process adds to (HINCRBY, HINCRBYFLOAT) and that /metrics reads whole at scrape time.
Every API process therefore reports the same, global values. (prometheus_client's
multiprocess mode shares files between the processes of one host, not across hosts.)

A hash's fields are the JSON list of a series' label values; a histogram's add `|count`,
`|sum` and `|le=<bound>`, the count of observations that fell into that one bucket (one
increment per observation: the cumulative counts Prometheus wants are summed when read).

A recording never raises into job code: with Redis unreachable its changes are logged and
dropped, since a counter short of a few increments is better than a job that fails for it.
"""

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from shared.jobs import lanes
from shared.redis import broker

logger = logging.getLogger(__name__)

KEY_PREFIX = "voxq:metrics:"

# Seconds, from a live line taken at once to a bulk line behind a backlog of hours.
SECONDS_BUCKETS: tuple[float, ...] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
    21600.0,
)


@dataclass(frozen=True)
class Family:
    """A counter, or with `buckets` a histogram, kept in one Redis hash."""

    name: str  # as Prometheus shows it, less a counter's `_total`
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.name

    @property
    def is_histogram(self) -> bool:
        return bool(self.buckets)


CACHE_HITS = Family(
    "voxq_snippet_cache_hits",
    "Synthesis lines found in the snippet cache: at submission (answered at once) or by the worker that took them.",
)
CACHE_MISSES = Family(
    "voxq_snippet_cache_misses",
    "Synthesis lines a worker looked up in the snippet cache and did not find there (a retry looks again).",
)
ENGINE_ERRORS = Family(
    "voxq_engine_errors",
    "Failed attempts of jobs inside an engine, by engine, job kind and error: retryable (may pass, the job is "
    "tried again) or permanent (the job fails).",
    ("engine", "kind", "error"),
)
RECONCILER_RESENT = Family(
    "voxq_reconciler_resent",
    "Jobs the reconciler sent again, by kind and reason: lease_ran_out (their worker was lost) or "
    "message_lost (queued, with no message on the broker).",
    ("kind", "reason"),
)
WAIT_SECONDS = Family(
    "voxq_job_wait_seconds",
    "Seconds from a job's submission to its first start by a worker, by kind.",
    ("kind",),
    SECONDS_BUCKETS,
)
RUN_SECONDS = Family(
    "voxq_job_run_seconds",
    "Seconds from the start of a job's attempt to its recorded result or failure, by kind.",
    ("kind",),
    SECONDS_BUCKETS,
)
FAMILIES: tuple[Family, ...] = (CACHE_HITS, CACHE_MISSES, ENGINE_ERRORS, RECONCILER_RESENT, WAIT_SECONDS, RUN_SECONDS)


def _series(family: Family, labels: tuple[str, ...]) -> str:
    assert len(labels) == len(family.labels), f"{family.name} takes labels {family.labels}, not {labels}"
    return json.dumps(list(labels), ensure_ascii=False)


def bound(bucket: float) -> str:
    """A bucket's upper bound as Prometheus writes `le`: 0.5, 10.0, +Inf."""
    return "+Inf" if math.isinf(bucket) else repr(float(bucket))


class Recording:
    """Changes gathered in memory, then sent together by `send`: one Redis round trip (a
    MULTI/EXEC pipeline, so that a scrape never sees a histogram's count without its sum)
    whatever the size of the group of jobs they concern."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}  # (hash, field): increment
        self._sums: dict[tuple[str, str], float] = {}

    def count(self, family: Family, labels: tuple[str, ...] = (), by: int = 1) -> "Recording":
        assert not family.is_histogram, f"{family.name} is a histogram: observe it"
        if by:
            self._add((family.key, _series(family, labels)), by)
        return self

    def observe(self, family: Family, labels: tuple[str, ...], value: float) -> "Recording":
        assert family.is_histogram, f"{family.name} is a counter: count it"
        series = _series(family, labels)
        bucket = next((b for b in family.buckets if value <= b), math.inf)
        self._add((family.key, f"{series}|le={bound(bucket)}"), 1)
        self._add((family.key, f"{series}|count"), 1)
        where = (family.key, f"{series}|sum")
        self._sums[where] = self._sums.get(where, 0.0) + value
        return self

    def _add(self, where: tuple[str, str], by: int) -> None:
        self._counts[where] = self._counts.get(where, 0) + by

    def send(self) -> None:
        """Add the changes to the shared hashes; never raises (see the module's docstring)."""
        if not self._counts and not self._sums:
            return
        try:
            pipe = broker().pipeline()
            for (key, series), by in self._counts.items():
                pipe.hincrby(key, series, by)
            for (key, series), value in self._sums.items():
                pipe.hincrbyfloat(key, series, value)
            pipe.execute()
        except RedisError as exc:
            logger.warning("metrics: %d changes dropped, Redis is unreachable: %s", len(self._counts), exc)
        self._counts.clear()
        self._sums.clear()


@dataclass(frozen=True)
class Histogram:
    """One series of a histogram as Prometheus wants it: cumulative buckets ending in +Inf."""

    buckets: list[tuple[str, float]]
    sum: float


@dataclass(frozen=True)
class Snapshot:
    """Everything /metrics reports from Redis, read in one round trip."""

    depths: dict[tuple[str, str], int]  # (queue, lane): messages waiting in the lane's list
    counters: dict[Family, dict[tuple[str, ...], float]]
    histograms: dict[Family, dict[tuple[str, ...], Histogram]]


def read(redis: Redis) -> Snapshot:
    """The lanes' lengths and every family's series, as they are now. Raises RedisError."""
    lists: list[tuple[str, lanes.Lane]] = [(name, lane) for name in lanes.QUEUES for lane in lanes.LANES]
    pipe = redis.pipeline(transaction=False)
    for name, lane in lists:
        pipe.llen(lanes.lane_list(name, lane))
    for family in FAMILIES:
        pipe.hgetall(family.key)
    replies = pipe.execute()
    depths: dict[tuple[str, str], int] = {where: int(n) for where, n in zip(lists, replies[: len(lists)], strict=True)}
    counters: dict[Family, dict[tuple[str, ...], float]] = {}
    histograms: dict[Family, dict[tuple[str, ...], Histogram]] = {}
    for family, raw in zip(FAMILIES, replies[len(lists) :], strict=True):
        fields = {_text(k): float(v) for k, v in raw.items()}
        if family.is_histogram:
            histograms[family] = _histograms(family, fields)
        else:
            counters[family] = {tuple(json.loads(series)): value for series, value in fields.items()}
    return Snapshot(depths, counters, histograms)


def _histograms(family: Family, fields: Mapping[str, float]) -> dict[tuple[str, ...], Histogram]:
    """Cumulative buckets from per-bucket counts. A bound stored by an older bucket layout
    counts in the first current bucket at or above it, so changing the buckets loses nothing."""
    parts: dict[str, dict[str, float]] = {}
    for name, value in fields.items():
        series, _, part = name.rpartition("|")
        parts.setdefault(series, {})[part] = value
    out: dict[tuple[str, ...], Histogram] = {}
    for series, values in parts.items():
        stored = [(float(part[3:]), n) for part, n in values.items() if part.startswith("le=")]
        count = values.get("count", 0.0)
        buckets = [(bound(b), sum(n for upper, n in stored if upper <= b)) for b in family.buckets]
        out[tuple(json.loads(series))] = Histogram([*buckets, ("+Inf", count)], values.get("sum", 0.0))
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
