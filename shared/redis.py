"""The process's Redis: one client per URL, and the Lua scripts of `shared/lua/`.

Redis holds the queues' lanes, the finished-job notices, the spoken replies' streams and the
counters of rate limits, quotas and metrics; it is the broker's Redis (VOXQ_REDIS_URL) for all
of them. This module imports no Celery, so a rate limit or a metric costs no queue code.

VOXQ_REDIS_URL is a plain ``redis://`` URL or a Sentinel URL list (``sentinel://h1:26379;...``,
shared/config.py `parse_sentinel_url`). A Sentinel URL gives a client of the master the
Sentinels name (VOXQ_REDIS_SENTINEL_MASTER): each new connection asks them where the master
is, so after a failover the client reconnects to the promoted replica by itself. Either kind of
client tries a command again, with a backoff, when its connection fails or times out, so that
a failover or a restarting Redis costs a wait of seconds, not an error (redis-py's clients of a
Sentinel master retry nothing unless told to).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelManagedConnection as AsyncSentinelManagedConnection
from redis.backoff import ExponentialBackoff
from redis.commands.core import Script
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from shared.config import get_settings, is_sentinel_url, parse_sentinel_url, sentinel_password

# A failed command is tried again on a new connection after 0.1 s, doubling to at most 1 s:
# RETRIES tries wait about 12 s in all, longer than a Sentinel failover takes (about 2.5 s with
# down-after-milliseconds 1000, about 7 s with 5000) or a Redis restart. Past that the caller's
# own handling takes over (a 503, a logged warning, the reconciler's next pass). A write retried
# after a reply was lost may be applied twice; every write here tolerates that (a message sent
# twice runs once, counters are approximate).
RETRIES = 15
_BACKOFF = {"cap": 1.0, "base": 0.05}
_RETRY_ON = [ConnectionError, TimeoutError]
# A read that hears nothing for this long gives up, so a connection left half-open by a master
# that vanished (a failover, a host lost without closing its TCP connections) is dropped and
# retried rather than waited on forever. Blocking reads here block for at most a few seconds
# (shared/jobs/replies.py reads with 2 s blocks; pub/sub listening has no timeout in redis-py).
SOCKET_TIMEOUT_S = 10.0
SOCKET_CONNECT_TIMEOUT_S = 3.0
HEALTH_CHECK_S = 30  # a connection idle this long is pinged before it is used


class _MasterConnection(SentinelManagedConnection):
    """A connection to the Sentinels' master that asks them where the master is whenever it
    connects again. redis-py reconnects a connection lost mid-command (one in use when the
    master died) to the address it had, so every retry went to the dead master until the
    retries ran out (redis/redis-py#3874, open; seen here: in-flight commands failed after the
    whole ~12 s budget while the new master had been named after ~2 s)."""

    def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
        if retry_socket_connect and not self._sock:
            # The path of send_packed_command: go through the Sentinels (connect() retries).
            self.connect()
            return
        super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)


class _AsyncMasterConnection(AsyncSentinelManagedConnection):
    """`_MasterConnection` for asyncio clients."""

    async def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
        if retry_socket_connect and not self.is_connected:
            await self.connect()
            return
        await super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)


def _options(retry: Retry | AsyncRetry) -> dict[str, Any]:
    """The connection options of every client, sync or asyncio (`retry` is of its kind)."""
    return {
        "retry": retry,
        "retry_on_error": _RETRY_ON,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_S,
    }


def _sentinel_args(url: str, password: str | None) -> tuple[list[tuple[str, int]], dict[str, Any], dict[str, Any]]:
    """The Sentinels, the options of the connections to them, and the master's database and
    credentials, from a Sentinel URL list and the Sentinels' own password."""
    parsed = parse_sentinel_url(url)
    # Given explicitly: redis-py copies the socket timeouts to the Sentinels' connections only
    # when it is given no sentinel_kwargs at all, which a password needs. Short: a Sentinel
    # answers at once, and one that does not is passed over for the next.
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": SOCKET_CONNECT_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT_S,
    }
    if password:
        sentinel_kwargs["password"] = password
    master = {"db": parsed.db, "username": parsed.username, "password": parsed.password}
    return list(parsed.sentinels), sentinel_kwargs, master


def new_client(url: str, master_name: str = "mymaster", sentinels_password: str | None = None) -> Redis:
    """A new client of `url` with a pool of its own (no connection is made until a command).
    For a Sentinel URL list, a client of the master named `master_name`, whose Sentinels ask
    for `sentinels_password` if given. Most code wants the process's shared `client(url)`."""
    retry = Retry(ExponentialBackoff(**_BACKOFF), RETRIES)
    if not is_sentinel_url(url):
        return Redis.from_url(url, **_options(retry))
    sentinels, sentinel_kwargs, master = _sentinel_args(url, sentinels_password)
    return Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs).master_for(
        master_name, connection_class=_MasterConnection, **master, **_options(retry)
    )


@lru_cache
def client(url: str) -> Redis:
    """One client (and its connection pool) per URL for the process; it reconnects by itself
    after Redis restarts, and after a Sentinel failover to the new master. Never closed: it
    is shared."""
    settings = get_settings()
    return new_client(url, settings.redis_sentinel_master, sentinel_password(settings))


def broker() -> Redis:
    """The client of the deployment's Redis (VOXQ_REDIS_URL): lanes, notices, counters."""
    return client(get_settings().redis_url)


@asynccontextmanager
async def async_client(url: str) -> AsyncIterator[AsyncRedis]:
    """An asyncio client of `url` (a plain or Sentinel URL, as `client`) for one task, closed
    on leaving, with its connections to the Sentinels. Not shared: an asyncio connection
    belongs to the event loop it was made on."""
    retry = AsyncRetry(ExponentialBackoff(**_BACKOFF), RETRIES)
    if not is_sentinel_url(url):
        async with AsyncRedis.from_url(url, **_options(retry)) as redis:
            yield redis
        return
    settings = get_settings()
    sentinels, sentinel_kwargs, master = _sentinel_args(url, sentinel_password(settings))
    sentinel = AsyncSentinel(sentinels, sentinel_kwargs=sentinel_kwargs)
    master_client = sentinel.master_for(
        settings.redis_sentinel_master, connection_class=_AsyncMasterConnection, **master, **_options(retry)
    )
    async with sentinel, master_client as redis:
        yield redis


@cache
def _source(name: str) -> str:
    return resources.files("shared").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def script(name: str, redis: Redis | None = None) -> Script:
    """`shared/lua/<name>.lua` as a callable script on `redis` (default: the broker's). It is
    sent by its SHA and loaded again by redis-py whenever Redis answers NOSCRIPT: after a
    restart, and after a failover, since a promoted replica's script cache starts empty."""
    return _bound(redis or broker(), name)


@lru_cache
def _bound(redis: Redis, name: str) -> Script:
    return Script(redis, _source(name))
