"""Chat prompts of the LLM pool's job kinds, built from a job's validated input.

Prompts are plain data (``ChatMessage`` tuples); nothing here talks to an engine.
"""

from collections.abc import Sequence

from shared.jobs.contracts import ChatTurn
from workers.llm.engines.base import ChatMessage


def generation_messages(persona: str | None, history: Sequence[ChatTurn], user_input: str) -> tuple[ChatMessage, ...]:
    """Persona as the system prompt, then the conversation so far, then the new user turn."""
    messages: list[ChatMessage] = []
    if persona:
        messages.append(ChatMessage("system", persona))
    messages.extend(ChatMessage(turn.role, turn.content) for turn in history)
    messages.append(ChatMessage("user", user_input))
    return tuple(messages)
