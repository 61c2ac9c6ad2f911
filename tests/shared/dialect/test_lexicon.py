"""The Mandarin word list behind the rarity measure: cutting, surprisal, unlisted word shapes."""

from shared.dialect.lexicon import mandarin_lexicon


def test_cuts_a_mandarin_sentence_into_listed_words():
    assert mandarin_lexicon().cut("我们今天去学校") == ["我们", "今天", "去", "学校"]


def test_a_dialect_word_costs_more_per_character_than_its_mandarin_paraphrase():
    lexicon = mandarin_lexicon()
    assert lexicon.mean_surprisal("他把碗碗儿放在灶屋边上") > lexicon.mean_surprisal("他把碗放在厨房里") + 0.5


def test_text_without_han_characters_has_no_surprisal():
    assert mandarin_lexicon().mean_surprisal("OK, 123!") == 0.0


def test_unlisted_reduplication_is_found():
    assert mandarin_lexicon().unlisted_forms("桌上摆了好多盒盒") == [(6, 8, "reduplication")]


def test_standard_reduplication_and_er_words_are_not_found():
    lexicon = mandarin_lexicon()
    for text in ("妈妈慢慢地走过来", "给我一点儿水", "他吞吞吐吐地说不出话", "天上的星星亮晶晶"):
        assert lexicon.unlisted_forms(text) == [], text


def test_threads_starting_together_share_one_lexicon() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from shared.dialect import lexicon

    lexicon._load_lexicon.cache_clear()
    with ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(lambda _: lexicon.mandarin_lexicon(), range(8)))
    assert all(one is loaded[0] for one in loaded)
    assert lexicon._load_lexicon.cache_info().misses == 1


def test_an_intensified_state_adjective_is_found():
    assert mandarin_lexicon().unlisted_forms("锅巴放凉了梆硬") == [(5, 7, "intensified")]


def test_prefix_and_adjective_across_two_words_are_not_an_adjective():
    lexicon = mandarin_lexicon()
    # 起飞|干嘛 and a standard 焦黄 are no Southwestern forms.
    for text in ("飞机起飞干嘛要等这么久", "面包烤得焦黄"):
        assert lexicon.unlisted_forms(text) == [], text


def test_word_boundaries_follow_the_cut():
    assert mandarin_lexicon().word_boundaries("我们今天去学校") == {0, 2, 4, 5, 7}
