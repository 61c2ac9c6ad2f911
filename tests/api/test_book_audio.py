"""A book's audio end to end, with real workers and real ffmpeg (the embedded TTS worker also
takes the media queue, where the M4B and the chapters zip are built): the M4B has a chapter marker and
title per chapter and the cover, its loudness is the target, the chapter files and the
captions are timed by the line audio's own lengths and the pauses the join puts between them."""

import io
import json
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from deploy.epub_factory import make_epub
from deploy.stack import Stack, fetch_book
from shared.config import get_settings
from tests.plugins.services import wait_for

# The second chapter's last paragraph has two sentences: two cues, one line.
BOOK = [
    ("第一章 春天", ["春天来了，山上的花都开了。", "小明和妹妹一起去公园散步。"]),
    ("第二章 夏天", ["夏天很热，我们去海边游泳。", "晚上大家坐在院子里乘凉。爷爷给我们讲故事。"]),
    ("第三章 秋天", ["秋天到了，树叶变黄了。", "农民伯伯在田里收稻子。"]),
]
PAUSE_S = get_settings().pause_between_chunks_ms * 2 / 1000  # between two lines, as the join puts it


@pytest.fixture(scope="module")
def book(sqlite_stack: Stack) -> dict[str, Any]:
    """The finished batch of the book, with its lines."""
    with sqlite_stack.client() as api:
        r = api.post("/v1/batches", files={"file": ("四季.epub", make_epub(BOOK))}, data={"voice": "cmn"})
        assert r.status_code == 202, r.text
        batch = wait_for(lambda: _done(api, r.json()["id"]), timeout=120)
        assert batch["counts"]["succeeded"] == batch["lines"], batch
        lines = api.get(f"/v1/batches/{batch['id']}/jobs").json()
    return {"id": batch["id"], "lines": lines}


def _done(api: httpx.Client, batch_id: str) -> dict[str, Any] | None:
    batch = api.get(f"/v1/batches/{batch_id}").json()
    return batch if batch["done"] else None


def _starts(durations: list[float]) -> list[float]:
    out, at = [], 0.0
    for duration in durations:
        out.append(at)
        at += duration + PAUSE_S
    return out


def _ffprobe(path: Path) -> dict[str, Any]:
    command = ["ffprobe", "-v", "error", "-print_format", "json", "-show_chapters", "-show_streams", str(path)]
    return json.loads(subprocess.run(command, capture_output=True, check=True).stdout)


def _decoded(path: Path) -> tuple[np.ndarray, int]:
    rate = int(next(s for s in _ffprobe(path)["streams"] if s["codec_type"] == "audio")["sample_rate"])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f64le", "-ac", "1", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f8"), rate


