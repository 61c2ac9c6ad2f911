"""The real vLLM CPU server as a session-scoped pytest fixture (`deploy/vllm_server.py`).

Enable with ``pytest_plugins = ["tests.plugins.vllm_server"]`` in the root conftest.
"""

from collections.abc import Iterator

import pytest

from deploy.vllm_server import VLLMServer, VLLMSetupError, running_vllm_server
from tests.plugins.tiers import starts_processes


@pytest.fixture(scope="session")
@starts_processes
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    """A running vLLM OpenAI server with the tiny Qwen3 model, shared by the whole session.

    Fails (never skips) when the vLLM virtualenv is missing or the server does not start.
    """
    try:
        with running_vllm_server(tmp_path_factory.mktemp("vllm")) as server:
            yield server
    except VLLMSetupError as exc:
        pytest.fail(str(exc), pytrace=False)
