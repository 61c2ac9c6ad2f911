"""Metrics and the labelled-TSV loader on tiny hand-made sets with known answers."""

import pytest

from shared.dialect.evaluate import evaluate, load_labelled_tsv
from shared.errors import BadInput


def test_metrics_on_a_tiny_set():
    # gold:      A A A B B C ; predicted: A A B B C C
    pairs = [("1", "粤语"), ("2", "粤语"), ("3", "粤语"), ("4", "上海话"), ("5", "上海话"), ("6", "四川话")]
    answers = {"1": "粤语", "2": "粤语", "3": "上海话", "4": "上海话", "5": "四川话", "6": "四川话"}
    report = evaluate(pairs, answers.__getitem__)

    assert report.total == 6
    assert report.accuracy == pytest.approx(4 / 6)
    rows = {row.label: row for row in report.per_class}
    assert [row.label for row in report.per_class] == ["四川话", "粤语", "上海话"]  # LABELS order
    assert (rows["粤语"].precision, rows["粤语"].recall, rows["粤语"].support) == (1.0, pytest.approx(2 / 3), 3)
    assert rows["粤语"].f1 == pytest.approx(0.8)
    assert (rows["上海话"].precision, rows["上海话"].recall, rows["上海话"].f1) == (0.5, 0.5, 0.5)
    assert (rows["四川话"].precision, rows["四川话"].recall) == (0.5, 1.0)
    assert rows["四川话"].f1 == pytest.approx(2 / 3)
    assert report.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert report.confusion["粤语"] == {"四川话": 0, "粤语": 2, "上海话": 1}
    assert report.confusion["上海话"]["四川话"] == 1


def test_a_label_only_predicted_lowers_precision_but_not_the_macro_average_size():
    pairs = [("a", "普通话"), ("b", "普通话")]
    report = evaluate(pairs, lambda text: "普通话" if text == "a" else "东北话")
    rows = {row.label: row for row in report.per_class}
    assert rows["东北话"].support == 0
    assert rows["普通话"].recall == 0.5
    assert report.macro_f1 == pytest.approx(rows["普通话"].f1)


def test_perfect_predictions_and_progress_calls():
    pairs = [("x", "普通话"), ("y", "粤语"), ("z", "粤语")]
    seen: list[int] = []
    report = evaluate(pairs, {"x": "普通话", "y": "粤语", "z": "粤语"}.__getitem__, progress=seen.append)
    assert report.accuracy == report.macro_f1 == 1.0
    assert seen == [1, 2, 3]


def test_format_is_a_plain_text_table():
    report = evaluate([("x", "普通话"), ("y", "粤语")], lambda text: "普通话")
    text = report.format()
    assert "accuracy 0.500" in text
    assert "macro-F1" in text
    assert "confusion" in text
    assert "粤语" in text and "普通话" in text


def test_evaluating_nothing_is_bad_input():
    with pytest.raises(BadInput):
        evaluate([], lambda text: "普通话")


def _write(tmp_path, content: str | bytes):
    path = tmp_path / "set.tsv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_load_keeps_text_and_label_and_ignores_other_columns(tmp_path):
    path = _write(tmp_path, 'id\ttext\tlabel\tsource\n1\t佢係"我"朋友\t粤语\tx\n2\t你好\t普通话\ty\n')
    assert load_labelled_tsv(path) == [('佢係"我"朋友', "粤语"), ("你好", "普通话")]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("text\tsource\n你好\tx\n", "'label' column"),
        ("label\n普通话\n", "'text' column"),
        ("text\tlabel\n你好\t火星话\n", "unknown label '火星话'"),
        ("text\tlabel\n\t普通话\n", "empty text"),
        ("", "empty"),
        ("text\tlabel\n", "no rows"),
        ("text\tlabel\n你好\t普通话\n".encode("gb18030"), "not UTF-8"),
    ],
)
def test_load_rejects_bad_files_naming_the_problem(tmp_path, content, problem):
    with pytest.raises(BadInput, match=problem):
        load_labelled_tsv(_write(tmp_path, content))


def test_load_of_a_missing_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="cannot read"):
        load_labelled_tsv(tmp_path / "nope.tsv")