def test_the_m4b_has_a_titled_chapter_marker_per_chapter_the_cover_and_the_loudness_target(
    sqlite_stack: Stack, book: dict[str, Any], tmp_path: Path
) -> None:
    with sqlite_stack.client() as api:
        r = fetch_book(api, book["id"], {"output": "m4b"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/mp4"
    path = tmp_path / "book.m4b"
    path.write_bytes(r.content)

    probe = _ffprobe(path)
    lines = book["lines"]
    starts = _starts([j["result"]["duration_s"] for j in lines])
    first_line = {n: next(i for i, j in enumerate(lines) if j["chapter"] == n) for n in (1, 2, 3)}
    assert [c["tags"]["title"] for c in probe["chapters"]] == [title for title, _ in BOOK]
    chapter_starts = [float(c["start_time"]) for c in probe["chapters"]]
    assert chapter_starts == pytest.approx([0.0, starts[first_line[2]], starts[first_line[3]]], abs=0.005)
    audio = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    pictures = [s for s in probe["streams"] if s["codec_type"] == "video"]
    assert [s["codec_name"] for s in audio] == ["aac"]
    assert len(pictures) == 1 and pictures[0]["disposition"]["attached_pic"] == 1

    samples, rate = _decoded(path)
    total = starts[-1] + lines[-1]["result"]["duration_s"]
    assert len(samples) / rate == pytest.approx(total, abs=0.05)  # AAC's last frame may be padded
    target = get_settings().book_loudness_lufs
    assert pyloudnorm.Meter(rate).integrated_loudness(samples) == pytest.approx(target, abs=1.0)
    # The limiter holds the samples it is given under the ceiling; AAC's own overshoot on decoding
    # is about a dB at most on speech.
    assert np.max(np.abs(samples)) <= 10 ** ((get_settings().book_peak_dbfs + 1.5) / 20)


def test_the_chapters_zip_has_one_file_per_chapter_as_long_as_its_lines_and_pauses(
    sqlite_stack: Stack, book: dict[str, Any]
) -> None:
    with sqlite_stack.client() as api:
        r = fetch_book(api, book["id"], {"output": "chapters", "format": "flac"})
    assert r.status_code == 200, r.text

    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = archive.namelist()
        lengths = [sf.info(io.BytesIO(archive.read(name))).duration for name in names]
    assert names == ["01 第一章 春天.flac", "02 第二章 夏天.flac", "03 第三章 秋天.flac"]
    for number, length in enumerate(lengths, 1):
        durations = [j["result"]["duration_s"] for j in book["lines"] if j["chapter"] == number]
        assert length == pytest.approx(sum(durations) + PAUSE_S * (len(durations) - 1), abs=0.002)


def _cues(vtt: str) -> list[tuple[float, float, str]]:
    found = re.findall(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})\n(.+)", vtt)
    seconds = [
        (
            int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000,
            int(h2) * 3600 + int(m2) * 60 + int(s2) + int(ms2) / 1000,
            t,
        )
        for h, m, s, ms, h2, m2, s2, ms2, t in found
    ]
    return seconds


def _flat(spans: list[tuple[float, float]]) -> list[float]:
    return [t for span in spans for t in span]


def _per_line(cues: list[tuple[float, float, str]], lines: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """Each line's first cue start and last cue end: a line's cues put together give its text."""
    spans, i = [], 0
    for line in lines:
        start, text = cues[i][0], ""
        while text != line["input"]["text"]:
            text += cues[i][2]
            end = cues[i][1]
            i += 1
        spans.append((start, end))
    assert i == len(cues)
    return spans


def test_caption_times_are_the_line_durations_plus_the_pauses_between_them(
    sqlite_stack: Stack, book: dict[str, Any]
) -> None:
    with sqlite_stack.client() as api:
        whole = api.get(f"/v1/batches/{book['id']}/captions", params={"format": "vtt"})
        second = api.get(f"/v1/batches/{book['id']}/captions", params={"format": "vtt", "chapter": 2})
        srt = api.get(f"/v1/batches/{book['id']}/captions", params={"format": "srt"})
    assert whole.status_code == 200 and whole.text.startswith("WEBVTT")
    lines = book["lines"]
    durations = [j["result"]["duration_s"] for j in lines]

    spans = _per_line(_cues(whole.text), lines)
    expected = [(start, start + d) for start, d in zip(_starts(durations), durations, strict=True)]
    assert _flat(spans) == pytest.approx(_flat(expected), abs=0.002)  # durations are stored to the millisecond

    chapter2 = [j for j in lines if j["chapter"] == 2]
    cues2 = _cues(second.text)
    assert len(cues2) == 4  # the heading, a line, and a line of two sentences: two cues
    spans2 = _per_line(cues2, chapter2)
    d2 = [j["result"]["duration_s"] for j in chapter2]
    expected2 = [(s, s + d) for s, d in zip(_starts(d2), d2, strict=True)]
    assert _flat(spans2) == pytest.approx(_flat(expected2), abs=0.002)
    assert srt.text.startswith("1\n00:00:00,000 --> ")


def test_a_chapter_the_book_does_not_have_is_404(sqlite_stack: Stack, book: dict[str, Any]) -> None:
    with sqlite_stack.client() as api:
        r = api.get(f"/v1/batches/{book['id']}/captions", params={"chapter": 9})
    assert r.status_code == 404 and "no chapter 9" in r.json()["error"]["message"]
