"""The process's Redis: one client per URL, and the Lua scripts of `shared/lua/`.

Redis holds the queues' lanes, the finished-job notices, the spoken replies' streams and the
counters of rate limits, quotas and metrics; it is the broker's Redis (VOXQ_REDIS_URL) for all
of them. This module imports no Celery, so a rate limit or a metric costs no queue code.
"""

from functools import cache, lru_cache
from importlib import resources

from redis import Redis
from redis.commands.core import Script

from shared.config import get_settings


@lru_cache
def client(url: str) -> Redis:
    """One client (and its connection pool) per URL for the process; it reconnects by itself
    after Redis restarts."""
    return Redis.from_url(url, health_check_interval=30)


def broker() -> Redis:
    """The client of the deployment's Redis (VOXQ_REDIS_URL): lanes, notices, counters."""
    return client(get_settings().redis_url)


@cache
def _source(name: str) -> str:
    return resources.files("shared").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def script(name: str, redis: Redis | None = None) -> Script:
    """`shared/lua/<name>.lua` as a callable script on `redis` (default: the broker's). It is
    sent by its SHA and loaded again by redis-py whenever Redis answers NOSCRIPT (a restart)."""
    return _bound(redis or broker(), name)


@lru_cache
def _bound(redis: Redis, name: str) -> Script:
    return Script(redis, _source(name))
