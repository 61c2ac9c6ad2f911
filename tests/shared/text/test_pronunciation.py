"""The pronunciation lexicon: what entries may hold, and how they are applied to a line."""

import pytest

from shared.errors import BadInput, TooLarge
from shared.jobs.synthesis import speech_text
from shared.text.pronunciation import Matcher, checked_entries, pinyin_syllables, version
from tests.phonemes import phonemes

ENTRIES = {"重庆": "chong2 qing4", "VoxQueue": "沃克斯队列", "AI": "人工智能", "重庆市": "chong2 qing4 shi4"}


def spoken(text: str, entries: dict[str, str] = ENTRIES, engine: str = "espeak") -> str:
    return speech_text(text, Matcher(checked_entries(entries)), engine)


def test_a_reading_is_pinyin_with_tone_numbers_and_anything_else_a_respelling() -> None:
    assert pinyin_syllables("chong2 qing4") == ["chong2", "qing4"]
    assert pinyin_syllables("Chong2Qing4") == ["chong2", "qing4"]
    assert pinyin_syllables("lv4 nu:3 lü4") == ["lü4", "nü3", "lü4"]
    assert pinyin_syllables("沃克斯队列") is None
    assert pinyin_syllables("chong qing") is None  # no tones: a respelling in letters


def test_entries_are_stored_in_one_canonical_form_with_a_version_independent_of_order() -> None:
    entries = checked_entries({" 重庆 ": "Chong2Qing4", "绿": "lv4"})

    assert entries == {"重庆": "chong2 qing4", "绿": "lü4"}
    assert version(entries) == version(dict(reversed(entries.items())))


@pytest.mark.parametrize(
    ("entries", "error", "message"),
    [
        ({"重庆": "chong6 qing4"}, BadInput, "not pinyin with tone numbers"),
        ({"客服": "客服1号"}, BadInput, "write numbers as words"),
        ({"、": "dun4"}, BadInput, "no letter or character"),
        ({"重庆": " "}, BadInput, "empty"),
        ({"VoxQueue": "a", "voxqueue": "b"}, BadInput, "the same word"),
        ({"长" * 51: "chang2"}, TooLarge, "limit is 50"),
        ({"长": "长" * 201}, TooLarge, "limit is 200"),
        ({f"词{n}": "ci2" for n in range(5001)}, TooLarge, "5001 entries"),
    ],
)
def test_a_bad_entry_refuses_the_whole_lexicon(entries: dict[str, str], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        checked_entries(entries)


def test_the_longest_word_wins_and_a_reading_is_never_looked_up_again() -> None:
    assert spoken("重庆市很热") == "chong2 qing4 shi4 很热"
    assert spoken("重庆人") == "chong2 qing4 人"
    assert spoken("AI", {"AI": "人工智能", "人工": "ren2 gong1"}) == "人工智能"


def test_latin_words_match_whole_and_in_any_case() -> None:
    assert spoken("欢迎使用voxqueue。") == "欢迎使用沃克斯队列。"
    assert spoken("PAID和AI") == "PAID和人工智能"


def test_numbers_around_an_entry_are_still_read_out_and_the_entry_may_be_a_number() -> None:
    assert spoken("去重庆3天") == "去 chong2 qing4 三天"
    assert spoken("拨打12306", {"12306": "yao1 er4 san1 ling2 liu4"}) == "拨打 yao1 er4 san1 ling2 liu4"


def test_a_line_no_entry_touches_is_spoken_as_without_a_lexicon() -> None:
    """So its snippet key, and its cached audio, survive any change of the lexicon."""
    assert spoken("今天花了¥500。") == speech_text("今天花了¥500。") == "今天花了五百元。"


def test_espeak_gets_v_for_u_umlaut_and_fish_speech_gets_the_umlaut() -> None:
    assert spoken("绿色", {"绿": "lü4"}, "espeak") == "lv4 色"
    assert spoken("绿色", {"绿": "lü4"}, "fish_speech") == "lü4 色"


def test_espeak_ng_says_a_pinyin_entry_as_it_says_the_characters_read_that_way() -> None:
    """espeak-ng reads 重庆 as zhong4 qing4; the entry makes it chong2 qing4, as in 崇庆."""
    line = "我明天去重庆出差。"

    assert phonemes(spoken(line)) == phonemes("我明天去崇庆出差。")
    assert phonemes(spoken(line)) != phonemes(line)


def test_espeak_ng_says_a_respelling_as_written() -> None:
    assert phonemes(spoken("欢迎使用VoxQueue。")) == phonemes("欢迎使用沃克斯队列。")
