"""Marker words read from data files: the 1964 survey's Southwestern words."""

import math

from shared.dialect.detector import detect
from shared.dialect.lexicon import LISTED_MIN_COUNT, mandarin_lexicon
from shared.dialect.markers import SICHUANESE
from shared.dialect.script import to_simplified
from shared.dialect.wordlists import read_words

SURVEY = "southwestern_beida1964.tsv"


def test_the_survey_list_names_its_source_and_licence():
    from importlib import resources

    header = resources.files("shared.dialect").joinpath(SURVEY).read_text(encoding="utf-8").split("\n# Columns")[0]
    assert "lexibank/beidasinitic@" in header
    assert "CC-BY-4.0" in header


def test_survey_words_are_read_without_comments_or_glosses():
    words = read_words(SURVEY)
    assert len(words) > 100
    assert all(word and "\t" not in word and not word.startswith("#") for word in words)


def test_no_survey_word_is_a_common_standard_word():
    # A word standard Mandarin writes often would cost 普通话 its precision.
    lexicon = mandarin_lexicon()
    rare_cost = lexicon.unlisted_cost - math.log(LISTED_MIN_COUNT / 0.5)
    common = [word for word in read_words(SURVEY) if lexicon.costs.get(to_simplified(word), math.inf) <= rare_cost]
    assert common == []


def test_survey_words_are_sichuanese_markers():
    texts = {marker.text for marker in SICHUANESE}
    assert set(read_words(SURVEY)) <= texts


def test_a_survey_word_decides_a_sentence_alone():
    # 洋马儿 'bicycle' and 撑花 'umbrella' are recorded for 成都 in the survey.
    result = detect("下雨了，他骑起洋马儿回来，忘了带撑花。")
    assert result.label == "四川话"
    assert {"洋马儿", "撑花"} <= {e.matched for e in result.evidence}
