"""A reply as it is written: the LLM worker appends each piece of a streamed generation to a
Redis stream of its own (``voxq:reply:<job id>``), and the API reads it from the start into
the client's Server-Sent Events.

A Redis stream rather than pub/sub, because the reader may connect after the worker has
begun (or even finished): it reads from the first entry, so nothing is missed and nothing
is ordered differently. The database stays the truth; the stream is how fast the client
sees the reply, and it expires an hour after its last entry.
"""

import logging
from typing import Annotated, Literal, cast

from pydantic import BaseModel, Field, TypeAdapter
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEEP_S = 3600  # a stream outlives its reply by this much: time for a late reader to catch up
_FIELD = "event"  # each entry holds one field: the event as JSON


class Started(BaseModel):
    """An attempt began. A second one means the first was cut off (its worker was lost):
    the reply starts over."""

    type: Literal["started"] = "started"
    attempt: int


class TextDelta(BaseModel):
    """New reply text, or new reasoning (thinking on), which is never spoken."""

    type: Literal["text"] = "text"
    attempt: int
    text: str = ""
    reasoning: str = ""


class Sentence(BaseModel):
    """A finished sentence of the reply, queued for synthesis (live lane) as job `job_id`."""

    type: Literal["sentence"] = "sentence"
    attempt: int
    index: int
    text: str
    job_id: str


class SpeechFailed(BaseModel):
    """The reply can no longer be spoken (its voice was deleted, the queue was away); the
    text goes on."""

    type: Literal["speech_error"] = "speech_error"
    attempt: int
    message: str


class Ended(BaseModel):
    """The attempt's reply is complete (or failed: `error`); the job's row has the rest."""

    type: Literal["ended"] = "ended"
    attempt: int
    error: str | None = None


ReplyEvent = Annotated[Started | TextDelta | Sentence | SpeechFailed | Ended, Field(discriminator="type")]
_EVENT: TypeAdapter[ReplyEvent] = TypeAdapter(ReplyEvent)


def stream_key(job_id: str) -> str:
    return f"voxq:reply:{job_id}"


class ReplyWriter:
    """The worker's side: appends events; a Redis failure is logged, never raised, because
    the reply itself is still recorded in the database."""

    def __init__(self, redis: Redis, job_id: str) -> None:
        self._redis = redis
        self._key = stream_key(job_id)

    def add(self, event: ReplyEvent) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(self._key, {_FIELD: event.model_dump_json()})
                pipe.expire(self._key, KEEP_S)
                pipe.execute()
        except RedisError as exc:
            logger.warning("%s: event not written (%s): %s", self._key, event.type, exc)


async def read_events(redis: AsyncRedis, job_id: str, after: str, block_ms: int) -> tuple[str, list[ReplyEvent]]:
    """The events after entry `after` ("0": from the start), waiting up to `block_ms` for the
    first; returns the id to read after next and the events (none on a timeout)."""
    # XREAD's answer (RESP2, bytes): [[key, [(entry id, {field: value}), ...]]]
    answer = cast(
        list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
        await redis.xread({stream_key(job_id): after}, block=block_ms),
    )
    events: list[ReplyEvent] = []
    for _key, entries in answer:
        for entry_id, fields in entries:
            after = entry_id.decode()
            events.append(_EVENT.validate_json(fields[_FIELD.encode()]))
    return after, events
