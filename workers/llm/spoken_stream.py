"""Speak as you generate: a streamed reply whose sentences are spoken while the model goes on.

The LLM worker reads the reply from vLLM piece by piece and appends each piece to the job's
reply stream (shared/jobs/replies.py), which the API turns into the client's Server-Sent Events.
Each sentence, once finished, becomes a synthesis job in the live lane at once, so the
first sentence is being spoken while the model writes the second. Only the reply is
spoken: reasoning (thinking on) is streamed apart and never reaches a voice.

Each sentence's job is committed and queued on its own, a few milliseconds each, so that
it can start before the reply ends; the generation job, recorded by the runner when the
reply is complete, lists them all in `speech_job_ids`.
"""

import logging

from shared.config import get_settings
from shared.db import UNREACHABLE, session_scope
from shared.errors import EngineError, RetryableEngineError, VoxQueueError
from shared.jobs import state
from shared.jobs.contracts import GenerationInput, GenerationResult, ScriptLine, SpeakOptions, TokenUsage
from shared.jobs.lanes import SYNTHESIZE_TASK
from shared.jobs.queue import commit_and_enqueue
from shared.jobs.replies import Ended, ReplyWriter, Sentence, SpeechFailed, Started, TextDelta
from shared.jobs.synthesis import synthesis_jobs
from shared.models import Job
from shared.redis import broker
from shared.text.sentences import finished_sentences
from workers.llm.engines.base import ChatRequest, LLMEngine
from workers.llm.spoken_reply import NOTHING_TO_SAY
from workers.runner import Outcome, Work

logger = logging.getLogger(__name__)


def streamed_reply(work: Work[GenerationInput], request: ChatRequest, engine: LLMEngine) -> Outcome | EngineError:
    """Generate one reply as a stream, speaking each finished sentence (with `speak`)."""
    job = work.job
    writer = ReplyWriter(broker(), job.id)
    writer.add(Started(attempt=job.attempts))
    speaker = _Speaker(job, work.input.speak, writer) if work.input.speak is not None else None
    text: list[str] = []
    reasoning: list[str] = []
    finish_reason: str | None = None
    usage: TokenUsage | None = None
    try:
        for piece in engine.chat_stream(request):
            if piece.text or piece.reasoning:
                writer.add(TextDelta(attempt=job.attempts, text=piece.text, reasoning=piece.reasoning))
            text.append(piece.text)
            reasoning.append(piece.reasoning)
            finish_reason = piece.finish_reason or finish_reason
            if piece.usage is not None:
                usage = TokenUsage(
                    prompt_tokens=piece.usage.prompt_tokens, completion_tokens=piece.usage.completion_tokens
                )
            if speaker is not None:
                speaker.hear(piece.text)
        if speaker is not None:
            speaker.finish()
    except EngineError as exc:
        writer.add(Ended(attempt=job.attempts, error=str(exc)))
        return exc
    writer.add(Ended(attempt=job.attempts))
    logger.info("job %s: streamed (%s)", job.id, finish_reason)
    result = GenerationResult(
        text="".join(text),
        reasoning="".join(reasoning) or None,
        finish_reason=finish_reason,
        usage=usage,
        model=engine.model,
    )
    if speaker is None:
        return Outcome(result)
    speech_error = speaker.error or (None if speaker.job_ids else NOTHING_TO_SAY)
    return Outcome(result.model_copy(update={"speech_job_ids": speaker.job_ids, "speech_error": speech_error}))


class _Speaker:
    """Cuts a growing reply into sentences and queues each for synthesis in the live lane."""

    def __init__(self, job: Job, options: SpeakOptions, writer: ReplyWriter) -> None:
        self.job = job
        self.options = options
        self.writer = writer
        self.job_ids: list[str] = []
        self.error: str | None = None
        self._growing = ""
        self._max_chars = get_settings().max_chunk_chars

    def hear(self, text: str) -> None:
        self._growing += text
        done, self._growing = finished_sentences(self._growing, self._max_chars)
        for sentence in done:
            self._speak(sentence)

    def finish(self) -> None:
        if rest := self._growing.strip():
            self._speak(rest)
        self._growing = ""

    def _speak(self, sentence: str) -> None:
        # A piece of bare punctuation ("……") has nothing to say; after a failure nothing more is
        # spoken, so that the audio never skips a sentence in the middle.
        if self.error is not None or not any(ch.isalnum() for ch in sentence):
            return
        tenant, speak = self.job.tenant_id, self.options
        try:
            with session_scope() as session:
                line = [ScriptLine(len(self.job_ids) + 1, sentence)]
                child = synthesis_jobs(session, tenant, line, speak.voice, speak.speed, speak.format)
                to_queue = state.insert_jobs(session, tenant, child, parent_id=self.job.id)
                commit_and_enqueue(session, SYNTHESIZE_TASK, to_queue, "live")
        except UNREACHABLE as exc:  # the whole reply goes round again rather than speak with a gap
            raise RetryableEngineError(f"the database is unreachable: {exc}") from exc
        except VoxQueueError as exc:
            logger.warning("job %s: stops speaking its reply: %s", self.job.id, exc)
            self.error = str(exc)
            self.writer.add(SpeechFailed(attempt=self.job.attempts, message=self.error))
            return
        self.job_ids.append(child[0].id)
        self.writer.add(
            Sentence(attempt=self.job.attempts, index=len(self.job_ids) - 1, text=sentence, job_id=child[0].id)
        )
