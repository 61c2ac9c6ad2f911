"""The Redis clients (shared/redis.py): a Sentinel URL list gives a client of the master through
its Sentinels, with the master's db and password from the URL and the Sentinels' own password
from the settings; every client retries a failed command with a backoff. The clients are built
here and looked at, never connected (no Sentinel runs in the fast tier; tests/fleet/
test_sentinel_failover.py fails one over)."""

import asyncio
from typing import Any

import pytest
from pydantic import SecretStr
from redis import ConnectionPool
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.exceptions import ConnectionError, TimeoutError
from redis.sentinel import SentinelConnectionPool

from deploy.stack import free_port
from shared.config import get_settings
from shared.redis import RETRIES, SOCKET_TIMEOUT_S, async_client, client, new_client

URL = "sentinel://:redis-pw@s1:26379/3;sentinel://s2:26380;sentinel://s3"


def sentinels_of(pool: Any) -> list[tuple[str, int, str | None]]:
    """(host, port, password) of each Sentinel a Sentinel pool asks."""
    return [
        (kw["host"], kw["port"], kw.get("password"))
        for kw in (s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels)
    ]


def test_a_sentinel_url_gives_a_client_of_the_named_master_through_every_sentinel() -> None:
    redis = new_client(URL, "voxq-master", "sentinels-pw")
    pool = redis.connection_pool

    assert isinstance(pool, SentinelConnectionPool) and pool.is_master
    assert pool.service_name == "voxq-master"
    assert sentinels_of(pool) == [
        ("s1", 26379, "sentinels-pw"),
        ("s2", 26380, "sentinels-pw"),
        ("s3", 26379, "sentinels-pw"),
    ]
    # The master's own db and password: the URL's first part, not the Sentinels' password.
    assert pool.connection_kwargs["db"] == 3 and pool.connection_kwargs["password"] == "redis-pw"


def test_the_sentinels_get_socket_timeouts_even_with_a_password() -> None:
    # redis-py copies none to them once sentinel_kwargs is given, which the password needs.
    pool = new_client(URL, "mymaster", "sentinels-pw").connection_pool

    for sentinel in pool.sentinel_manager.sentinels:  # type: ignore[attr-defined]
        assert sentinel.connection_pool.connection_kwargs["socket_timeout"] is not None


@pytest.mark.parametrize("url", [URL, "redis://:pw@queue:6379/2"], ids=["sentinel", "plain"])
def test_every_client_retries_a_lost_or_timed_out_connection(url: str) -> None:
    # A master_for() client retries nothing unless told to, and a plain from_url one neither.
    connection: Any = new_client(url).connection_pool.make_connection()  # made, not connected

    assert connection.retry.get_retries() == RETRIES
    assert {ConnectionError, TimeoutError} <= set(connection.retry._supported_errors)
    assert connection.socket_timeout == SOCKET_TIMEOUT_S


def test_a_plain_url_gives_a_plain_client() -> None:
    pool = new_client("redis://:pw@queue:6379/2").connection_pool

    assert type(pool) is ConnectionPool
    assert pool.connection_kwargs["host"] == "queue" and pool.connection_kwargs["db"] == 2


def test_the_shared_client_takes_the_master_name_and_sentinel_password_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "redis_sentinel_master", "from-settings")
    monkeypatch.setattr(get_settings(), "redis_sentinel_password", SecretStr("settings-pw"))
    url = "sentinel://s9:26379/1"  # a URL of this test alone: the clients are cached per URL

    redis = client(url)

    assert redis is client(url)
    assert redis.connection_pool.service_name == "from-settings"  # type: ignore[attr-defined]
    assert sentinels_of(redis.connection_pool) == [("s9", 26379, "settings-pw")]


def test_the_asyncio_client_of_a_sentinel_url_asks_the_sentinels_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "redis_sentinel_password", SecretStr("sentinels-pw"))

    async def look() -> tuple[Any, Any]:
        async with async_client(URL) as redis:
            pool = redis.connection_pool
            return pool, pool.make_connection()

    pool, connection = asyncio.run(look())  # closed on leaving, never connected

    assert isinstance(pool, AsyncSentinelConnectionPool) and pool.service_name == get_settings().redis_sentinel_master
    assert sentinels_of(pool) == [
        ("s1", 26379, "sentinels-pw"),
        ("s2", 26380, "sentinels-pw"),
        ("s3", 26379, "sentinels-pw"),
    ]
    assert pool.connection_kwargs["db"] == 3 and pool.connection_kwargs["password"] == "redis-pw"
    assert connection.retry.get_retries() == RETRIES


def test_the_asyncio_client_of_a_plain_url_retries_too() -> None:
    async def look() -> Any:
        async with async_client("redis://queue:6379/4") as redis:
            return redis.connection_pool.make_connection()

    connection = asyncio.run(look())

    assert connection.retry.get_retries() == RETRIES and connection.db == 4


def test_a_lost_master_connection_asks_the_sentinels_again_before_reconnecting(monkeypatch: pytest.MonkeyPatch) -> None:
    # redis-py reconnects a connection lost mid-command to the address it had (redis/redis-py#3874):
    # after a failover, the dead master. Here the "Sentinels" name this machine's Redis.
    redis = new_client("sentinel://s1:26379/15")
    pool: Any = redis.connection_pool
    monkeypatch.setattr(pool.sentinel_manager, "discover_master", lambda name: ("127.0.0.1", 6379))
    connection: Any = pool.make_connection()
    connection.host, connection.port = "127.0.0.1", free_port()  # the old master, gone

    connection.send_command("PING")  # not connected: connects, as after a lost connection

    assert connection.read_response() in (b"PONG", "PONG") and connection.port == 6379
    connection.disconnect()


def test_a_lost_asyncio_master_connection_asks_the_sentinels_again_too(monkeypatch: pytest.MonkeyPatch) -> None:
    async def ping_through_a_stale_connection() -> tuple[Any, int]:
        async with async_client("sentinel://s1:26379/15") as redis:
            pool: Any = redis.connection_pool

            async def discover_master(name: str) -> tuple[str, int]:
                return "127.0.0.1", 6379

            monkeypatch.setattr(pool.sentinel_manager, "discover_master", discover_master)
            connection: Any = pool.make_connection()
            connection.host, connection.port = "127.0.0.1", free_port()
            await connection.send_command("PING")
            answer = await connection.read_response()
            await connection.disconnect()
            return answer, connection.port

    answer, port = asyncio.run(ping_through_a_stale_connection())

    assert answer in (b"PONG", "PONG") and port == 6379
