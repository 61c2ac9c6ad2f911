"""The CPU dialect detector on hand-written sentences in all eight varieties."""

import pytest

from shared.dialect.detector import DialectResult, detect
from shared.dialect.examples import EXAMPLES, examples_for
from shared.dialect.labels import LABELS, MANDARIN
from shared.dialect.markers import MARKERS, Marker, prompt_marker_table
from shared.dialect.script import to_simplified
from shared.errors import BadInput


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: f"{e.label}:{e.text[:8]}")
def test_every_example_is_identified_as_its_variety(example):
    assert detect(example.text).label == example.label


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("佢話聽日唔使返工。", "粤语"),
        ("我哋去飲茶先啦", "粤语"),
        ("侬吃过饭了伐？", "上海话"),
        ("今朝落雨，阿拉勿出去了。", "上海话"),
        ("你们在搞啥子名堂？", "四川话"),
        ("这个事情要得，就这么整起。", "四川话"),
        ("别在那嘎哈了，赶紧走。", "东北话"),
        ("这天儿贼冷，冻死人了。", "东北话"),
        ("恁弄啥嘞？", "河南话"),
        ("这个事可中，得劲！", "河南话"),
        ("你恰饭冒？", "湖南话"),
        ("我们港么子都冇用。", "湖南话"),
        ("嫑谝咧，赶紧走。", "陕西话"),
        ("额今儿个咥了三碗面。", "陕西话"),
    ],
)
def test_sentences_beyond_the_examples(text, label):
    assert detect(text).label == label


def test_traditional_and_simplified_script_give_the_same_answer():
    traditional = detect("佢哋喺邊度食緊飯？")
    simplified = detect("佢哋喺边度食紧饭？")
    assert traditional.label == simplified.label == "粤语"
    assert traditional.confidence == pytest.approx(simplified.confidence)


def test_traditional_mandarin_is_not_mistaken_for_cantonese():
    result = detect("我們的關係很好，請你不要擔心。")
    assert result.label == MANDARIN
    assert result.evidence == []


# Everyday Mandarin, both scripts, full of characters that are markers elsewhere
# (个 打 碎 起 倒 下 么样 得很 中 整 拉): none of them may fire here.
EVERYDAY_MANDARIN = [
    "我昨天去超市买了一些水果和蔬菜。",
    "你知道他为什么没有来上课吗？",
    "这家餐厅的菜很好吃，价格也不贵。",
    "我们应该保护环境，节约用水。",
    "他每天早上六点起床跑步。",
    "这个问题太难了，我想了很久也没想出来。",
    "请把窗户关上，外面风很大。",
    "她的中文说得非常流利。",
    "明天下午三点我们在学校门口见面。",
    "我把钥匙忘在办公室了。",
    "周末你打算做什么？",
    "这部电影讲的是一个关于友谊的故事。",
    "他们已经结婚十年了。",
    "医生说我需要多休息。",
    "你能帮我看一下这封信吗？",
    "火车晚点了半个小时。",
    "我的手机没电了，能借你的用一下吗？",
    "这件衣服有点大，有没有小一点的？",
    "孩子们在公园里放风筝。",
    "我对这个结果很满意。",
    "他從小就喜歡畫畫。",
    "這間房子有三個房間和一個客廳。",
    "我們下個星期要考試了。",
    "你覺得這個計劃怎麼樣？",
    "請你幫我把這些書搬到樓上去。",
    "他說話的聲音很小，我聽不清楚。",
    "今天的天氣比昨天暖和多了。",
    "這條路晚上很安靜。",
    "我已經習慣了這裡的生活。",
    "她把頭髮剪短了。",
    "老师让我们写一篇关于家乡的作文。",
    "我们一起去爬山吧。",
    "他的脚受伤了，走路不太方便。",
    "别担心，一切都会好起来的。",
    "你慢慢说，别着急。",
    "这个箱子太重了，我一个人搬不动。",
    "他们家养了一只猫和两只狗。",
    "我刚刚吃过饭，不饿。",
    "下雨了，记得带伞。",
    "这本书我看了三遍。",
    "我打个电话给他问问。",
    "他是个好人，大家都喜欢他。",
    "这次考试他考得很好。",
    "我明天要早点儿出门。",
    "小孩子在床上跳来跳去。",
    "我们学校有两千多个学生。",
    "你找个时间来我家坐坐吧。",
    "你先走吧，我等一下再走。",
    "这首歌我听过很多遍了。",
    "他把杯子打碎了。",
]


def test_everyday_mandarin_raises_no_dialect_evidence():
    wrong = {text: [e.matched for e in detect(text).evidence] for text in EVERYDAY_MANDARIN}
    assert {text: hits for text, hits in wrong.items() if hits} == {}


@pytest.mark.parametrize(
    "text", ["我今天很忙。", "這本書寫得很好。", "请问去火车站怎么走？", "我明天要去北京开会，你有什么事吗？"]
)
def test_plain_mandarin_has_no_evidence(text):
    result = detect(text)
    assert result.label == MANDARIN
    assert result.evidence == []


def test_no_evidence_gives_moderate_confidence_that_grows_with_length():
    short = detect("好")
    medium = detect("我今天很忙，没有时间去看电影。")
    long = detect("我今天很忙，没有时间去看电影。" * 20)
    assert short.label == medium.label == long.label == MANDARIN
    assert 0.2 < short.confidence < medium.confidence < long.confidence < 0.95


def test_punctuation_does_not_decide_the_label():
    variants = ["佢係我朋友。", "佢係我朋友", "佢係我朋友!", "佢係我朋友！！", "「佢係我朋友」", "佢係我朋友..."]
    assert {detect(text).label for text in variants} == {"粤语"}
    plain = ["我是学生。", "我是学生", "我是学生,", "我是学生!?"]
    assert {detect(text).label for text in plain} == {MANDARIN}


