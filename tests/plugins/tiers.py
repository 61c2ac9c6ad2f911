"""The slow tier's fixtures: each fixture that starts a server or a process says so where it
is defined, and `tests/conftest.py` marks every test that uses one (directly or through other
fixtures) as slow."""

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

PROCESS_FIXTURES: set[str] = set()


def starts_processes(fixture: F) -> F:
    """Put under ``@pytest.fixture``: the fixture starts servers or worker processes."""
    PROCESS_FIXTURES.add(fixture.__name__)
    return fixture
