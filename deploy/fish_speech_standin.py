"""STAND-IN for Fish Speech's HTTP API server, for tests and benchmarks only. It is not Fish Speech.

Fish Speech's weights (GPU-sized checkpoints) cannot exist on the machines that run
VoxQueue's tests, so this small ASGI app answers like ``tools/api_server.py`` does and
speaks with espeak-ng instead of a model. It exists so that the Fish Speech client and the
TTS workers can be tested over real HTTP, against the documented contract, field by field.

Documented behaviours it reproduces:

* ``POST /v1/tts`` with ``application/msgpack`` and ``application/json`` bodies (and
  ``multipart/form-data`` fields, as HEAD does); any other content type gets 415 with
  ``Accept: application/msgpack, application/json, multipart/form-data``.
* The ServeTTSRequest schema: ``text``; ``chunk_length`` (declared 100..1000, *not*
  enforced); ``format`` wav|pcm|mp3|opus; ``latency``; ``references`` of ``{audio, text}``
  (in JSON an ``audio`` string over 255 characters is base64-decoded); ``reference_id``;
  ``seed``; ``use_memory_cache`` on|off; ``normalize`` (accepted, no effect);
  ``streaming``; ``max_new_tokens``; ``top_p`` and ``temperature`` 0.1..1.0 and
  ``repetition_penalty`` 0.9..2.0 as strict floats (a string is rejected).
* Schema failures: 422 with a JSON array of ``{loc, type, msg, in}``.
* HTTPException bodies ``{statusCode, message, error}``: 401 "Invalid token" on every
  route, ``/v1/health`` included, when ``--api-key`` is set; 400 "Streaming only supports
  WAV format"; 400 when ``--max-text-length`` is exceeded; 500 for ``pcm`` and ``opus``
  (they fail inside the real server's encoder) and 500 "No audio generated, please check
  the input text." for text with nothing to say.
* Output: mono 44.1 kHz, WAV PCM_16 (or MP3) with ``Content-Disposition: attachment;
  filename=audio.<fmt>``; with ``streaming: true`` the body is raw s16le PCM blocks, one
  per ``<|speaker:N|>`` turn, with no RIFF header although the type says audio/wav.
* ``GET``/``POST /v1/health`` → ``{"status": "ok"}``.
* One request at a time: synthesis holds a lock and runs on the event loop, so a second
  request (health included) waits, as behind the real server's single model thread.
* An unknown ``reference_id`` is not an error: 200 with a random voice.
* ``seed`` is honoured: the same text, references, seed and sampling give identical audio.
  With references, the voice (espeak-ng ``cmn`` variant, pitch, rate) is derived from the
  clip's sha256, so different clips sound different and every answer is audible speech.

Not reproduced: the model itself, voice quality, ``/v1/vqgan/*``, ``/v1/references/*``,
"Prompt is too long", the OpenAPI pages.

Latency mode, for benchmarks of many "GPUs" on a few cores: ``--ms-per-char`` makes each
request take that long per character of its text, spent sleeping (a model's generation time
on a GPU), not on this machine's CPU; ``--delay-s`` adds a fixed time per request.
``--reuse-audio`` speaks once per voice and answers every later request with that clip: an
engine that costs nothing, for measuring what the rest of the system costs per line (the
lines must be of about one length, or the worker rightly refuses the clip's duration).

Run it: ``python -m deploy.fish_speech_standin --port 8080 --api-key KEY``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import logging
import random
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, Literal

import msgpack
import numpy as np
import soundfile as sf
from pydantic import BaseModel, Field, ValidationError, model_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44_100
ACCEPT = "application/msgpack, application/json, multipart/form-data"
_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4", "f5")
_SPEAKER_TAG = re.compile(r"<\|speaker:\d+\|>")


# --- the documented request schema (fish_speech/utils/schema.py) ---------------------------


class ServeReferenceAudio(BaseModel):
    audio: bytes
    text: str

    @model_validator(mode="before")
    @classmethod
    def _decode_base64(cls, values: Any) -> Any:
        audio = values.get("audio") if isinstance(values, dict) else None
        if isinstance(audio, str) and len(audio) > 255:
            with contextlib.suppress(ValueError):  # the real server leaves it as is, too
                values = {**values, "audio": base64.b64decode(audio)}
        return values


class ServeTTSRequest(BaseModel):
    text: str
    chunk_length: int = 200  # declared 100..1000; the real server does not enforce it
    format: Literal["wav", "pcm", "mp3", "opus"] = "wav"
    latency: Literal["normal", "balanced"] = "normal"
    references: list[ServeReferenceAudio] = []
    reference_id: str | None = None
    seed: int | None = None
    use_memory_cache: Literal["on", "off"] = "off"
    normalize: bool = True
    streaming: bool = False
    max_new_tokens: int = 1024
    top_p: Annotated[float, Field(ge=0.1, le=1.0, strict=True)] = 0.8
    repetition_penalty: Annotated[float, Field(ge=0.9, le=2.0, strict=True)] = 1.1
    temperature: Annotated[float, Field(ge=0.1, le=1.0, strict=True)] = 0.8


class HTTPError(Exception):
    """An error answered as ``{statusCode, message, error}``, like the real exception handler."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# --- speech -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EspeakVoice:
    variant: str
    pitch: int  # espeak-ng -p, 0..99
    wpm: int  # espeak-ng -s


