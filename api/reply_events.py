"""Server-Sent Events of a streamed reply (POST /v1/generate with `stream`).

Two readers feed the client's one stream: the reply stream the LLM worker writes
(shared/jobs/replies.py), relayed as it comes, and the audio of each finished sentence, sent as
soon as that sentence's synthesis job is spoken and always in the reply's order. Events:

- ``text``: ``{"text", "reasoning"}``, the new piece of the reply (reasoning is never spoken)
- ``audio``: ``{"index", "text", "job_id", "url", "format"}`` (+ ``"base64"`` with
  ``stream_audio: "base64"``), one per sentence, in order
- ``speech_error``: ``{"message", ...}``, a sentence (or the rest) that will not be spoken
- ``restart``: ``{"attempt"}``, the worker was lost mid-reply and the reply starts over
- ``error``: ``{"message"}``, the reply could not be generated
- ``done``: the job as ``GET /v1/jobs/{id}`` shows it, with ``result.speech_job_ids``

A client that goes away cancels only its own reading: the reply is still generated, spoken
and stored.
"""

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from redis.asyncio import Redis

from api.presenters import job_out
from api.schemas import JobOut
from api.spoken import audio_when_spoken
from api.waiting import Finished
from shared.books.exports import to_bytes
from shared.config import get_settings
from shared.db import session_scope
from shared.errors import VoxQueueError
from shared.jobs.contracts import GenerateRequest
from shared.jobs.replies import Ended, Sentence, SpeechFailed, Started, TextDelta, read_events
from shared.models import FINISHED, Job, JobStatus
from shared.redis import async_client

logger = logging.getLogger(__name__)

_LOOK_EVERY_MS = 2000  # between looks at the job's row while the stream is silent (also a keep-alive)


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class ReplyEvents:
    """The events of one streamed reply, for one client."""

    def __init__(self, job_id: str, tenant_id: str, spec: GenerateRequest, finished: Finished, request: Request):
        self.job_id = job_id
        self.tenant_id = tenant_id
        self.spec = spec
        self.finished = finished
        self.request = request
        self.settings = get_settings()
        self._out: asyncio.Queue[str | None] = asyncio.Queue()
        self._sentences: asyncio.Queue[Sentence | None] = asyncio.Queue()

    async def stream(self) -> AsyncIterator[str]:
        tasks = [
            asyncio.create_task(self._relay_reply(), name=f"reply-{self.job_id}"),
            asyncio.create_task(self._send_audio(), name=f"reply-audio-{self.job_id}"),
        ]
        try:
            while (item := await self._out.get()) is not None:
                yield item
            job = await self.finished.wait(self.job_id, self.settings.speech_wait_s, self._job_if_finished)
            if job is None:
                yield sse("error", {"message": f"job {self.job_id} was not recorded in time; see GET /v1/jobs"})
                return
            if job.status == JobStatus.failed:
                yield sse("error", {"message": job.error})
            yield sse("done", job.model_dump(mode="json"))
        finally:  # the client went away, or all was sent: the workers go on regardless
            for task in tasks:
                task.cancel()

    async def _relay_reply(self) -> None:
        """Relay the reply stream until its attempt ends well, or the job is finished."""
        try:
            async with async_client(self.settings.redis_url) as redis:
                await self._relay(redis)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: the job itself goes on; the client is told
            logger.warning("job %s: reply stream broke off: %s", self.job_id, exc)
            await self._out.put(sse("error", {"message": f"the reply stream broke off: {exc}"}))
        finally:
            await self._sentences.put(None)

    async def _relay(self, redis: Redis) -> None:
        loop = asyncio.get_running_loop()
        after, attempt = "0", None
        silent_since = loop.time()
        while True:
            after, events = await read_events(redis, self.job_id, after, _LOOK_EVERY_MS)
            if not events:
                # Nothing new: the job may have ended without a stream (refused input, given up).
                if await self._job_if_finished() is not None:
                    return
                if loop.time() - silent_since > self.settings.speech_wait_s:
                    await self._out.put(sse("error", {"message": f"no LLM worker took job {self.job_id} in time"}))
                    return
                await self._out.put(": waiting\n\n")  # a comment: keeps proxies from closing the stream
                continue
            silent_since = loop.time()
            for event in events:
                if isinstance(event, Started):
                    if attempt is not None:
                        await self._out.put(sse("restart", {"attempt": event.attempt}))
                    attempt = event.attempt
                elif isinstance(event, TextDelta):
                    await self._out.put(sse("text", {"text": event.text, "reasoning": event.reasoning}))
                elif isinstance(event, Sentence):
                    await self._sentences.put(event)
                elif isinstance(event, SpeechFailed):
                    await self._out.put(sse("speech_error", {"message": event.message}))
                elif isinstance(event, Ended) and event.error is None:
                    return
                # An attempt that ended in an error is retried or failed: the job's row says which.

    async def _send_audio(self) -> None:
        """Each sentence's audio once it is spoken, in order; then the end of the events."""
        try:
            while (sentence := await self._sentences.get()) is not None:
                await self._out.put(await self._audio_event(sentence))
        finally:
            await self._out.put(None)

    async def _audio_event(self, sentence: Sentence) -> str:
        about = {"index": sentence.index, "text": sentence.text, "job_id": sentence.job_id}
        try:
            flac = await self.finished.wait(
                sentence.job_id,
                self.settings.speech_wait_s,
                lambda: audio_when_spoken(self.tenant_id, sentence.job_id),
            )
        except VoxQueueError as exc:
            return sse("speech_error", about | {"message": str(exc)})
        if flac is None:
            return sse("speech_error", about | {"message": f"not spoken within {self.settings.speech_wait_s:g}s"})
        fmt = self.spec.speak.format if self.spec.speak is not None else "wav"
        url = str(self.request.url_for("job_audio", job_id=sentence.job_id))
        event = about | {"url": url, "format": fmt}
        if self.spec.stream_audio == "base64":
            audio = await run_in_threadpool(to_bytes, flac, fmt)
            event["base64"] = base64.b64encode(audio).decode()
        return sse("audio", event)

    async def _job_if_finished(self) -> JobOut | None:
        return await run_in_threadpool(self._read_finished_job)

    def _read_finished_job(self) -> JobOut | None:
        with session_scope() as session:
            job = session.get_one(Job, self.job_id)
            return job_out(job, self.request) if job.status in FINISHED else None
