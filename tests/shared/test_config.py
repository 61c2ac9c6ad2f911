"""The settings are checked when read (shared/config.py): URLs parse, numbers lie in their
ranges, settings that depend on each other agree, secrets stay hidden, and a VOXQ_ variable
that names no setting is warned about. The settings here are built with every field given
(the values a test sets, the defaults for the rest) and no `.env`, so the VOXQ_ variables of
the process (tests/conftest.py sets some) play no part."""

import logging
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from shared.config import (
    ALLOWED_VARIABLES,
    LONGEST_TASK_S,
    SentinelUrl,
    Settings,
    parse_sentinel_url,
    sentinel_password,
    unknown_variables,
    warn_unknown_variables,
)
from shared.jobs.lanes import TASK_FOR_KIND

# Each field's default, given as a value: a field given is not read from the environment.
DEFAULTS: dict[str, Any] = {name: field.default for name, field in Settings.model_fields.items()}


def settings(**values: Any) -> Settings:
    """Settings of `values` and the defaults, checked as the environment's would be."""
    return Settings(_env_file=None, **(DEFAULTS | values))


def error_of(**values: Any) -> str:
    """The validation error that `values` give, as text."""
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return str(caught.value)


def test_the_defaults_are_valid() -> None:
    defaults = settings()

    assert defaults.visibility_timeout_s == 3600 > LONGEST_TASK_S >= 1860
    assert defaults.redis_url == "redis://127.0.0.1:6379/0"


def test_the_test_sessions_own_settings_are_valid() -> None:
    assert Settings(_env_file=None, llm_url="http://127.0.0.1:8000/v1").llm_url == "http://127.0.0.1:8000/v1"


def test_urls_are_kept_as_given_not_normalised() -> None:
    given = settings(
        redis_url="redis://:pw@queue:6379/2",
        fish_speech_url="http://fish:8080",
        llm_url="http://vllm:8000/v1",
        api_url="https://api.example.com",
        database_url="postgresql+psycopg://voxq:pw@db:5432/voxq",
    )

    assert given.fish_speech_url == "http://fish:8080"  # no trailing slash added
    assert given.api_url == "https://api.example.com"
    assert given.llm_url == "http://vllm:8000/v1"
    assert given.redis_url == "redis://:pw@queue:6379/2"
    assert given.sqlalchemy_url == "postgresql+psycopg://voxq:pw@db:5432/voxq"


def test_an_empty_llm_url_or_database_url_means_unset() -> None:
    empty = settings(llm_url="", database_url="")

    assert not empty.llm_url
    assert empty.sqlalchemy_url.startswith("sqlite:///")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("redis_url", "http://127.0.0.1:6379/0"),
        ("redis_url", "127.0.0.1:6379"),
        ("fish_speech_url", "fish:8080"),
        ("fish_speech_url", ""),
        ("llm_url", "ftp://vllm/v1"),
        ("api_url", "http://"),
        ("database_url", "not a url"),
        ("database_url", "postgres://voxq:pw@db/voxq"),  # SQLAlchemy's dialect is postgresql
    ],
)
def test_a_bad_url_is_refused_naming_its_field(field: str, value: str) -> None:
    assert field in error_of(**{field: value})


def test_a_sentinel_url_list_is_kept_as_given_and_taken_apart_as_kombu_does() -> None:
    url = "sentinel://:p%40ss@s1:26379/2;sentinel://s2:26380;sentinel://:p%40ss@s3"
    given = settings(redis_url=url, redis_sentinel_master="voxq", redis_sentinel_password="sentinels-pw")

    assert given.redis_url == url
    assert given.redis_sentinel_master == "voxq"
    assert sentinel_password(given) == "sentinels-pw" and "sentinels-pw" not in repr(given)
    assert parse_sentinel_url(url) == SentinelUrl(
        sentinels=(("s1", 26379), ("s2", 26380), ("s3", 26379)),  # 26379 when no port is given
        db=2,
        username=None,
        password="p@ss",  # the first part's, unquoted
    )


def test_the_sentinel_settings_default_to_mymaster_and_no_password() -> None:
    defaults = settings()

    assert defaults.redis_sentinel_master == "mymaster"
    assert sentinel_password(defaults) is None and sentinel_password(settings(redis_sentinel_password="")) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sentinel://s1:26379;", "part 2 is empty"),  # a trailing ';': kombu would add localhost
        ("sentinel://s1:26379;redis://s2:6379", "part 2 does not begin with sentinel://"),
        ("sentinel://s1:26379;s2:26379", "part 2 does not begin with sentinel://"),
        ("sentinel://", "part 1 names no host"),
        ("sentinel://s1:99999", "part 1 is not host:port"),
        ("sentinel://s1:26379/zero", "the database must be a number"),
        ("sentinel://s1:26379?db=2", "query"),
        ("sentinel://:a@s1/1;sentinel://:b@s2", "part 2 gives another username, password or db"),
        ("sentinel://s1/1;sentinel://s2/2", "part 2 gives another username, password or db"),
    ],
)
def test_a_bad_sentinel_url_list_is_refused_saying_which_part(url: str, reason: str) -> None:
    message = error_of(redis_url=url)

    assert "redis_url" in message and reason in message


def test_a_refused_sentinel_url_does_not_show_its_password() -> None:
    assert "hunter2" not in error_of(redis_url="sentinel://:hunter2@s1:26379/x")


