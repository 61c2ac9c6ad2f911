"""The LLM engine a worker talks to: vLLM's OpenAI-compatible server at VOXQ_LLM_URL."""

from functools import lru_cache

from workers.llm.engines.base import LLMEngine


@lru_cache
def get_engine() -> LLMEngine:
    """One engine per worker process, shared by all its threads (its HTTP pool is thread-safe)."""
    from workers.llm.engines.vllm_openai import VLLMOpenAIEngine

    return VLLMOpenAIEngine.from_settings()
