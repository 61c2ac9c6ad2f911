from collections.abc import Iterator

import pytest

from deploy.stack import Stack, fresh_pg_database, start_stack
from deploy.vllm_server import VLLMServer


@pytest.fixture(scope="session")
def llm_stack(tmp_path_factory: pytest.TempPathFactory, vllm_server: VLLMServer) -> Iterator[Stack]:
    """API, an espeak TTS worker and an LLM worker on Postgres and real vLLM: 4 threads, each
    running a message of up to 4 jobs (small groups, so that small batches test grouping). On a
    database of its own, as it runs beside the stacks a test starts for itself."""
    with fresh_pg_database("voxq_llm") as url:
        stack = start_stack(
            tmp_path_factory.mktemp("stack-llm"),
            url,
            tts_workers=1,
            VOXQ_LLM_URL=vllm_server.base_url,
            VOXQ_LLM_MODEL=vllm_server.model,
            VOXQ_LLM_GROUP_SIZE="4",
        )
        stack.start_worker("llm", 4)
        yield stack
        stack.stop()