def test_the_sentinels_password_without_a_sentinel_url_is_refused() -> None:
    message = error_of(redis_url="redis://queue:6379/0", redis_sentinel_password="never-shown")

    assert "VOXQ_REDIS_SENTINEL_PASSWORD" in message and "never-shown" not in message


def test_an_empty_sentinel_master_name_is_refused() -> None:
    assert "redis_sentinel_master" in error_of(redis_sentinel_master="")


def test_a_bad_database_url_does_not_show_its_password() -> None:
    assert "hunter2" not in error_of(database_url="postgres://voxq:hunter2@db/voxq")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("visibility_timeout_s", 0),
        ("sqlite_busy_timeout_ms", 0),
        ("task_max_retries", -1),
        ("fish_speech_timeout_s", 0),
        ("llm_timeout_s", -1),
        ("llm_concurrency", 0),
        ("tts_group_size", 0),
        ("max_text_chars", 0),
        ("max_script_bytes", 0),
        ("pause_between_chunks_ms", -1),
        ("voice_clip_min_s", 0),
        ("voice_clip_max_s", 91),
        ("speech_wait_s", 0),
        ("api_port", 0),
        ("api_port", 65536),
        ("webhook_concurrency", 0),
    ],
)
def test_a_number_out_of_its_range_is_refused_naming_its_field(field: str, value: float) -> None:
    assert field in error_of(**{field: value})


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"visibility_timeout_s": LONGEST_TASK_S}, "VOXQ_VISIBILITY_TIMEOUT_S"),
        ({"voice_clip_min_s": 30.0, "voice_clip_max_s": 30.0}, "VOXQ_VOICE_CLIP_MIN_S"),
        ({"llm_group_size": 16, "llm_concurrency": 8}, "VOXQ_LLM_GROUP_SIZE"),
        ({"llm_timeout_s": 600.0}, "VOXQ_LLM_TIMEOUT_S"),
    ],
)
def test_settings_that_disagree_are_refused_naming_the_variables(values: dict[str, Any], named: str) -> None:
    assert named in error_of(**values)


def test_every_broken_rule_is_named_at_once() -> None:
    message = error_of(visibility_timeout_s=60, llm_group_size=64)

    assert "VOXQ_VISIBILITY_TIMEOUT_S" in message and "VOXQ_LLM_GROUP_SIZE" in message


def test_secrets_show_in_no_repr_and_are_read_with_get_secret_value() -> None:
    secret = "s3cret-" + "x" * 8
    given = settings(
        fish_speech_api_key=SecretStr(secret),
        llm_api_key=SecretStr(secret),
        api_key=SecretStr(secret),
        flower_password=SecretStr(secret),
        metrics_token=SecretStr(secret),
    )

    assert secret not in repr(given) and secret not in str(given)
    assert given.metrics_token is not None and given.metrics_token.get_secret_value() == secret


def test_secrets_given_as_strings_are_kept_hidden() -> None:
    # As pydantic-settings hands them over from the environment.
    given = settings(metrics_token="from-the-env", flower_password="pw")

    assert isinstance(given.metrics_token, SecretStr) and "from-the-env" not in repr(given)


def test_a_secret_in_a_refused_setting_is_not_shown() -> None:
    assert "never-shown" not in error_of(metrics_token="never-shown", visibility_timeout_s=1)


def test_an_unknown_voxq_variable_is_reported_and_an_allowed_one_is_not() -> None:
    environ = {
        "VOXQ_REDIS_ULR": "redis://127.0.0.1:6379/0",  # a typo
        "VOXQ_REDIS_URL": "redis://127.0.0.1:6379/0",
        "voxq_lease_s": "5",  # read case-insensitively, as the settings are
        "VOXQ_NEED_POSTGRES": "0",  # deploy/dev-services.sh's
        "PATH": "/usr/bin",
    }

    assert unknown_variables(environ) == ["VOXQ_REDIS_ULR"]
    assert "VOXQ_NEED_POSTGRES" in ALLOWED_VARIABLES


def test_the_warning_names_the_unknown_variable_and_the_setting_it_likely_meant(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="shared.config"):
        warn_unknown_variables({"VOXQ_REDIS_ULR": "x", "VOXQ_TEST_PROJECT": "voxq-test"})

    [record] = caplog.records
    assert "VOXQ_REDIS_ULR" in record.getMessage() and "VOXQ_REDIS_URL" in record.getMessage()
    assert "VOXQ_TEST_PROJECT" not in record.getMessage()


def test_no_warning_when_every_variable_is_known(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="shared.config"):
        assert warn_unknown_variables({"VOXQ_REDIS_URL": "redis://127.0.0.1:6379/0"}) == []

    assert not caplog.records


def test_no_allowed_variable_is_also_a_setting() -> None:
    settings_names = {"VOXQ_" + name.upper() for name in Settings.model_fields}

    assert not ALLOWED_VARIABLES & settings_names


def test_every_task_ends_within_the_longest_task_limit() -> None:
    from workers.app import celery_app

    # The task modules (workers.tts.tasks, workers.llm.tasks, ...), as a worker loads them.
    celery_app.loader.import_default_modules()
    limits = {name: task.time_limit for name, task in celery_app.tasks.items() if name.startswith("voxq.")}

    assert set(TASK_FOR_KIND.values()) <= set(limits)  # every job kind's task was seen
    for name, limit in limits.items():
        assert limit is not None and limit <= LONGEST_TASK_S, name
