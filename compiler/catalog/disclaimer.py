"""disclaimer: text that must accompany certain messages."""

from __future__ import annotations

from typing import Any

from ..conditions import ALWAYS, condition_dnf
from ..schema import Field, ListOf, Str
from . import CompileContext, Example, RuleType, text_actions
from ._common import actions_field
from ._text import REQUIRED_TEXT, TEXT_ACTIONS_DOC
from .condition import CONDITION


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    when = params.get("when")
    return {"when": ALWAYS if when is None else condition_dnf(when)}


DISCLAIMER = "Not financial advice."


def _message(text: str | None = None, topics: list[str] | None = None,
             type_: str = "send_message", **action: Any) -> dict[str, Any]:
    content = {k: v for k, v in (("text", text), ("topics", topics)) if v is not None}
    return {"action": {"type": type_, "content": content, **action}}


INVEST = {"text": DISCLAIMER, "when_topics": ["investment", "tax"]}

RULE_TYPE = RuleType(
    name="disclaimer",
    fires_on=text_actions,
    summary="Require a disclaimer in messages on given topics or under a condition.",
    violated_when=(
        "the trigger holds and `text` does not appear in `content.text` (exactly, "
        "case-sensitive). The trigger: one of `when_topics` is in `content.topics`, and "
        "`when` holds; both when both are set, always when neither is."
    ),
    params={
        "text": Field(REQUIRED_TEXT, required=True),
        "when_topics": Field(ListOf(Str(non_empty=True))),
        "when": Field(CONDITION),
        "actions": actions_field(),
    },
    doc_params={
        "text": "the disclaimer, which must appear verbatim in the text",
        "when_topics": "topic labels; the rule applies when `content.topics` holds any of them",
        "when": "a condition (see the `condition` rule type) the input must satisfy",
        "actions": TEXT_ACTIONS_DOC,
    },
    compile=_compile,
    notes="""\
An action without `content.text` is not checked. The disclaimer may appear anywhere in
the text; it is compared character for character (case, punctuation and whitespace
count).""",
    examples=[
        Example("topic without the disclaimer", INVEST,
                _message("Buy ACME now", ["investment"]), "violated"),
        Example("topic with the disclaimer", INVEST,
                _message(f"Buy ACME now. {DISCLAIMER} Thanks", ["investment"]), "ok"),
        Example("any listed topic triggers", INVEST, _message("Deduct it", ["tax", "x"]),
                "violated"),
        Example("other topics do not trigger", INVEST, _message("Hello", ["support"]), "ok"),
        Example("no topics do not trigger", INVEST, _message("Hello"), "ok"),
        Example("disclaimer is case-sensitive", INVEST,
                _message(DISCLAIMER.upper(), ["investment"]), "violated"),
        Example("no trigger means always", {"text": DISCLAIMER}, _message("Hello"), "violated"),
        Example("condition trigger",
                {"text": DISCLAIMER, "when": {"field": "action.recipient.domain",
                                              "not_in": ["acme.com"]}},
                _message("Hi", recipient={"domain": "gmail.com"}), "violated"),
        Example("condition does not hold",
                {"text": DISCLAIMER, "when": {"field": "action.recipient.domain",
                                              "not_in": ["acme.com"]}},
                _message("Hi", recipient={"domain": "acme.com"}), "ok"),
        Example("topic and condition both needed",
                {**INVEST, "when": {"field": "action.type", "equals": "send_email"}},
                _message("Buy", ["investment"]), "ok"),
        Example("topic and condition both hold",
                {**INVEST, "when": {"field": "action.type", "equals": "send_email"}},
                _message("Buy", ["investment"], "send_email"), "violated"),
        Example("no text, nothing to check", {"text": DISCLAIMER},
                _message(topics=["investment"]), "ok"),
        Example("actions narrow the rule", {"text": DISCLAIMER, "actions": ["send_email"]},
                _message("Hello"), "ok"),
        Example("no content, nothing to check", {"text": DISCLAIMER},
                {"action": {"type": "spend", "amount": 3}}, "ok"),
    ],
)
