import os
import tempfile

import pytest

from tests.plugins.tiers import PROCESS_FIXTURES

# The test session's own settings, before any VoxQueue module reads them: a private data
# folder (the in-process API's SQLite database) and a Redis database no stack uses.
os.environ["VOXQ_DATA_DIR"] = tempfile.mkdtemp(prefix="voxq-test-")
os.environ["VOXQ_REDIS_URL"] = "redis://127.0.0.1:6379/15"
os.environ.pop("VOXQ_DATABASE_URL", None)
os.environ.pop("VOXQ_API_KEY", None)
os.environ["VOXQ_RECONCILE_IN_API"] = "0"  # the in-process API's; stacks run theirs (deploy/stack.py)
# The in-process API's dispatcher thread too: a submission still sends its first lines at once,
# and a test steps the dispatcher itself, so what it counts is not moved by a timer.
os.environ["VOXQ_DISPATCH_IN_API"] = "0"
# And batches accepted on its threads, where a test's changed settings are seen (stacks accept
# in a process of their own, as deployed).
os.environ["VOXQ_ACCEPT_PROCESSES"] = "0"
# Downloads unlimited, as submissions are by default: a test of the limit sets its own.
os.environ["VOXQ_DOWNLOAD_LIMIT_PER_MIN"] = "0"

pytest_plugins = [
    "tests.plugins.inproc_api",
    "tests.plugins.services",
    "tests.plugins.vllm_server",
    "tests.plugins.fish_standin",
]

# Two tiers (`make test-fast` runs the tests marked neither slow nor vllm). A test is put in
# the slow tier by what it uses, never by hand: a fixture marked `@starts_processes` where it
# is defined (tests/plugins/tiers.py), directly or through other fixtures, or a module that
# starts processes itself with one of the launchers.
_LAUNCHERS = frozenset({"start_stack", "run_fish_standin", "running_vllm_server", "Fleet", "SentinelRedis"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        launches = _LAUNCHERS & set(vars(getattr(item, "module", None) or object))
        if used & PROCESS_FIXTURES or launches:
            item.add_marker(pytest.mark.slow)
        if "vllm_server" in used:
            item.add_marker(pytest.mark.vllm)
