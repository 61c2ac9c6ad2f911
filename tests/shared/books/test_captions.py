"""Caption cues from a book's timeline: each line's cues span exactly its audio, sentences share
a line's time by their characters, and the route refuses formats it does not write."""

import re

import pytest
from fastapi.testclient import TestClient

from shared.books.captions import ROW_CHARS, cues, render
from shared.books.timeline import Line, Timeline

RATE = 1000  # one sample a millisecond: times read as sample counts


def timeline(*lines: Line) -> Timeline:
    return Timeline(RATE, 500, list(lines), {1: "一", 2: "二"})


def test_each_line_starts_after_the_previous_line_and_one_pause() -> None:
    book = timeline(
        Line(1, 1, "a", 1200, "春天来了。"), Line(2, 1, "b", 800, "花开了。"), Line(3, 2, "c", 1000, "夏天。")
    )

    found = cues(book, None, max_chunk_chars=120, chunk_pause_ms=250)

    assert [(c.start_s, c.end_s, c.text) for c in found] == [
        (0.0, 1.2, "春天来了。"),
        (1.7, 2.5, "花开了。"),
        (3.0, 4.0, "夏天。"),
    ]
    # A chapter on its own is timed from the start of its own file.
    assert [(c.start_s, c.end_s) for c in cues(book, 2, 120, 250)] == [(0.0, 1.0)]


def test_a_line_of_several_chunks_shares_its_time_by_characters_around_the_chunk_pauses() -> None:
    # Two chunks of 4 and 2 characters (max 6 per chunk), joined with a 250 ms pause: 2.75 s of speech.
    book = timeline(Line(1, 1, "a", 3000, "一二三四。五六。"))

    found = cues(book, None, max_chunk_chars=6, chunk_pause_ms=250)

    assert [(round(c.start_s, 6), round(c.end_s, 6), c.text) for c in found] == [
        (0.0, round(2.75 * 4 / 6, 6), "一二三四。"),
        (round(2.75 * 4 / 6 + 0.25, 6), 3.0, "五六。"),
    ]


def test_srt_and_vtt_render_the_same_cues() -> None:
    found = cues(timeline(Line(1, 1, "a", 3_725_042, "很长的一行。")), None, 120, 250)

    assert render(found, "srt") == "1\n00:00:00,000 --> 01:02:05,042\n很长的一行。\n"
    assert render(found, "vtt") == "WEBVTT\n\n00:00:00.000 --> 01:02:05.042\n很长的一行。\n"


@pytest.mark.parametrize(
    "text",
    [
        "And she wept . . . and wept.",
        "He cried, “It lives!’” Then he was gone.",
        "他说：“不要闹情绪。”妻子常常这样说。我们走吧！",
        "……",
        "第一章 2024年3月5日，晴。",
    ],
)
def test_every_character_of_a_line_is_in_its_cues(text: str) -> None:
    found = cues(timeline(Line(1, 1, "a", 9000, text)), None, max_chunk_chars=120, chunk_pause_ms=250)

    assert re.sub(r"\s", "", "".join(c.text for c in found)) == re.sub(r"\s", "", text)
    assert found[0].start_s == 0.0 and found[-1].end_s == 9.0


def test_a_sentence_that_ends_inside_quotes_is_a_cue_of_its_own() -> None:
    found = cues(timeline(Line(1, 1, "a", 6000, "他说：“不要闹情绪。”妻子常常这样说。")), None, 120, 250)

    assert [c.text for c in found] == ["他说：“不要闹情绪。”", "妻子常常这样说。"]


def test_a_long_chinese_cue_is_shown_in_rows() -> None:
    text = "这是一个很长很长的中文句子，它没有句号但是有很多很多的逗号，一直说下去，直到很远的地方才停下来"
    srt = render(cues(timeline(Line(1, 1, "a", 9000, text)), None, 120, 250), "srt")

    rows = srt.split("\n")[2:-1]
    assert len(rows) > 1 and all(len(row) <= ROW_CHARS for row in rows)
    assert "".join(rows) == text


@pytest.mark.parametrize(
    ("path", "params"),
    [("audio", {"output": "epub"}), ("captions", {"format": "ass"}), ("captions", {"chapter": 0})],
)
def test_an_unknown_output_or_caption_format_is_refused(
    client: TestClient, path: str, params: dict[str, object]
) -> None:
    r = client.get(f"/v1/batches/batch_none/{path}", params=params)

    assert r.status_code == 422
    assert r.json()["error"]["type"] == "bad_input"
