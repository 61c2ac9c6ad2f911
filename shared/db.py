"""Database engine and sessions. SQLite (default) or Postgres, through SQLAlchemy 2."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import ARRAY, ColumnElement, Engine, any_, bindparam, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from shared.config import get_settings


def make_engine(url: str, busy_timeout_ms: int = 30_000, pool_size: int = 5) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            # WAL lets the API read while a worker writes; the busy timeout makes writers
            # wait for each other instead of failing at once with "database is locked".
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # 64 MiB of page cache, not SQLite's 2 MiB: with a million jobs, a batch's rows touch
            # thousands of index pages (snippet keys are random), each a read without it.
            cur.execute(f"PRAGMA cache_size=-{64 * 1024}")
            cur.close()

        return engine
    # pool_size: connections kept open. A threads-pool LLM worker runs llm_concurrency jobs at
    # once; with fewer pooled connections the extra threads open and close a connection per
    # transaction (overflow), a measurable share of the worker's CPU. Connections open lazily,
    # so processes that need few keep few.
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size)


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.data_dir.expanduser().mkdir(parents=True, exist_ok=True)
    return make_engine(
        settings.sqlalchemy_url, settings.sqlite_busy_timeout_ms, pool_size=max(5, settings.llm_concurrency)
    )


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)


def new_session() -> Session:
    return _session_factory()()


# What an unreachable or restarting database raises (and SQLite's "database is locked"):
# worth trying again in a moment, unlike an error in the statement itself.
UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


T = TypeVar("T")
IN_CHUNK = 500  # values in one IN (...) list: far under SQLite's and Postgres's bound-parameter limits


def in_chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` a slice of at most `size` at a time: one statement per slice, so that an IN list
    (or what one statement reads) stays bounded however many items there are."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def among(
    session: Session, column: QueryableAttribute[T] | ColumnElement[T], values: Sequence[T]
) -> ColumnElement[bool]:
    """`column IN values`, for a slice of `in_chunks`. On Postgres as one array (`= ANY`): an IN
    list is a placeholder per value, and psycopg parses a statement that long anew each time
    (it caches short ones only): about 3 ms for 500, 60 ms of a 10,000-line batch's acceptance."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.expression.type)))
    return column.in_(values)
