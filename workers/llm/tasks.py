"""LLM pool tasks (queue ``llm``): chat generation and the LLM side of dialect identification.

Both tasks take a group of job ids: one message carries up to ``llm_group_size`` jobs, which
are started in one transaction, sent to vLLM together and recorded in one transaction. The
worker runs llm_concurrency / llm_group_size messages at once (threads pool, prefetch 1,
acks_late: ``voxq worker llm``, workers/pools.py), so vLLM always has llm_concurrency chats
to batch, and a worker holds no more messages than it runs: the ``llm`` list length is the
whole backlog, in groups.

Why groups: on 2 cores shared with vLLM and the tiny test model, one job per message made
the worker itself the bottleneck; Celery's receive, ack and events and two transactions cost
about 9.5 ms of CPU a job, as much as vLLM spent on the request. 512 dialect jobs went at 55–70
jobs/s against 145–200/s sent straight to vLLM. With groups of 16 those costs are paid once per
group, and a dialect group is one batch request (``chat_many``), which also spares vLLM
per-request work. bench/llm_dialect.py, median of 3 rounds: 1.04 × the rate of the same
chats sent straight to vLLM one request each, 0.89 × the rate of the same batch requests
sent straight (single rounds: 110–167 jobs/s; the machine's rate drifts). celery-batches was
not taken: it needs prefetch above its flush size, so the messages it waits on leave the
list an autoscaler reads.

A chat that could not get through (RetryableEngineError) sends only its own job round again
(``run_jobs``): the group's finished jobs are recorded, not redone.

Time limits: the threads pool does not enforce ``soft_time_limit``/``time_limit`` (only
prefork does), so the bound that holds there is the client's: each HTTP request times out
after ``llm_timeout_s`` and is tried at most a few times. The declared limits cover the
same budget for a worker started with another pool.
"""

import logging
from typing import Any, TypedDict

from celery import Task
from celery.signals import worker_ready

from shared.config import get_settings, llm_task_time_limits
from shared.dialect.detector import detect
from shared.dialect.hybrid import combine
from shared.dialect.lexicon import mandarin_lexicon
from shared.errors import EngineError, RetryableEngineError
from shared.jobs.contracts import DialectInput, GenerationInput, GenerationResult, TokenUsage
from shared.jobs.dialect_answer import hybrid_answer
from shared.jobs.lanes import DIALECT_TASK, GENERATE_TASK
from workers.app import celery_app
from workers.llm.dialect_prompt import dialect_request
from workers.llm.engines import get_engine
from workers.llm.engines.base import ChatRequest, ChatResult
from workers.llm.prompts import generation_messages
from workers.llm.spoken_reply import spoken
from workers.llm.spoken_stream import streamed_reply
from workers.runner import JOB_TASK_POLICY, Outcome, Outcomes, Work, run_jobs

logger = logging.getLogger(__name__)
settings = get_settings()

# One task's worst case: every in-client attempt times out, plus backoff between them. The
# settings keep it within LONGEST_TASK_S, which the visibility timeout is checked against.
_SOFT_LIMIT_S, _HARD_LIMIT_S = llm_task_time_limits(settings.llm_timeout_s)


class _TimeLimits(TypedDict):
    soft_time_limit: int
    time_limit: int


_LIMITS: _TimeLimits = {"soft_time_limit": _SOFT_LIMIT_S, "time_limit": _HARD_LIMIT_S}


# Their queue: shared.jobs.lanes.QUEUE_FOR_TASK, as task_routes (Celery deprecates `queue=` on a task).
@celery_app.task(name=GENERATE_TASK, **_LIMITS, **JOB_TASK_POLICY)
def generate(self: Task[Any, Any], job_ids: list[str]) -> None:
    run_jobs(self, job_ids, GenerationInput, generate_jobs)


@celery_app.task(name=DIALECT_TASK, **_LIMITS, **JOB_TASK_POLICY)
def dialect(self: Task[Any, Any], job_ids: list[str]) -> None:
    run_jobs(self, job_ids, DialectInput, dialect_jobs)


@worker_ready.connect
def _load_the_lexicon(sender: Any, **_: Any) -> None:
    """A worker of the llm queue reads the detector's word list (about a second) before its
    first job rather than during it."""
    if "llm" in sender.app.amqp.queues.consume_from:
        mandarin_lexicon()


def _usage(result: ChatResult) -> TokenUsage | None:
    if result.usage is None:
        return None
    return TokenUsage(prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens)


def generate_jobs(group: list[Work[GenerationInput]]) -> Outcomes:
    """Persona + history + input -> reply; reasoning (thinking on) stored apart from the reply.
    A request the server rejects fails its job with the server's message; one that could not
    get through is retried. A reply asked for as a stream is written piece by piece to its
    reply stream and spoken sentence by sentence (workers/llm/spoken_stream.py); one asked for
    whole is spoken by one synthesis job (workers/llm/spoken_reply.py)."""
    engine = get_engine()
    outcomes: dict[int, Outcome | EngineError] = {}
    streamed = [i for i, work in enumerate(group) if work.input.stream]
    whole = [i for i, work in enumerate(group) if not work.input.stream]
    # One request per chat, so that each reply keeps its own token usage; a generation's
    # tokens, not the HTTP exchange, are what costs.
    answers = engine.chat_many([_chat_request(group[i].input) for i in whole], batch=False)
    for i, answer in zip(whole, answers, strict=True):
        outcomes[i] = answer if isinstance(answer, EngineError) else _reply(group[i], answer, engine.model)
    # Streams come one job to a message (single requests, live lane): no pool for them.
    for i in streamed:
        outcomes[i] = streamed_reply(group[i], _chat_request(group[i].input), engine)
    return [outcomes[i] for i in range(len(group))]


def _chat_request(request: GenerationInput) -> ChatRequest:
    return ChatRequest(
        messages=generation_messages(request.persona, request.history, request.input),
        enable_thinking=request.thinking,
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_tokens,
    )


def _reply(work: Work[GenerationInput], answer: ChatResult, model: str) -> Outcome:
    logger.info("job %s: generated (%s)", work.job.id, answer.finish_reason)
    result = GenerationResult(
        text=answer.text,
        reasoning=answer.reasoning,
        finish_reason=answer.finish_reason,
        usage=_usage(answer),
        model=model,
    )
    return spoken(result, work.input.speak)


def dialect_jobs(group: list[Work[DialectInput]]) -> Outcomes:
    """Name the dialect of each text: the LLM's constrained choice combined with the CPU detector.

    The CPU detector (markers, microseconds) always runs; the LLM reads the whole sentence,
    constrained to the eight labels, without thinking, greedily, and the group's texts go
    to it as one batch. ``shared.dialect.hybrid`` decides between the two. A text the
    server rejects keeps the CPU answer (the job succeeds, with ``llm_error``); a failure
    that may pass is retried like any other.
    """
    engine = get_engine()
    answers = engine.chat_many([dialect_request(work.input.text, work.input.context) for work in group])
    return [_dialect_outcome(work, answer, engine.model) for work, answer in zip(group, answers, strict=True)]


def _dialect_outcome(work: Work[DialectInput], answer: ChatResult | EngineError, model: str) -> Outcome | EngineError:
    if isinstance(answer, RetryableEngineError):
        return answer  # the job goes round again
    cpu = detect(work.input.text)
    if isinstance(answer, EngineError):
        logger.warning("job %s: LLM rejected the request, the CPU answer stands: %s", work.job.id, answer)
        return Outcome(hybrid_answer(combine(cpu, None, str(answer)), model))
    return Outcome(hybrid_answer(combine(cpu, answer.text), model, _usage(answer)))
