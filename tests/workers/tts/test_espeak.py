import pytest

from shared.audio import check_speech
from shared.errors import PermanentEngineError
from shared.voices import VoiceSpec
from workers.tts.engines.espeak import EspeakEngine
from workers.tts.speak import speak


def test_espeak_speaks_mandarin_and_cantonese_plausibly() -> None:
    engine = EspeakEngine()
    for voice, text in [("cmn", "我们明天见。"), ("yue", "我哋聽日見。")]:
        audio = engine.synthesize(text, VoiceSpec(name=voice))
        assert audio.sample_rate == 22050
        check_speech(text, audio)


def test_faster_speech_is_shorter() -> None:
    engine = EspeakEngine()
    text = "这是一个用来比较语速的句子。"
    normal = engine.synthesize(text, VoiceSpec(name="cmn")).duration_s
    fast = engine.synthesize(text, VoiceSpec(name="cmn", speed=2.0)).duration_s
    assert fast < normal * 0.75


def test_espeak_refuses_to_clone_instead_of_using_another_voice() -> None:
    with pytest.raises(PermanentEngineError, match="cannot clone"):
        EspeakEngine().synthesize("你好", VoiceSpec(name="voice_x", reference_audio=b"RIFF", reference_text="你好"))


def test_a_long_line_is_spoken_in_chunks_and_joined() -> None:
    text = "第一句。第二句！第三句？" * 5
    audio = speak(EspeakEngine(), text, VoiceSpec(name="cmn"), max_chunk_chars=20, pause_ms=200)
    single = EspeakEngine().synthesize("第一句。第二句！第三句？", VoiceSpec(name="cmn")).duration_s
    assert audio.duration_s > 4 * single


def test_a_missing_binary_is_a_permanent_error() -> None:
    with pytest.raises(PermanentEngineError, match="not installed"):
        EspeakEngine("/nonexistent/espeak-ng").synthesize("你好", VoiceSpec(name="cmn"))
