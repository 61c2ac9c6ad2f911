"""The migrations build the schema the models describe, on SQLite and on Postgres, and can be
undone and done again."""

from collections.abc import Iterator
from pathlib import Path
from pprint import pformat
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from deploy.stack import fresh_pg_database, sqlite_url
from shared.db import make_engine
from shared.migrate import alembic_config, upgrade
from shared.models import Base


def _differences(url: str) -> list[Any]:
    """What Alembic's autogenerate would still write: how the database differs from the models."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, this test's alone (the session's Postgres database
    serves running stacks, so it is never downgraded)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    with fresh_pg_database("voxq_migrations") as url:
        yield url


def test_a_database_migrated_to_head_has_exactly_the_schema_of_the_models(database_url: str) -> None:
    differences = _differences(database_url)

    assert differences == [], f"models and migrations disagree:\n{pformat(differences)}"


def test_the_migrations_can_be_undone_to_an_empty_database_and_done_again(empty_database_url: str) -> None:
    upgrade(empty_database_url)

    command.downgrade(alembic_config(empty_database_url), "base")
    assert _tables(empty_database_url) == {"alembic_version"}

    upgrade(empty_database_url)
    assert _tables(empty_database_url) == {"alembic_version"} | set(Base.metadata.tables)
    assert _differences(empty_database_url) == []
