"""The API in this process, on the session's SQLite database: for routes whose work needs no
worker process (validation, stored results, and jobs run in this process with a task's `apply`)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import app
from shared.db import session_scope
from shared.migrate import upgrade
from shared.tenants.auth import create_key
from shared.tenants.local import LOCAL_TENANT


@pytest.fixture(scope="session")
def inproc_key() -> str:
    """A key of the in-process API's database (SQLite in the session's data folder)."""
    upgrade()
    with session_scope() as session:
        return create_key(session, "inproc")


@pytest.fixture(scope="session")
def local_key(inproc_key: str) -> str:
    """A key of the in-process API's local tenant: the operator's, which reads /metrics when no
    VOXQ_METRICS_TOKEN is set."""
    with session_scope() as session:
        return create_key(session, LOCAL_TENANT)


@pytest.fixture
def client(inproc_key: str) -> Iterator[TestClient]:
    """The API in this process: for request validation that never reaches a worker."""
    with TestClient(app, headers={"Authorization": f"Bearer {inproc_key}"}) as c:
        yield c
