"""Speaking a generated reply asked for whole (not streamed): one synthesis job speaks it.

The reply and its synthesis job (a child, linked by `parent_id`) are written in the one
transaction that records the reply's group: the reply's result names the child
(`speech_job_id`), or says why there is none (`speech_error`). The child is created only by
the attempt that finished the reply, so a reply delivered twice is spoken once. It goes
where its request came: the live lane for a single request, the bulk lane for a batch's.

The runner (workers/runner.py) knows none of this: `SpokenReply` is the reply's `FollowUp`,
which the runner calls in its recording transaction, and it enqueues the job it names after
the commit. A streamed reply is spoken sentence by sentence instead (spoken_stream.py).
"""

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from shared.errors import VoxQueueError
from shared.jobs import state
from shared.jobs.contracts import GenerationResult, JobResult, ScriptLine, SpeakOptions
from shared.jobs.lanes import SYNTHESIZE_TASK, Lane
from shared.jobs.synthesis import synthesis_jobs
from shared.models import Job
from workers.runner import Enqueue, Outcome

logger = logging.getLogger(__name__)

NOTHING_TO_SAY = "the reply is empty: nothing to speak"


def spoken(result: GenerationResult, speak: SpeakOptions | None) -> Outcome:
    """The outcome of a reply generated whole: spoken if `speak` asks and the reply says something."""
    if speak is None:
        return Outcome(result)
    if not result.text.strip():
        return Outcome(result.model_copy(update={"speech_error": NOTHING_TO_SAY}))
    return Outcome(result, follow_up=SpokenReply(speak))


@dataclass(frozen=True)
class SpokenReply:
    """The follow-up (workers/runner.py `FollowUp`) of a reply to be spoken with `options`."""

    options: SpeakOptions

    def record(self, session: Session, job: Job, result: JobResult) -> Enqueue | None:
        """Record the reply with the id of the synthesis job that speaks it (or why there is
        none), and create that job only if this attempt is the one that finished the reply."""
        assert isinstance(result, GenerationResult), "only a generated reply is spoken"
        options = self.options
        try:
            child = synthesis_jobs(
                session, job.tenant_id, [ScriptLine(1, result.text)], options.voice, options.speed, options.format
            )
        except VoxQueueError as exc:
            logger.warning("job %s: could not start speaking the reply: %s", job.id, exc)
            state.succeed(session, job, result.model_copy(update={"speech_error": str(exc)}))
            return None
        if not state.succeed(session, job, result.model_copy(update={"speech_job_id": child[0].id})):
            return None  # this attempt no longer holds the job: whichever finished it created the child
        logger.info("job %s: reply goes to synthesis job %s", job.id, child[0].id)
        lane: Lane = "live" if job.batch_id is None else "bulk"
        return Enqueue(SYNTHESIZE_TASK, lane, state.insert_jobs(session, job.tenant_id, child, parent_id=job.id))
