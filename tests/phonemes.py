"""What espeak-ng's Mandarin voice says, as phonemes: stable where its audio is not (its samples
differ a little from call to call)."""

from workers.tts.engines.espeak import EspeakEngine


def phonemes(text: str) -> str:
    """The phonemes, with tones, of what the worker's Mandarin voice (the espeakng-loader
    library) says for `text`."""
    return EspeakEngine().phonemes(text, "cmn")