class Speaker:
    """The "model": espeak-ng behind one lock, with a clip cache like ``use_memory_cache``."""

    def __init__(
        self,
        espeak_binary: str = "espeak-ng",
        delay_s: float = 0.0,
        ms_per_char: float = 0.0,
        reuse_audio: bool = False,
    ) -> None:
        self.espeak_binary = espeak_binary
        self.delay_s = delay_s
        self.ms_per_char = ms_per_char
        self.reused: dict[EspeakVoice, list[np.ndarray]] | None = {} if reuse_audio else None
        self.lock = threading.Lock()
        self._reference_cache: dict[str, float] = {}  # sha256 of clip -> its duration

    def voice_for(self, req: ServeTTSRequest) -> EspeakVoice:
        # Seeded like the real server's global RNGs; no seed means a fresh random draw.
        rng = random.Random(req.seed) if req.seed is not None else random.Random()
        if req.references:
            digest = hashlib.sha256()
            for ref in req.references:
                self._encode_reference(ref, cache=req.use_memory_cache == "on")
                digest.update(hashlib.sha256(ref.audio).digest() + ref.text.encode())
            h = digest.digest()
            base = EspeakVoice(_VARIANTS[h[0] % len(_VARIANTS)], 20 + h[1] % 60, 150 + h[2] % 40)
        else:
            # No reference (or any reference_id, known or not): a random voice.
            base = EspeakVoice(rng.choice(_VARIANTS), rng.randint(20, 79), rng.randint(150, 189))
        # Sampling noise: the seed moves the voice a little, more at higher temperature.
        jitter = round(rng.uniform(-8, 8) * req.temperature)
        return EspeakVoice(base.variant, max(0, min(99, base.pitch + jitter)), base.wpm)

    def _encode_reference(self, ref: ServeReferenceAudio, cache: bool) -> None:
        key = hashlib.sha256(ref.audio).hexdigest()
        if cache and key in self._reference_cache:
            return
        try:
            info = sf.info(io.BytesIO(ref.audio))
        except Exception as exc:  # the real server fails on undecodable clips with a 500 too
            raise HTTPError(500, f"Failed to load reference audio: {exc}") from None
        if cache:
            self._reference_cache[key] = info.duration

    def speak(self, text: str, voice: EspeakVoice) -> np.ndarray:
        cmd = [self.espeak_binary, "-v", f"cmn+{voice.variant}", "-p", str(voice.pitch), "-s", str(voice.wpm)]
        cmd += ["-b", "1", "--stdout"]
        done = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=60, check=False)
        if done.returncode != 0:
            raise HTTPError(500, f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
        samples, rate = sf.read(io.BytesIO(done.stdout), dtype="float32", always_2d=True)
        return _resample(samples.mean(axis=1), rate, SAMPLE_RATE)

    def generate(self, req: ServeTTSRequest) -> list[np.ndarray]:
        """One float32 segment per speaker turn, as the real server's batches."""
        with self.lock:
            # Stands for the model's generation time on its GPU: asleep, not on the CPU.
            started = time.monotonic()
            wait_s = self.delay_s + self.ms_per_char * len(req.text) / 1000
            voice = self.voice_for(req)
            turns = [t for t in _SPEAKER_TAG.split(req.text) if any(ch.isalnum() for ch in t)]
            if self.reused is not None and voice in self.reused and turns:
                segments = self.reused[voice]
            else:
                segments = [self.speak(turn, voice) for turn in turns]
                if self.reused is not None:
                    self.reused[voice] = segments
            if (left := wait_s - (time.monotonic() - started)) > 0:
                time.sleep(left)  # espeak-ng's own time counts as part of it
        segments = [s for s in segments if len(s)]
        if not segments:
            raise HTTPError(500, "No audio generated, please check the input text.")
        return segments


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target or len(samples) == 0:
        return samples.astype(np.float32)
    n = round(len(samples) * target / rate)
    return np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples).astype(np.float32)


