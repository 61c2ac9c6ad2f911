"""Combining the CPU detector's evidence with an LLM's label."""

import pytest

from shared.dialect.detector import detect
from shared.dialect.hybrid import combine
from shared.dialect.labels import MANDARIN


def test_strong_markers_win_over_a_disagreeing_llm():
    cpu = detect("佢哋喺度食緊飯。")
    result = combine(cpu, "普通话")
    assert (result.label, result.decided_by) == ("粤语", "cpu")
    assert "粤语" in result.reason


def test_without_evidence_the_llm_decides():
    cpu = detect("今天天气真好。")
    result = combine(cpu, "四川话")
    assert (result.label, result.decided_by) == ("四川话", "llm")
    assert "No dialect markers" in result.reason
    assert 0 < result.confidence < 1


def test_weak_evidence_gives_way_to_the_llm():
    cpu = detect("你在做啥子？")
    assert cpu.label == "四川话"
    result = combine(cpu, "东北话")
    assert (result.label, result.decided_by) == ("东北话", "llm")
    assert "weak" in result.reason


def test_weak_markers_under_mandarin_let_the_llm_decide():
    cpu = detect("身体蛮好。")
    assert cpu.label == MANDARIN and cpu.evidence
    result = combine(cpu, "上海话")
    assert (result.label, result.decided_by) == ("上海话", "llm")
    assert "weak dialect markers" in result.reason


def test_agreement_raises_confidence():
    cpu = detect("你在做啥子？")
    result = combine(cpu, "四川话")
    assert result.decided_by == "agree"
    assert result.confidence > cpu.confidence


def test_agreement_on_mandarin():
    cpu = detect("我明天去上班。")
    result = combine(cpu, MANDARIN)
    assert (result.label, result.decided_by) == (MANDARIN, "agree")


def test_an_llm_error_falls_back_to_the_cpu_and_says_so():
    cpu = detect("今天天气真好。")
    result = combine(cpu, None, "connection refused")
    assert (result.label, result.decided_by) == (MANDARIN, "cpu")
    assert "connection refused" in result.reason
    assert result.llm_error == "connection refused"
    assert result.confidence == cpu.confidence


@pytest.mark.parametrize("answer", [None, "", "Cantonese", "粤语吧"])
def test_a_missing_or_unknown_llm_label_falls_back_to_the_cpu(answer):
    cpu = detect("侬好。")
    result = combine(cpu, answer)
    assert (result.label, result.decided_by) == ("上海话", "cpu")
    assert "LLM" in result.reason


def test_combine_keeps_both_inputs_for_the_record():
    cpu = detect("侬好。")
    result = combine(cpu, "上海话")
    assert result.cpu is cpu
    assert result.llm_label == "上海话"
