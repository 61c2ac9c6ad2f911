"""Choosing the TTS engine a worker talks to (VOXQ_TTS_ENGINE)."""

from functools import lru_cache

from shared.config import get_settings
from workers.tts.engines.base import TTSEngine


@lru_cache
def get_engine() -> TTSEngine:
    settings = get_settings()
    if settings.tts_engine == "fish_speech":
        from workers.tts.engines.fish_speech import FishSpeechEngine

        key = settings.fish_speech_api_key.get_secret_value() if settings.fish_speech_api_key is not None else None
        return FishSpeechEngine(settings.fish_speech_url, key, settings.fish_speech_timeout_s)
    from workers.tts.engines.espeak import EspeakEngine

    return EspeakEngine(settings.espeak_library)
