"""The seam between TTS task code and speech engines."""

from typing import Protocol

from shared.audio.codec import Audio
from shared.voices.resolve import VoiceSpec


class TTSEngine(Protocol):
    """A speech engine. Implementations: espeak.py (embedded), fish_speech.py (HTTP server)."""

    name: str  # "espeak" | "fish_speech": part of every snippet's cache key

    def synthesize(self, text: str, voice: VoiceSpec) -> Audio:
        """Speak one chunk of text. Raises RetryableEngineError or PermanentEngineError."""
        ...