def test_emoji_and_latin_text_are_ignored_but_markers_still_count():
    result = detect("OK 😂 侬今朝 free 伐？🎉")
    assert result.label == "上海话"
    assert detect("hello world 👋").label == MANDARIN


def test_text_without_chinese_is_mandarin_with_low_confidence():
    result = detect("12345 !!!")
    assert result.label == MANDARIN
    assert result.confidence < 0.5


def test_very_short_input():
    assert detect("佢").label == "粤语"
    assert detect("侬").label == "上海话"
    assert detect("好").label == MANDARIN


def test_very_long_input_counts_repeats_with_diminishing_weight():
    text = "今天天气不错，我们去公园散步吧。" * 2000 + "佢"
    result = detect(text)
    assert result.label == MANDARIN  # one Cantonese word in 30,000 Mandarin characters
    repeated = detect("佢" * 50)
    assert repeated.marker_weights["粤语"] <= 2 * 3.0


def test_evidence_names_marker_label_weight_and_span():
    result = detect("侬好，阿拉是朋友。")
    assert result.label == "上海话"
    by_text = {e.matched: e for e in result.evidence}
    assert set(by_text) == {"侬", "阿拉"}
    nong = by_text["侬"]
    assert (nong.label, nong.start, nong.end) == ("上海话", 0, 1)
    assert nong.weight > 0
    assert result.text[nong.start : nong.end] == "侬"


def test_a_marker_inside_a_longer_one_counts_once():
    result = detect("伊勿晓得。")
    matched = [e.matched for e in result.evidence]
    assert "勿晓得" in matched
    assert "晓得" not in matched


def test_ambiguous_characters_alone_are_not_evidence():
    assert detect("我们是中国人，在中学读书。").evidence == []
    assert detect("他整理了整个房间。").evidence == []
    assert detect("阿拉伯语很难学。").label == MANDARIN
    assert detect("军队的步伐很整齐。").label == MANDARIN


def test_scores_are_probabilities_over_all_labels():
    result = detect("你在做啥子？")
    assert list(result.scores) == list(LABELS)
    assert sum(result.scores.values()) == pytest.approx(1.0)
    assert result.confidence == result.scores[result.label]
    assert 0.0 <= result.confidence <= 1.0


def test_more_evidence_means_more_confidence():
    one = detect("你在做啥子？")
    three = detect("你在做啥子？莫得事就过来耍，巴适得很。")
    assert one.label == three.label == "四川话"
    assert three.confidence > one.confidence


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_bad_input(text):
    with pytest.raises(BadInput):
        detect(text)


def test_returns_a_dialect_result():
    assert isinstance(detect("你好"), DialectResult)


def test_every_variety_has_dozens_of_positive_markers():
    for label in LABELS:
        if label == MANDARIN:
            assert MARKERS[label] == []
        else:
            assert len(MARKERS[label]) >= 40, label
            assert all(isinstance(m, Marker) and m.weight > 0 for m in MARKERS[label])


def test_prompt_marker_table_lists_each_label_once():
    table = prompt_marker_table(per_label=5)
    lines = table.splitlines()
    assert [line.split(":")[0] for line in lines] == list(LABELS)
    assert "佢" in table and "侬" in table
    assert all(len(line.split(": ")[1].split()) <= 5 for line in lines[1:])


def test_examples_cover_every_variety_with_traditional_script():
    for label in LABELS:
        assert len(examples_for(label)) >= 4, label
    for label in LABELS:
        assert any(to_simplified(e.text) != e.text for e in examples_for(label)), f"{label} has no traditional example"


def test_rare_words_alone_never_make_a_dialect_win():
    # Unusual words, but not one marker of any variety: Mandarin stands.
    result = detect("薛定谔方程描述量子态的演化，氨基酸脱水缩合成肽链。")
    assert result.label == MANDARIN
    assert result.evidence == []


def test_an_unlisted_reduplicated_noun_is_weak_southwestern_evidence():
    result = detect("他端起碗碗坐在门槛上吃得香。")
    assert result.label == "四川话"
    assert [e.matched for e in result.evidence] == ["碗碗"]


def test_rare_words_let_a_weak_marker_decide(monkeypatch):
    import shared.dialect.detector as detector

    # One weak Sichuanese word (莫 'don't') in a sentence whose other words are unusual too.
    text = "田埂上结了霜，你莫挑粪桶下田。"
    assert detect(text).label == "四川话"
    monkeypatch.setattr(detector, "RARITY_WEIGHT", 0.0)
    assert detect(text).label == MANDARIN


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        ("这汤溜酸，我喝不下去。", "溜酸"),
        ("你莫信他，他专门豁人的。", "豁人"),
        ("别个的东西不要乱拿。", "别个"),
        ("我们走拢了再给你打电话。", "走拢"),
        ("你明天切哪儿？", "切哪"),
        ("这个菜辣不辣？吃得不？", "得不"),
        ("肉炖得好耙哦。", "好耙"),
    ],
)
def test_southwestern_constructions_from_grammars(text, marker):
    result = detect(text)
    assert result.label == "四川话", [e.matched for e in result.evidence]
    assert any(e.matched in marker or marker in e.matched for e in result.evidence if e.label == "四川话")


@pytest.mark.parametrize(
    "text",
    [
        "一切买卖都要公平。",
        "你舍得不？",
        "飞机起飞干嘛要等？",
        "他们不得不离开。",
        "游客不得入内。",
        "双方不得来往。",
        "大家都向他靠拢了。",
    ],
)
def test_mandarin_lookalikes_of_southwestern_constructions(text):
    assert [e.matched for e in detect(text).evidence if e.label == "四川话"] == []
