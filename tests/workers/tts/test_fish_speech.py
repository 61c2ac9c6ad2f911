"""The Fish Speech client against the stand-in server, over real HTTP in a separate process."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from deploy.stack import FishServer, free_port, run_fish_standin
from shared.audio.codec import Audio, decode, encode
from shared.errors import PermanentEngineError, RetryableEngineError
from shared.voices.resolve import VoiceSpec
from tests.plugins.tiers import starts_processes
from workers.tts.engines.fish_speech import FishSpeechEngine, check_response

LINE = "今天天气很好，我们一起去公园散步吧。"
REFERENCE_TEXT = "这是一段用来克隆声音的参考录音，说话要清楚自然。"


def _espeak_clip(text: str, variant: str) -> bytes:
    wav = subprocess.run(
        ["espeak-ng", "-v", f"cmn+{variant}", "--stdout"], input=text.encode(), capture_output=True, check=True
    ).stdout
    return encode(decode(wav), "flac")


@pytest.fixture(scope="module")
def reference_clip() -> bytes:
    return _espeak_clip(REFERENCE_TEXT, "f2")


@pytest.fixture()
def engine(fish_server: FishServer) -> Iterator[FishSpeechEngine]:
    with FishSpeechEngine(fish_server.base_url, fish_server.api_key, 30.0) as e:
        yield e


def _cloned(clip: bytes, seed: int | None = 1234, **kw: float) -> VoiceSpec:
    return VoiceSpec(name="voice_test", reference_audio=clip, reference_text=REFERENCE_TEXT, seed=seed, **kw)


def _is_speech(audio: Audio, text: str) -> bool:
    peak = float(np.max(np.abs(audio.samples)))
    return (
        audio.sample_rate == 44_100 and audio.samples.ndim == 1 and peak > 0.05 and 0.5 < audio.duration_s < len(text)
    )


@pytest.mark.parametrize("encoding", ["msgpack", "json"])
def test_a_cloned_voice_speaks_44k_mono_in_both_body_encodings(
    fish_server: FishServer, reference_clip: bytes, encoding: str
) -> None:
    with FishSpeechEngine(fish_server.base_url, fish_server.api_key, encoding=encoding) as e:  # type: ignore[arg-type]
        audio = e.synthesize(LINE, _cloned(reference_clip))
    assert _is_speech(audio, LINE)


def test_msgpack_and_json_bodies_give_the_same_audio(fish_server: FishServer, reference_clip: bytes) -> None:
    voice = _cloned(reference_clip)
    with (
        FishSpeechEngine(fish_server.base_url, fish_server.api_key, encoding="msgpack") as packed,
        FishSpeechEngine(fish_server.base_url, fish_server.api_key, encoding="json") as plain,
    ):
        assert np.array_equal(packed.synthesize(LINE, voice).samples, plain.synthesize(LINE, voice).samples)


def test_the_same_seed_gives_identical_audio_and_another_seed_does_not(
    engine: FishSpeechEngine, reference_clip: bytes
) -> None:
    first = engine.synthesize(LINE, _cloned(reference_clip, seed=7))
    again = engine.synthesize(LINE, _cloned(reference_clip, seed=7))
    other = [engine.synthesize(LINE, _cloned(reference_clip, seed=s)) for s in (8, 9, 10)]
    assert np.array_equal(first.samples, again.samples)
    assert any(not np.array_equal(first.samples, o.samples) for o in other)


def test_different_reference_clips_give_different_voices(engine: FishSpeechEngine, reference_clip: bytes) -> None:
    other_clip = _espeak_clip("另一位说话人的参考录音，用来比较两种声音。", "m3")
    a = engine.synthesize(LINE, _cloned(reference_clip))
    b = engine.synthesize(LINE, _cloned(other_clip))
    assert not np.array_equal(a.samples, b.samples)


def test_the_request_clones_by_value_with_explicit_floats(engine: FishSpeechEngine, reference_clip: bytes) -> None:
    body = engine.request_body(LINE, _cloned(reference_clip, temperature=1, top_p=0.5))
    assert "reference_id" not in body
    assert body["references"] == [{"audio": reference_clip, "text": REFERENCE_TEXT}]
    assert body["format"] == "wav" and body["streaming"] is False and body["use_memory_cache"] == "on"
    assert isinstance(body["temperature"], float) and isinstance(body["top_p"], float)
    assert body["seed"] == 1234


def test_sampling_parameters_outside_the_enforced_range_fail_before_any_request(
    engine: FishSpeechEngine, reference_clip: bytes
) -> None:
    with pytest.raises(PermanentEngineError, match="top_p"):
        engine.synthesize(LINE, _cloned(reference_clip, top_p=0.05))


def test_speed_stretches_the_answer(engine: FishSpeechEngine, reference_clip: bytes) -> None:
    normal = engine.synthesize(LINE, _cloned(reference_clip))
    fast = engine.synthesize(LINE, _cloned(reference_clip, speed=2.0))
    assert fast.duration_s == pytest.approx(normal.duration_s / 2, rel=0.1)


# --- errors ----------------------------------------------------------------------------------


def test_a_wrong_key_is_permanent_with_the_servers_message(fish_server: FishServer, reference_clip: bytes) -> None:
    with (
        FishSpeechEngine(fish_server.base_url, "not-the-key") as e,
        pytest.raises(PermanentEngineError, match="401.*Invalid token"),
    ):
        e.synthesize(LINE, _cloned(reference_clip))


def test_text_with_nothing_to_say_is_permanent(engine: FishSpeechEngine, reference_clip: bytes) -> None:
    with pytest.raises(PermanentEngineError, match="No audio generated"):
        engine.synthesize("。。。", _cloned(reference_clip))


def _raw_post(server: FishServer, content: bytes, content_type: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": content_type}
    return httpx.post(f"{server.base_url}/v1/tts", content=content, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("body", "content_type", "expected", "message"),
    [
        (b'{"text": "hi", "top_p": "0.5"}', "application/json", PermanentEngineError, r"422.*top_p"),
        (b'{"text": "hi", "format": "flac"}', "application/json", PermanentEngineError, r"422.*format"),
        (
            b'{"text": "hi", "streaming": true, "format": "mp3"}',
            "application/json",
            PermanentEngineError,
            r"400.*Streaming only supports WAV",
        ),
        (b"text=hi", "text/plain", PermanentEngineError, r"415"),
        # The server's own encoder fails on pcm: a 500 like a crashed model, so it is retried.
        (
            b'{"text": "hi", "format": "pcm"}',
            "application/json",
            RetryableEngineError,
            r"500.*Failed to generate speech",
        ),
    ],
)
def test_each_error_shape_maps_to_retryable_or_permanent(
    fish_server: FishServer, body: bytes, content_type: str, expected: type[Exception], message: str
) -> None:
    response = _raw_post(fish_server, body, content_type)
    with pytest.raises(expected, match=message):
        check_response(response)


def test_a_server_that_is_down_is_retryable(reference_clip: bytes) -> None:
    with (
        FishSpeechEngine(f"http://127.0.0.1:{free_port()}", timeout_s=2) as e,
        pytest.raises(RetryableEngineError, match="unreachable"),
    ):
        e.synthesize(LINE, _cloned(reference_clip))


@pytest.fixture(scope="module")
@starts_processes
def slow_server() -> Iterator[FishServer]:
    """A stand-in whose "model" takes 0.6 s a request, to see queueing and timeouts."""
    with run_fish_standin(api_key="slow-key", delay_s=0.6) as server:
        yield server


def test_a_timeout_is_retryable(slow_server: FishServer, reference_clip: bytes) -> None:
    with (
        FishSpeechEngine(slow_server.base_url, slow_server.api_key, timeout_s=0.2) as e,
        pytest.raises(RetryableEngineError, match="timed out"),
    ):
        e.synthesize(LINE, _cloned(reference_clip))
    time.sleep(0.6)  # let the abandoned request finish before the next test queues behind it


def test_the_server_serves_one_request_at_a_time(slow_server: FishServer, reference_clip: bytes) -> None:
    spans: list[tuple[float, float]] = []

    def one() -> None:
        with FishSpeechEngine(slow_server.base_url, slow_server.api_key) as e:
            started = time.monotonic()
            e.synthesize(LINE, _cloned(reference_clip))
            spans.append((started, time.monotonic()))

    threads = [threading.Thread(target=one) for _ in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    # Three requests of 0.6 s each, sent together, finish one after another.
    assert elapsed >= 3 * 0.6
    ends = sorted(end for _, end in spans)
    assert all(b - a >= 0.5 for a, b in zip(ends, ends[1:], strict=False))


def test_health_stalls_while_the_server_synthesises(slow_server: FishServer, reference_clip: bytes) -> None:
    with (
        FishSpeechEngine(slow_server.base_url, slow_server.api_key) as busy,
        FishSpeechEngine(slow_server.base_url, slow_server.api_key) as probe,
    ):
        assert probe.health()
        worker = threading.Thread(target=busy.synthesize, args=(LINE, _cloned(reference_clip)))
        worker.start()
        time.sleep(0.15)
        started = time.monotonic()
        assert probe.health(timeout_s=5)
        stalled = time.monotonic() - started
        worker.join()
    assert stalled > 0.2
