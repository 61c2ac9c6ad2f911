"""Speaking a whole line: sentence chunks, one engine call each, joined with short pauses."""

import numpy as np

from shared.audio.codec import Audio, check_speech, join
from shared.errors import PermanentEngineError
from shared.text.sentences import split_sentences
from shared.voices.resolve import VoiceSpec
from workers.tts.engines.base import TTSEngine


def speak(engine: TTSEngine, text: str, voice: VoiceSpec, max_chunk_chars: int, pause_ms: int) -> Audio:
    """Every chunk uses the same voice, reference and seed, so a chapter keeps one timbre."""
    parts: list[Audio] = []
    for chunk in split_sentences(text, max_chunk_chars):
        if not any(ch.isalnum() for ch in chunk):
            continue  # punctuation alone: nothing to say
        audio = engine.synthesize(chunk, voice)
        check_speech(chunk, audio)
        parts.append(_trim(audio))
    if not parts:
        raise PermanentEngineError("the text has nothing to speak")
    return join(parts, pause_ms)


def _trim(audio: Audio, threshold: float = 1e-3) -> Audio:
    """Drop the engine's leading and trailing silence so joined pauses have one length."""
    loud = np.flatnonzero(np.abs(audio.samples) > threshold)
    if len(loud) == 0:
        return audio
    return Audio(audio.samples[loud[0] : loud[-1] + 1], audio.sample_rate)
