"""formatting: length and shape of an agent's text."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, Regex
from . import CompileContext, Example, RuleType, text_actions
from ._common import COUNT, actions_field, one_of
from ._text import TEXT_ACTIONS_DOC


def _message(text: Any, type_: str = "send_message") -> dict[str, Any]:
    return {"action": {"type": type_, "content": {"text": text}}}


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    """The forbidden patterns as one alternation too: a text that matches none of them
    costs one regex evaluation."""
    return {"forbid_any": one_of(params.get("forbid") or [])}


RULE_TYPE = RuleType(
    name="formatting",
    fires_on=text_actions,
    summary="Bound the length of an agent's text and the patterns it must or must not contain.",
    violated_when=(
        "`content.text` is longer than `max_length` characters (Unicode code points; exactly "
        "`max_length` is allowed), a `forbid` pattern is found in it, or a `require` pattern "
        "is not."
    ),
    params={
        "max_length": Field(COUNT),
        "forbid": Field(ListOf(Regex())),
        "require": Field(ListOf(Regex())),
        "actions": actions_field(),
    },
    doc_params={
        "max_length": "the most characters (Unicode code points) the text may have",
        "forbid": "RE2 patterns that must not be found in the text",
        "require": "RE2 patterns that must all be found in the text",
        "actions": TEXT_ACTIONS_DOC,
    },
    compile=_compile,
    notes="""\
Patterns are RE2 used as written (`(?i)` for case-insensitive, `(?m)` for `^`/`$` at
line ends). An action without `content.text` is not checked, not even for `require`.""",
    examples=[
        Example("exactly max_length", {"max_length": 5}, _message("hello"), "ok"),
        Example("one over max_length", {"max_length": 5}, _message("hello!"), "violated"),
        Example("length counts code points, not bytes", {"max_length": 5},
                _message("héllö"), "ok"),
        Example("an emoji is one character", {"max_length": 2}, _message("👍🏽"), "ok"),
        Example("forbidden pattern found", {"forbid": ["(?i)lorem ipsum", "<[a-z]+>"]},
                _message("Hi <b>there</b>"), "violated"),
        Example("forbidden pattern absent", {"forbid": ["<[a-z]+>"]}, _message("Hi there"), "ok"),
        Example("required pattern missing", {"require": ["(?m)^Ticket #\\d+$"]},
                _message("Hello"), "violated"),
        Example("required pattern present", {"require": ["(?m)^Ticket #\\d+$"]},
                _message("Hello\nTicket #42\nBye"), "ok"),
        Example("every required pattern counts", {"require": ["Hello", "Bye"]},
                _message("Hello"), "violated"),
        Example("no text, nothing to check", {"require": ["Hello"], "max_length": 0},
                {"action": {"type": "send_message", "content": {"subject": "Hi"}}}, "ok"),
        Example("actions narrow the rule", {"max_length": 3, "actions": ["send_message"]},
                _message("too long", "send_email"), "ok"),
        Example("listed action checked", {"max_length": 3, "actions": ["send_email"]},
                _message("too long", "send_email"), "violated"),
        Example("empty text against max_length 0", {"max_length": 0}, _message(""), "ok"),
    ],
)