# --- HTTP -----------------------------------------------------------------------------------


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}


async def _read_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/msgpack":
        try:
            return msgpack.unpackb(await request.body(), raw=False)
        except Exception as exc:
            raise HTTPError(400, f"Invalid msgpack body: {exc}") from None
    if content_type == "application/json":
        try:
            return json.loads(await request.body())
        except ValueError as exc:
            raise HTTPError(400, f"Invalid JSON body: {exc}") from None
    if content_type == "multipart/form-data":
        form = await request.form()
        return {k: (await v.read()) if hasattr(v, "read") else v for k, v in form.multi_items()}
    raise HTTPError(415, "Unsupported Media Type", {"Accept": ACCEPT})


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"], "in": "body"} for e in exc.errors()]


def _encode(segments: list[np.ndarray], fmt: str) -> bytes:
    if fmt in ("pcm", "opus"):
        # What libsndfile 1.2.2 answers for these formats inside the real server.
        raise HTTPError(500, "Failed to generate speech")
    buf = io.BytesIO()
    container, subtype = ("WAV", "PCM_16") if fmt == "wav" else ("MP3", "MPEG_LAYER_III")
    sf.write(buf, np.concatenate(segments), SAMPLE_RATE, format=container, subtype=subtype)
    return buf.getvalue()


def create_app(
    api_key: str | None = None,
    *,
    max_text_length: int = 0,
    delay_s: float = 0.0,
    ms_per_char: float = 0.0,
    reuse_audio: bool = False,
    espeak_binary: str = "espeak-ng",
) -> Starlette:
    speaker = Speaker(espeak_binary, delay_s, ms_per_char, reuse_audio)

    def check_auth(request: Request) -> None:
        if api_key and request.headers.get("authorization") != f"Bearer {api_key}":
            raise HTTPError(401, "Invalid token")

    async def health(request: Request) -> Response:
        check_auth(request)
        return JSONResponse({"status": "ok"})

    async def tts(request: Request) -> Response:
        check_auth(request)
        data = await _read_body(request)
        try:
            req = ServeTTSRequest.model_validate(data)
        except ValidationError as exc:
            return JSONResponse(_validation_errors(exc), status_code=422)
        if max_text_length > 0 and len(req.text) > max_text_length:
            raise HTTPError(400, f"Text is too long, max length is {max_text_length}")
        if req.streaming and req.format != "wav":
            raise HTTPError(400, "Streaming only supports WAV format")
        # Runs on the event loop on purpose: the real handler blocks it while the model works.
        segments = speaker.generate(req)
        if req.streaming:
            # Floats times 32768 without clipping, and no RIFF header: see the module docstring.
            blocks = [(s * 32768).astype(np.int16).tobytes() for s in segments]
            return StreamingResponse(iter(blocks), media_type="audio/wav")
        body = _encode(segments, req.format)
        media = {"wav": "audio/wav", "mp3": "audio/mpeg"}[req.format]
        return Response(
            body, media_type=media, headers={"Content-Disposition": f"attachment; filename=audio.{req.format}"}
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPError)
        return JSONResponse(_error_body(exc.status, exc.message), status_code=exc.status, headers=exc.headers)

    async def on_crash(request: Request, exc: Exception) -> Response:
        logger.exception("stand-in failed")
        return JSONResponse(_error_body(500, str(exc)), status_code=500)

    return Starlette(
        routes=[
            Route("/v1/health", health, methods=["GET", "POST"]),
            Route("/v1/tts", tts, methods=["POST"]),
        ],
        exception_handlers={HTTPError: on_http_error, Exception: on_crash},
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Fish Speech API stand-in for tests (espeak-ng voice).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--max-text-length", type=int, default=0, help="0 = no limit, as the real flag")
    parser.add_argument("--delay-s", type=float, default=0.0, help="extra seconds per request, like a slow model")
    parser.add_argument("--ms-per-char", type=float, default=0.0, help="time per character, asleep (latency mode)")
    parser.add_argument("--reuse-audio", action="store_true", help="speak once per voice, then answer with that clip")
    parser.add_argument("--espeak-binary", default="espeak-ng")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(
        args.api_key,
        max_text_length=args.max_text_length,
        delay_s=args.delay_s,
        ms_per_char=args.ms_per_char,
        reuse_audio=args.reuse_audio,
        espeak_binary=args.espeak_binary,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
