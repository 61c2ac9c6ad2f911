from shared.text.sentences import clean, finished_sentences, sentences, split_sentences


def test_sentences_are_split_at_chinese_and_ascii_ends_and_join_back() -> None:
    text = "今天下雨。你带伞了吗？带了！好的；走吧…… Fine. Really? Yes!"
    chunks = split_sentences(text, 6)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    assert chunks[:3] == ["今天下雨。", "你带伞了吗？", "带了！好的；"]


def test_short_sentences_are_packed_up_to_the_limit() -> None:
    assert split_sentences("一。二。三。四。", 4) == ["一。二。", "三。四。"]


def test_decimal_points_and_urls_do_not_end_sentences() -> None:
    assert split_sentences("价格是3.5元。网址是example.com。", 100) == ["价格是3.5元。网址是example.com。"]
    assert split_sentences("价格是3.5元。网址是example.com。", 16) == ["价格是3.5元。", "网址是example.com。"]


def test_a_sentence_over_the_limit_is_broken_at_commas_then_hard() -> None:
    chunks = split_sentences("甲乙丙，丁戊己，庚辛壬癸子丑寅卯。", 5)
    assert all(len(c) <= 5 for c in chunks)
    assert "".join(chunks) == "甲乙丙，丁戊己，庚辛壬癸子丑寅卯。"


def test_clean_folds_white_space_and_drops_control_characters() -> None:
    assert clean("  你好\u200b\t世界\x00 \n ") == "你好 世界"


def test_a_growing_text_gives_its_sentences_once_something_follows_their_end() -> None:
    assert finished_sentences("你好。我很", 120) == (["你好。"], "我很")
    # A closing quote may still follow a final 。: the sentence waits for the next piece.
    assert finished_sentences("你好。", 120) == ([], "你好。")
    assert finished_sentences("他说“走。”好", 120) == (["他说“走。”"], "好")  # it ends after the quote
    assert finished_sentences("Hi there. How", 120) == (["Hi there."], " How")


def test_fed_piece_by_piece_a_reply_is_cut_as_if_it_came_whole() -> None:
    reply = "今天天气很好。我们去公园吧！你想吃什么？随便"
    spoken: list[str] = []
    growing = ""
    for char in reply:
        done, growing = finished_sentences(growing + char, 120)
        spoken += done

    assert spoken == ["今天天气很好。", "我们去公园吧！", "你想吃什么？"]
    assert growing == "随便"


def test_a_growing_text_without_full_stops_is_cut_at_a_clause_mark_past_the_limit() -> None:
    assert finished_sentences("一，二，三，四", 5) == (["一，二，"], "三，四")
    assert finished_sentences("abcdefghijk", 4) == (["abcd", "efgh"], "ijk")


def test_a_long_sentence_is_cut_at_spaces_never_inside_a_word_or_a_number() -> None:
    text = (
        "This edition is distributed with the permission of the International Digital Publishing Forum "
        "and is available to readers everywhere under the same terms as the original."
    )
    chunks = split_sentences(text, 60)
    assert all(len(c) <= 60 for c in chunks) and " ".join(chunks) == text
    assert "International" in " ".join(c for c in chunks if "International" in c.split())

    assert split_sentences("请您记下我们的电话13812345678谢谢", 16) == ["请您记下我们的电话", "13812345678谢谢"]


def test_a_chinese_sentence_ending_inside_quotes_ends_after_them() -> None:
    text = "他说：“不要闹情绪。”妻子常常这样说。（这是括号里的话。）然后呢？"
    assert sentences(text, 120) == ["他说：“不要闹情绪。”", "妻子常常这样说。", "（这是括号里的话。）", "然后呢？"]
