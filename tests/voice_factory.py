"""Factories for voice-library tests: spoken reference clips and voices created through the API."""

from __future__ import annotations

from typing import Any

import httpx

# The reference clips of library voices: made with espeak-ng where a stack needs one too.
from deploy.stack import TRANSCRIPT, speech_clip  # noqa: F401  (the tests take them from here)


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
    from shared.voices.resolve import VoiceSpec
    from workers.tts.engines.espeak import EspeakEngine
    from workers.tts.speak import speak

    settings = get_settings()
    engine = EspeakEngine()
    return speak(
        engine, text, VoiceSpec(name=voice), settings.max_chunk_chars, settings.pause_between_chunks_ms
    ).duration_s
