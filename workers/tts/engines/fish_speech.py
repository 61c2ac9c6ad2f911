"""TTSEngine over Fish Speech's HTTP API server (``tools/api_server.py``, ``POST /v1/tts``).

The worker never loads a model: Fish Speech runs as its own server with a full model copy
on its GPU. Facts this client is built on (see the Fish Speech API notes in the shared docs):

* **One request at a time per server.** The server feeds a single model thread (KV cache
  batch size 1) from a FIFO queue, and its async handler blocks the event loop while it
  waits, so a second request only queues behind the first and ``/v1/health`` stalls too.
  Deploy therefore **one worker slot per server**: a Celery TTS worker with
  ``--concurrency 1 --prefetch-multiplier 1`` pointed at exactly one ``VOXQ_FISH_SPEECH_URL``.
  Several servers mean several such workers, each with its own URL; scale by GPU memory,
  not CPU. The lock below only keeps threads of *this* process from stacking requests on
  the server; it cannot coordinate processes.
* **Cloning is zero-shot, by value.** Every request carries ``references=[{audio, text}]``
  with the raw clip bytes and its exact transcript. ``reference_id`` is never used: an
  unknown id is not an error, the server answers 200 with a random voice.
  ``use_memory_cache="on"`` lets the server reuse the encoded clip, keyed by its sha256.
* **Explicit sampling.** ``top_p``, ``temperature`` and ``repetition_penalty`` are strict
  floats with enforced ranges (422 otherwise), so they are always sent as floats and
  checked here first; ``seed`` pins the process-global RNG, which makes a line repeatable.
* **wav only.** ``pcm``/``opus`` fail inside the server (500) and ``flac`` fails schema
  validation (422); the answer is mono 16-bit WAV at 44.1 kHz. ``normalize`` is a no-op
  since Fish Speech dropped its Chinese normaliser, so text must already be normalised
  (``shared.text.normalize.normalize_zh``) before it reaches this engine.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from typing import Any, Literal

import httpx
import msgpack

from shared.audio.codec import Audio, decode
from shared.errors import BadInput, PermanentEngineError, RetryableEngineError
from shared.voices.resolve import VoiceSpec
from workers.tts.tempo import change_tempo

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44_100  # codec rate of every Fish Speech model from 1.4 to S2
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.8
# Ranges ServeTTSRequest enforces (pydantic Field(ge, le, strict=True)).
_RANGES: dict[str, tuple[float, float]] = {"temperature": (0.1, 1.0), "top_p": (0.1, 1.0)}

# Server-side failures that no retry can cure although they come back as HTTP 500.
_PERMANENT_500_MESSAGES = ("no audio generated", "prompt is too long", "unknown format")
# Statuses that say "the server is busy, restarting or overloaded".
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})

BodyEncoding = Literal["msgpack", "json"]


class FishSpeechEngine:
    """Speech from one Fish Speech API server; clones zero-shot from a reference clip."""

    name = "fish_speech"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        *,
        encoding: BodyEncoding = "msgpack",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.encoding = encoding
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            # Connecting is quick or the server is down; the answer may take a long time
            # because the server runs requests one after another.
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self._lock = threading.Lock()

    # --- TTSEngine -----------------------------------------------------------------------

    def synthesize(self, text: str, voice: VoiceSpec) -> Audio:
        if not text.strip():
            raise PermanentEngineError("nothing to say: the text is empty")
        body = self.request_body(text, voice)
        with self._lock:
            response = self._post("/v1/tts", body)
        audio = _decode_wav(response)
        if voice.speed != 1.0:
            # Fish Speech has no rate control; stretch the answer, keeping its pitch.
            audio = change_tempo(audio, voice.speed)
        logger.debug("fish speech: %d chars -> %.2fs of audio", len(text), audio.duration_s)
        return audio

    # --- extras --------------------------------------------------------------------------

    def health(self, timeout_s: float = 5.0) -> bool:
        """True if ``/v1/health`` answers ok. Stalls while the server synthesises: call between jobs."""
        try:
            response = self._client.get("/v1/health", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> FishSpeechEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request_body(self, text: str, voice: VoiceSpec) -> dict[str, Any]:
        """The ServeTTSRequest fields for one chunk; public so tests can inspect it."""
        body: dict[str, Any] = {
            "text": text,
            "format": "wav",
            "streaming": False,
            "use_memory_cache": "on",
            "temperature": _sampling(voice.temperature, DEFAULT_TEMPERATURE, "temperature"),
            "top_p": _sampling(voice.top_p, DEFAULT_TOP_P, "top_p"),
            "references": [],
        }
        if voice.seed is not None:
            body["seed"] = int(voice.seed)
        if voice.reference_audio is not None:
            if not (voice.reference_text or "").strip():
                raise PermanentEngineError("a cloned voice needs the exact transcript of its reference clip")
            body["references"] = [{"audio": voice.reference_audio, "text": voice.reference_text}]
        return body

    # --- internals -----------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        content, content_type = _encode(body, self.encoding)
        try:
            response = self._client.post(path, content=content, headers={"Content-Type": content_type})
        except httpx.TimeoutException as exc:
            # The server keeps generating after we hang up; an immediate retry would only
            # queue behind it, so the caller's backoff decides when to come back.
            raise RetryableEngineError(
                f"Fish Speech server at {self.base_url} timed out ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:  # refused, reset, DNS
            raise RetryableEngineError(f"Fish Speech server at {self.base_url} unreachable: {exc}") from exc
        check_response(response)
        return response


def check_response(response: httpx.Response) -> None:
    """Turn an error answer into RetryableEngineError or PermanentEngineError.

    Retry only what may pass: a busy or restarting server (5xx, 429, 408). A 500 whose
    message says the input itself is unusable (no audio for the text, a prompt too long, a
    format the server cannot write) fails for good, as do 400, 401, 415 and 422.
    """
    if response.status_code < 400:
        return
    message = error_message(response)
    status = response.status_code
    if status in _RETRYABLE_STATUS and not any(m in message.lower() for m in _PERMANENT_500_MESSAGES):
        raise RetryableEngineError(f"Fish Speech server failed (HTTP {status}): {message}")
    raise PermanentEngineError(f"Fish Speech server rejected the request (HTTP {status}): {message}")


def _sampling(value: float | None, default: float, field: str) -> float:
    """A sampling parameter as the float the server demands, inside its enforced range."""
    result = float(default if value is None else value)
    low, high = _RANGES[field]
    if not low <= result <= high:
        raise PermanentEngineError(f"{field} must be between {low} and {high}, got {result}")
    return result


def _encode(body: dict[str, Any], encoding: BodyEncoding) -> tuple[bytes, str]:
    if encoding == "msgpack":
        # use_bin_type: the clip travels as msgpack bin, which the server reads as bytes.
        return msgpack.packb(body, use_bin_type=True), "application/msgpack"
    refs = [
        # The server base64-decodes an ``audio`` string only when it is over 255 characters;
        # any real clip is far longer than that once encoded.
        {"audio": base64.b64encode(r["audio"]).decode("ascii"), "text": r["text"]}
        for r in body.get("references", [])
    ]
    return json.dumps({**body, "references": refs}, ensure_ascii=False).encode(), "application/json"


def _decode_wav(response: httpx.Response) -> Audio:
    data = response.content
    if data[:4] != b"RIFF":
        raise PermanentEngineError(
            f"Fish Speech server sent {len(data)} bytes of {response.headers.get('content-type')!r}, not a WAV file"
        )
    try:
        audio = decode(data)
    except BadInput as exc:
        raise PermanentEngineError(f"Fish Speech server sent undecodable audio: {exc}") from None
    if len(audio.samples) == 0:
        raise PermanentEngineError("Fish Speech server returned no audio")
    if audio.sample_rate != SAMPLE_RATE:
        logger.warning("fish speech answered at %d Hz, expected %d Hz", audio.sample_rate, SAMPLE_RATE)
    return audio


def error_message(response: httpx.Response) -> str:
    """The server's own words from either error shape it uses.

    HTTPException bodies are ``{"statusCode", "message", "error"}``; schema failures (422)
    are a JSON array of ``{"loc", "type", "msg", "in"}``.
    """
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    if isinstance(data, list):
        parts = []
        for item in data:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', item.get('type', ''))}" if loc else str(item.get("msg")))
        if parts:
            return "; ".join(parts)
    return json.dumps(data, ensure_ascii=False)[:500]
