"""The Celery app's broker (shared/jobs/celery_app.py): a sentinel:// URL list selects kombu's
Sentinel transport with the master's name and the Sentinels' password, and every transport
keeps the lanes' options. Built and looked at, never connected."""

from typing import Any

from shared.config import Settings
from shared.jobs.celery_app import make_celery_app
from shared.jobs.lanes import PRIORITY, SEP

URL = "sentinel://:redis-pw@s1:26379/0;sentinel://s2:26379;sentinel://s3:26379"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_a_sentinel_url_uses_kombus_sentinel_transport_with_the_master_name() -> None:
    app = make_celery_app(settings(redis_url=URL, redis_sentinel_master="voxq-master"))
    options = app.conf.broker_transport_options

    with app.connection_for_write() as connection:  # no connection is made until it is used
        assert type(connection.transport).__name__ == "SentinelTransport"
        assert connection.alt == URL.split(";")  # every Sentinel, for kombu to try in turn
    assert options["master_name"] == "voxq-master"
    assert "password" not in options["sentinel_kwargs"]


def test_the_sentinels_password_goes_in_sentinel_kwargs_with_their_timeouts() -> None:
    options = make_celery_app(
        settings(redis_url=URL, redis_sentinel_password="sentinels-pw")
    ).conf.broker_transport_options

    assert options["sentinel_kwargs"]["password"] == "sentinels-pw"
    # Given sentinel_kwargs, redis-py would leave the Sentinels' connections without timeouts.
    assert options["sentinel_kwargs"]["socket_timeout"] > 0


def test_every_transport_keeps_the_lanes_and_one_visibility_timeout() -> None:
    for url in (URL, "redis://queue:6379/0"):
        app = make_celery_app(settings(redis_url=url, visibility_timeout_s=4000))
        options = app.conf.broker_transport_options

        assert options["visibility_timeout"] == app.conf.visibility_timeout == 4000
        assert options["priority_steps"] == sorted(PRIORITY.values()) and options["sep"] == SEP
        assert options["queue_order_strategy"] == "priority"
        # A connection left half-open by a vanished master is given up on.
        assert options["socket_timeout"] > 0 and options["health_check_interval"] > 0


def test_a_plain_url_uses_the_redis_transport_without_sentinel_options() -> None:
    app = make_celery_app(settings(redis_url="redis://queue:6379/0"))

    with app.connection_for_write() as connection:
        assert type(connection.transport).__name__ == "Transport"
    assert "master_name" not in app.conf.broker_transport_options
