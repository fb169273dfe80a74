from __future__ import annotations

import pytest

from agent.models import (
    Message,
    ModelRequest,
    OpenAICompatModel,
    ThinkingPart,
    ToolResultPart,
    ToolUsePart,
    TranscriptError,
    transcript_problems,
    validate_transcript,
)

from .model_server import ModelServer

U = Message.text("user", "hi")
SYS = Message.text("system", "rules")


def A(*parts: object) -> Message:
    return Message(role="assistant", parts=list(parts))  # type: ignore[arg-type]


def T(*ids: str) -> Message:
    return Message(role="tool", parts=[ToolResultPart(tool_use_id=i, content="ok") for i in ids])


def use(i: str) -> ToolUsePart:
    return ToolUsePart(id=i, name="calc")


SIGNED = ThinkingPart(thinking="hm", signature="sig")

VALID = {
    "plain": [SYS, U, Message.text("assistant", "hello")],
    "one call": [U, A(use("a")), T("a"), Message.text("assistant", "done")],
    "parallel calls, one tool message each": [U, A(use("a"), use("b")), T("b"), T("a")],
    "parallel calls, one tool message": [U, A(use("a"), use("b")), T("a", "b")],
    "results then a user message": [U, A(use("a")), T("a"), Message.text("user", "more")],
}

INVALID = {
    "empty": ([SYS], "no user or assistant message"),
    "unanswered at the end": ([U, A(use("a"))], "tool_use 'a' has no tool_result"),
    "unanswered before the next assistant": (
        [U, A(use("a")), A(use("b")), T("b")],
        "'a' has no tool_result right after",
    ),
    "user message before the result": ([U, A(use("a")), U, T("a")], "'a' has no tool_result right after"),
    "answered twice": ([U, A(use("a")), T("a"), T("a")], "answered more than once"),
    "orphan result": ([U, T("zz")], "orphan tool_result 'zz'"),
    "result for an older call": (
        [U, A(use("a")), T("a"), A(use("b")), T("b", "a")],
        "orphan tool_result 'a'",
    ),
    "duplicate ids": ([U, A(use("a")), T("a"), A(use("a")), T("a")], "is not unique"),
    "empty id": ([U, A(use(" ")), T(" ")], "empty id"),
    "tool_use outside assistant": ([Message(role="user", parts=[use("a")])], "outside an assistant message"),
    "tool_result in assistant": (
        [U, Message(role="assistant", parts=[ToolResultPart(tool_use_id="a", content="")])],
        "outside a tool message",
    ),
}


@pytest.mark.parametrize("messages", VALID.values(), ids=VALID.keys())
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_valid_transcripts_pass(messages: list[Message], provider: str) -> None:
    assert transcript_problems(ModelRequest(messages=messages), provider=provider) == []


@pytest.mark.parametrize(("messages", "problem"), INVALID.values(), ids=INVALID.keys())
def test_invalid_transcripts_are_named(messages: list[Message], problem: str) -> None:
    with pytest.raises(TranscriptError) as caught:
        validate_transcript(ModelRequest(messages=messages), provider="openai", model="gpt-x", run_id="run-7")
    message = str(caught.value)
    assert problem in message and "run run-7" in message and "openai:gpt-x" in message
    assert caught.value.run_id == "run-7" and caught.value.problems


ANTHROPIC_THINKING = {
    "tool turn without thinking": ([U, A(use("a")), T("a")], "must start with thinking"),
    "thinking not first": ([U, A(use("a"), SIGNED), T("a")], "must start with thinking"),
    "signature lost": ([U, A(ThinkingPart(thinking="hm"), use("a")), T("a")], "lost its signature"),
    "system after start": ([U, SYS, A(SIGNED, use("a")), T("a")], "system message after"),
}


@pytest.mark.parametrize(("messages", "problem"), ANTHROPIC_THINKING.values(), ids=ANTHROPIC_THINKING.keys())
def test_anthropic_thinking_rules(messages: list[Message], problem: str) -> None:
    request = ModelRequest(messages=messages, thinking=True, run_id="r1")
    assert any(problem in p for p in transcript_problems(request, provider="anthropic"))
    assert not any(problem in p for p in transcript_problems(request, provider="openai"))


def test_anthropic_thinking_rule_applies_to_the_current_tool_loop_only() -> None:
    older = [U, A(use("a")), T("a"), Message.text("assistant", "done")]  # e.g. history from another model
    current = [Message.text("user", "again"), A(SIGNED, use("b")), T("b")]
    redacted = [Message.text("user", "more"), A(ThinkingPart(thinking="x", redacted=True), use("c")), T("c")]
    request = ModelRequest(messages=older + current + redacted, thinking=True)
    assert transcript_problems(request, provider="anthropic") == []


async def test_provider_refuses_a_broken_transcript_before_sending(server: ModelServer) -> None:
    model = OpenAICompatModel("gpt-x", base_url=server.openai_base_url)
    with pytest.raises(TranscriptError, match="run run-9 on openai:gpt-x"):
        await model.complete(ModelRequest(messages=[U, A(use("a"))], run_id="run-9"))
    with pytest.raises(TranscriptError):
        async for _ in model.stream(ModelRequest(messages=[U, T("nope")])):
            pass
    assert server.requests == []
    await model.aclose()
