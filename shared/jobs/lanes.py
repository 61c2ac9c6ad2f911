"""Where each job waits: the task of each kind, the queue of each pool, and the two lanes of
each queue as the Redis lists workers pop. Plain names, no Celery: metrics, cancelling and
the queue client all read them."""

from typing import Literal

from shared.models import JobKind

SYNTHESIZE_TASK = "voxq.tts.synthesize"
GENERATE_TASK = "voxq.llm.generate"
DIALECT_TASK = "voxq.llm.dialect"
BOOK_TASK = "voxq.media.book"

TASK_FOR_KIND: dict[JobKind, str] = {
    JobKind.synthesis: SYNTHESIZE_TASK,
    JobKind.generation: GENERATE_TASK,
    JobKind.dialect: DIALECT_TASK,
    JobKind.book: BOOK_TASK,
}
# One queue per worker pool; the length of its Redis list is the pool's backlog. `media`
# assembles books on the CPU (ffmpeg): on a GPU fleet its own workers serve it, so a long build
# never holds a GPU slot; the embedded TTS worker (espeak-ng) takes it too.
QUEUE_FOR_TASK: dict[str, str] = {
    SYNTHESIZE_TASK: "tts",
    GENERATE_TASK: "llm",
    DIALECT_TASK: "llm",
    BOOK_TASK: "media",
}
QUEUES: tuple[str, ...] = ("tts", "llm", "media")
POOLS = QUEUES  # a pool of workers per queue: `voxq worker tts|llm|media`

# Every pool has two lanes, as kombu's Redis priorities: a worker pops the live list before
# the bulk one (BRPOP in that order), so a live job waits at most for the jobs already
# running. Single requests go live; batches go bulk unless submitted with priority=live.
Lane = Literal["live", "bulk"]
LANES: tuple[Lane, ...] = ("live", "bulk")
PRIORITY: dict[Lane, int] = {"live": 0, "bulk": 9}
SEP = ":"


def lane_list(queue: str, lane: Lane) -> str:
    """The Redis list that holds `queue`'s waiting messages of `lane`: `tts` (live) and
    `tts:9` (bulk), and so for `llm`; each list's length is that lane's backlog."""
    priority = PRIORITY[lane]
    return f"{queue}{SEP}{priority}" if priority else queue
