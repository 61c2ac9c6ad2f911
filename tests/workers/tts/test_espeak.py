import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from deploy.stack import REPO
from shared.audio.codec import Audio, check_speech, decode
from shared.errors import BadInput, PermanentEngineError
from shared.jobs.synthesis import speech_text
from shared.voices.resolve import VoiceSpec
from workers.tts.engines.espeak import EspeakEngine
from workers.tts.speak import speak

MANDARIN = "我们明天见。"
CANTONESE = "我哋聽日見，唔好遲到呀，我哋喺車站等你。"


def fresh(text: str, voice: str, speed: float = 1.0) -> Audio:
    """The clip a new process speaks first: the library with no state from earlier calls."""
    script = (
        "import sys; from shared.audio.codec import encode; from shared.voices.resolve import VoiceSpec; "
        "from workers.tts.engines.espeak import EspeakEngine; "
        f"sys.stdout.buffer.write(encode(EspeakEngine().synthesize({text!r}, VoiceSpec(name={voice!r}, speed={speed}))))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True, cwd=REPO)
    return decode(done.stdout)


def assert_close_to(audio: Audio, reference: Audio) -> None:
    """Same rate and length, within 5%: less than half a syllable of the shortest line here.

    The library keeps a little state from one call to the next (the phase of its pitch
    flutter), so only a fresh process's first clip is sample-for-sample the same; later clips
    differ by tens of milliseconds (up to about 2% on a short line).
    """
    assert audio.sample_rate == reference.sample_rate
    assert audio.duration_s == pytest.approx(reference.duration_s, rel=0.05)


def test_espeak_speaks_mandarin_and_cantonese_plausibly() -> None:
    engine = EspeakEngine()
    for voice, text in [("cmn", MANDARIN), ("yue", CANTONESE)]:
        audio = engine.synthesize(text, VoiceSpec(name=voice))
        assert audio.sample_rate == 22050
        check_speech(text, audio)


def test_every_call_speaks_as_a_fresh_process_would() -> None:
    engine = EspeakEngine()
    for voice, text, speed in [("cmn", MANDARIN, 1.0), ("yue", CANTONESE, 1.0), ("cmn", MANDARIN, 1.5)]:
        assert_close_to(engine.synthesize(text, VoiceSpec(name=voice, speed=speed)), fresh(text, voice, speed))


# Mandarin as books and call centres write it: numbers, money, times, erhua (这儿, 一点儿), 儿 as a
# syllable (女儿), quotes, traditional characters. bench/espeak_mandarin.py counts the dev set's.
MANDARIN_LINES = [
    "你好，我的电话是一三八。",
    "今天晚上我们在哪儿吃饭？",
    "请稍等一会儿，马上就好。",
    "这本书一共有三百二十页。",
    "会议在2024年3月5日10:30开始。",
    "门票¥12.50，学生半价。",
    "他说：“不要着急，慢慢来。”",
    "我女儿今年上小学了。",
    "那兒有一家很老的茶館。",
    "火车晚点了二十分钟。",
    "气温零下5℃，路上很滑。",
    "请拨打400-800-1234联系客服。",
    "你的订单号是1234567890。",
    "窗外下起了小雨，街上的人越来越少。",
    "这件衣服有点儿大，能换小一号吗？",
    "涨幅达到了12.5%。",
    "婴儿在摇篮里睡着了。",
]


def test_the_mandarin_voice_reads_mandarin_not_english() -> None:
    """As the engine is given them (normalised, erhua left out), no line without Latin letters
    makes espeak-ng switch to English ("(en)" in its phonemes); Debian's 1.51 did on every one."""
    engine = EspeakEngine()
    switched = [text for text in MANDARIN_LINES if "(en)" in engine.phonemes(speech_text(text, engine="espeak"))]
    assert switched == []
    assert "(en)" in engine.phonemes("我用iPhone打电话")  # real Latin words still switch, as they should
    assert "(en)" not in engine.phonemes("你好，我的电话是一三八")


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
    references = {"cmn": fresh(MANDARIN, "cmn"), "yue": fresh(CANTONESE, "yue")}
    texts = {"cmn": MANDARIN, "yue": CANTONESE}
    for i in range(150):
        voice = "cmn" if i % 3 else "yue"
        if i % 5 == 0:  # a different rate in between must not stick to the next call
            engine.synthesize(texts[voice], VoiceSpec(name=voice, speed=1.7))
        assert_close_to(engine.synthesize(texts[voice], VoiceSpec(name=voice)), references[voice])


def test_two_threads_at_once_each_get_their_own_audio() -> None:
    engine = EspeakEngine()
    jobs = [("cmn", MANDARIN), ("yue", CANTONESE)] * 40
    references = {voice: fresh(text, voice) for voice, text in jobs[:2]}
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
    with pytest.raises(PermanentEngineError, match="libespeak-ng is not loadable"):
        EspeakEngine("/nonexistent/libespeak-ng.so.1").synthesize("你好", VoiceSpec(name="cmn"))
