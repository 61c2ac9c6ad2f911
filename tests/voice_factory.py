"""Factories for voice-library tests: spoken reference clips and voices created through the API."""

from __future__ import annotations

import io
import subprocess
from typing import Any

import httpx
import numpy as np
import soundfile as sf

TRANSCRIPT = "这是一段用来克隆声音的参考录音，说话要清楚自然，大约五秒钟。"


def speech_clip(text: str = TRANSCRIPT, fmt: str = "WAV", channels: int = 1, variant: str = "m1") -> bytes:
    """A few seconds of espeak-ng Mandarin, as a reference clip would be."""
    cmd = ["espeak-ng", "-v", f"cmn+{variant}", "--stdout"]
    wav = subprocess.run(cmd, input=text.encode(), capture_output=True, check=True).stdout
    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    if channels == 2:
        samples = np.stack([samples, samples * 0.5], axis=1)
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt)
    return buf.getvalue()


def create_voice(
    api: httpx.Client, clip: bytes | None = None, transcript: str = TRANSCRIPT, **fields: object
) -> dict[str, Any]:
    """POST /v1/voices and return the created voice; fails loudly on anything but 201."""
    data = {"transcript": transcript, **{k: str(v) for k, v in fields.items()}}
    files = {"audio": ("reference.wav", clip or speech_clip(), "audio/wav")}
    response = api.post("/v1/voices", files=files, data=data)
    assert response.status_code == 201, response.text
    return response.json()


def spoken_length(text: str, voice: str) -> float:
    """How long espeak-ng's `voice` takes to say `text`, spoken here as a TTS worker would."""
    from shared.config import get_settings
    from shared.voices import VoiceSpec
    from workers.tts.engines.espeak import EspeakEngine
    from workers.tts.speak import speak

    settings = get_settings()
    engine = EspeakEngine()
    return speak(
        engine, text, VoiceSpec(name=voice), settings.max_chunk_chars, settings.pause_between_chunks_ms
    ).duration_s
