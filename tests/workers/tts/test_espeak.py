import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.audio.codec import Audio, check_speech, decode
from shared.errors import BadInput, PermanentEngineError
from shared.voices.resolve import VoiceSpec
from workers.tts.engines.espeak import EspeakEngine
from workers.tts.speak import speak

MANDARIN = "我们明天见。"
CANTONESE = "我哋聽日見，唔好遲到呀，我哋喺車站等你。"


def cli(text: str, voice: str, wpm: int = 175) -> Audio:
    cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-b", "1", "--stdout"]
    return decode(subprocess.run(cmd, input=text.encode(), capture_output=True, check=True).stdout)


def assert_close_to(audio: Audio, reference: Audio) -> None:
    """Same rate and length, within 5%: less than half a syllable of the shortest line here.

    The library keeps a little state from one call to the next (the phase of its pitch
    flutter), so only a fresh process's first clip is sample-for-sample the command line's;
    later clips differ by tens of milliseconds (up to about 2% on a short line).
    """
    assert audio.sample_rate == reference.sample_rate
    assert audio.duration_s == pytest.approx(reference.duration_s, rel=0.05)


def test_espeak_speaks_mandarin_and_cantonese_plausibly() -> None:
    engine = EspeakEngine()
    for voice, text in [("cmn", MANDARIN), ("yue", CANTONESE)]:
        audio = engine.synthesize(text, VoiceSpec(name=voice))
        assert audio.sample_rate == 22050
        check_speech(text, audio)


def test_the_library_speaks_like_the_command_line() -> None:
    engine = EspeakEngine()
    for voice, text, speed, wpm in [
        ("cmn", MANDARIN, 1.0, 175),
        ("yue", CANTONESE, 1.0, 175),
        ("cmn", MANDARIN, 1.5, 262),
    ]:
        assert_close_to(engine.synthesize(text, VoiceSpec(name=voice, speed=speed)), cli(text, voice, wpm))


def test_faster_speech_is_shorter() -> None:
    engine = EspeakEngine()
    text = "这是一个用来比较语速的句子。"
    normal = engine.synthesize(text, VoiceSpec(name="cmn")).duration_s
    fast = engine.synthesize(text, VoiceSpec(name="cmn", speed=2.0)).duration_s
    assert fast < normal * 0.75


def test_espeak_refuses_to_clone_instead_of_using_another_voice() -> None:
    with pytest.raises(PermanentEngineError, match="cannot clone"):
        EspeakEngine().synthesize("你好", VoiceSpec(name="voice_x", reference_audio=b"RIFF", reference_text="你好"))


def test_an_unknown_voice_is_bad_input() -> None:
    with pytest.raises(BadInput, match="no voice"):
        EspeakEngine().synthesize("你好", VoiceSpec(name="wuu"))


def test_many_calls_in_a_row_switching_voices_and_speeds_stay_correct() -> None:
    engine = EspeakEngine()
    references = {"cmn": cli(MANDARIN, "cmn"), "yue": cli(CANTONESE, "yue")}
    texts = {"cmn": MANDARIN, "yue": CANTONESE}
    for i in range(150):
        voice = "cmn" if i % 3 else "yue"
        if i % 5 == 0:  # a different rate in between must not stick to the next call
            engine.synthesize(texts[voice], VoiceSpec(name=voice, speed=1.7))
        assert_close_to(engine.synthesize(texts[voice], VoiceSpec(name=voice)), references[voice])


def test_two_threads_at_once_each_get_their_own_audio() -> None:
    engine = EspeakEngine()
    jobs = [("cmn", MANDARIN), ("yue", CANTONESE)] * 40
    references = {voice: cli(text, voice) for voice, text in jobs[:2]}
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda job: engine.synthesize(job[1], VoiceSpec(name=job[0])), jobs))
    for (voice, text), audio in zip(jobs, results, strict=True):
        check_speech(text, audio)
        assert_close_to(audio, references[voice])


def test_a_long_line_is_spoken_in_chunks_and_joined() -> None:
    text = "第一句。第二句！第三句？" * 5
    audio = speak(EspeakEngine(), text, VoiceSpec(name="cmn"), max_chunk_chars=20, pause_ms=200)
    single = EspeakEngine().synthesize("第一句。第二句！第三句？", VoiceSpec(name="cmn")).duration_s
    assert audio.duration_s > 4 * single


def test_a_missing_library_is_a_permanent_error() -> None:
    with pytest.raises(PermanentEngineError, match="libespeak-ng is not installed"):
        EspeakEngine("/nonexistent/libespeak-ng.so.1").synthesize("你好", VoiceSpec(name="cmn"))
