"""LLM pool tasks (queue ``llm``): chat generation and the LLM side of dialect identification.

Throughput comes from concurrency, not from the task: vLLM batches every request in flight,
so one worker runs many of these tasks at once and they share one HTTP connection pool
(``get_engine()``). The worker runs the threads pool with concurrency = llm_concurrency,
prefetch multiplier 1 and acks_late (``voxq worker llm``, workers/pools.py). Measured with
bench/llm_dialect.py (512 dialect jobs, tiny model, 2 cores shared with vLLM):
threads -c 32 ≈ 69 jobs/s, threads -c 32 --disable-prefetch ≈ 71, threads -c 8 ≈ 63,
prefork -c 2 ≈ 35 (two requests in flight leave vLLM's batch nearly empty). The thread
options are equal within noise, because a waiting thread costs nothing; with acks_late and
multiplier 1 a worker holds exactly as many messages as it runs (unacked peaked at 32), so
the ``llm`` list length an autoscaler reads is the whole backlog. celery-batches was not
taken: it needs prefetch above its flush size, which moves the backlog out of the list.

Time limits: the threads pool does not enforce ``soft_time_limit``/``time_limit`` (only
prefork does), so the bound that holds there is the client's: each HTTP request times out
after ``llm_timeout_s`` and is tried at most a few times. The declared limits cover the
same budget for a worker started with another pool.
"""

import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.dialect.answer import hybrid_answer
from shared.dialect.detector import detect
from shared.dialect.hybrid import combine
from shared.errors import BadInput, PermanentEngineError, VoxQueueError
from shared.models import Job
from shared.schemas import DialectText, GenerateRequest
from workers.app import celery_app
from workers.enqueue import enqueue_jobs
from workers.jobrunner import JOB_TASK_POLICY, Outcome, run_job
from workers.llm.dialect_prompt import dialect_request
from workers.llm.engines import get_engine
from workers.llm.engines.base import ChatRequest, ChatResult
from workers.llm.prompts import generation_messages
from workers.submit import SYNTHESIZE_TASK, ScriptLine, create_synthesis_jobs

logger = logging.getLogger(__name__)
settings = get_settings()

# One task's worst case: every in-client attempt times out, plus backoff between them.
_TIME_BUDGET_S = int(settings.llm_timeout_s * 4 + 30)

_LIMITS = {"queue": "llm", "soft_time_limit": _TIME_BUDGET_S, "time_limit": _TIME_BUDGET_S + 30}


@celery_app.task(name="voxq.llm.generate", **_LIMITS, **JOB_TASK_POLICY)
def generate(self, job_id: str) -> None:  # type: ignore[no-untyped-def]
    run_job(self, job_id, generate_job)


@celery_app.task(name="voxq.llm.dialect", **_LIMITS, **JOB_TASK_POLICY)
def dialect(self, job_id: str) -> None:  # type: ignore[no-untyped-def]
    run_job(self, job_id, dialect_job)


def _usage(result: ChatResult) -> dict[str, int]:
    return {"prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens}


def generate_job(job: Job) -> Outcome:
    """Persona + history + input -> reply; reasoning (thinking on) stored apart from the reply."""
    try:
        request = GenerateRequest.model_validate(job.input)
    except ValidationError as exc:
        raise BadInput(f"job {job.id}: invalid generation input: {exc}") from exc
    engine = get_engine()
    result = engine.chat(
        ChatRequest(
            messages=generation_messages(request.persona, [t.model_dump() for t in request.history], request.input),
            enable_thinking=request.thinking,
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
        )
    )
    logger.info("job %s: generated %d tokens (%s)", job.id, result.usage.completion_tokens, result.finish_reason)
    outcome = Outcome(
        {
            "text": result.text,
            "reasoning": result.reasoning,
            "finish_reason": result.finish_reason,
            "usage": _usage(result),
            "model": engine.model,
        }
    )
    if request.speak is not None:
        queued: list[str] = []
        outcome.record = lambda session: _add_speech_job(session, job, request, outcome.result, queued)
        outcome.then.append(lambda: enqueue_jobs(SYNTHESIZE_TASK, queued))
    return outcome


def _add_speech_job(
    session: Session, job: Job, request: GenerateRequest, result: dict[str, Any], queued: list[str]
) -> None:
    """Create the synthesis of the reply in the transaction that records the generation, so a
    succeeded generation always has its speech job (or the reason it has none) in its result.

    Fills `queued` with the child's id when it still has to be enqueued (after the commit).
    """
    assert request.speak is not None
    if not result["text"].strip():
        result["speech_error"] = "the reply is empty: nothing to speak"
        return
    speak = request.speak
    try:
        with session.begin_nested():  # a refused child must not undo the generation
            [child_id], to_queue = create_synthesis_jobs(
                session, job.tenant_id, [ScriptLine(1, result["text"])], speak.voice, speak.speed, speak.format,
                parent_id=job.id,
            )
    except VoxQueueError as exc:
        logger.warning("job %s: could not start speaking the reply: %s", job.id, exc)
        result["speech_error"] = str(exc)
        return
    result["speech_job_id"] = child_id
    queued.extend(to_queue)
    logger.info("job %s: reply goes to synthesis job %s", job.id, child_id)


def dialect_job(job: Job) -> Outcome:
    """Name the dialect of a text: the LLM's constrained choice combined with the CPU detector.

    The CPU detector (markers, microseconds) always runs; the LLM reads the whole sentence,
    constrained to the eight labels, without thinking, greedily. ``shared.dialect.hybrid``
    decides between them. A request the server rejects leaves the CPU answer standing (the
    job succeeds, with ``llm_error``); a failure that may pass is retried like any other.
    """
    try:
        item = DialectText.model_validate(job.input)
    except ValidationError as exc:
        raise BadInput(f"job {job.id}: invalid dialect input: {exc}") from exc
    cpu = detect(item.text)
    engine = get_engine()
    try:
        result = engine.chat(dialect_request(item.text, item.context))
    except PermanentEngineError as exc:
        logger.warning("job %s: LLM rejected the request, the CPU answer stands: %s", job.id, exc)
        return Outcome({**hybrid_answer(combine(cpu, None, str(exc))), "model": engine.model})
    answer = hybrid_answer(combine(cpu, result.text))
    return Outcome({**answer, "usage": _usage(result), "model": engine.model})
