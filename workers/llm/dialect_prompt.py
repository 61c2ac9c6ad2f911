"""The prompt of LLM dialect identification: instructions, marker table, few-shot turns.

Everything before the last user turn is the same for every job, so vLLM's prefix cache
computes it once and each job only pays for its own text. Per-job context (the speaker's
region, ...) therefore goes into the last turn, never into the system prompt.
"""

from collections.abc import Mapping
from functools import lru_cache

from shared.dialect.examples import examples_for
from shared.dialect.labels import LABELS
from shared.dialect.markers import prompt_marker_table
from workers.llm.engines.base import ChatMessage, ChatRequest

# How known context keys are introduced to the model; other keys are passed as "key：value".
_CONTEXT_NAMES = {"region": "说话人所在地区", "speaker": "说话人", "topic": "话题"}

_INSTRUCTIONS = (
    "你是汉语方言识别器。给你一段说话人的转写文本，判断说话人使用的是哪一种汉语方言。"
    "只回答下列标签之一，不要解释：{labels}。"
)


@lru_cache
def _system_prompt() -> str:
    prompt = _INSTRUCTIONS.format(labels="、".join(LABELS))
    table = prompt_marker_table()
    if table:
        prompt += "\n\n各方言的特征词和句式：\n" + table
    return prompt


@lru_cache
def _few_shot() -> tuple[ChatMessage, ...]:
    """One example per variety, in label order: enough to show the answer format and one
    marker each, while the prompt stays short (the rest of the examples test the detector)."""
    turns: list[ChatMessage] = []
    for label in LABELS:
        example = examples_for(label)[0]
        turns.append(ChatMessage("user", _user_turn(example.text, None)))
        turns.append(ChatMessage("assistant", example.label))
    return tuple(turns)


def _user_turn(text: str, context: Mapping[str, str] | None) -> str:
    lines = [f"{_CONTEXT_NAMES.get(key, key)}：{value}" for key, value in (context or {}).items() if value]
    lines.append(f"文本：{text}")
    return "\n".join(lines)


def dialect_messages(text: str, context: Mapping[str, str] | None = None) -> tuple[ChatMessage, ...]:
    return (ChatMessage("system", _system_prompt()), *_few_shot(), ChatMessage("user", _user_turn(text, context)))


def dialect_request(text: str, context: Mapping[str, str] | None = None) -> ChatRequest:
    """The whole request: answer constrained to the labels, no thinking, greedy decoding."""
    return ChatRequest(
        messages=dialect_messages(text, context),
        enable_thinking=False,
        choices=LABELS,
        temperature=0.0,
        top_p=1.0,
        max_tokens=16,  # a label is a few tokens; the constraint ends the answer there
    )
