"""signature: outgoing messages end with the organisation's signature."""

from __future__ import annotations

from typing import Any

from ..schema import Field
from . import CompileContext, Example, RuleType, listed_actions
from ._common import actions_field
from ._text import REQUIRED_TEXT

# What "trailing space" means, here and in the Rego (trim_right's cutset).
TRAILING_SPACE = " \t\r\n\f\v"


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    return {"ending": params["text"].rstrip(TRAILING_SPACE)}


def _email(text: str | None, type_: str = "send_email") -> dict[str, Any]:
    return {"action": {"type": type_, "content": {} if text is None else {"text": text}}}


def _append(text: str) -> list[dict[str, Any]]:
    return [{"type": "append_signature", "text": text}]


RULE_TYPE = RuleType(
    name="signature",
    fires_on=listed_actions,
    summary="Make outgoing messages end with the organisation's signature.",
    violated_when=(
        "the action is one of `actions` and its `content.text`, trailing whitespace ignored, "
        "does not end with `text` (itself without trailing whitespace). An email without "
        "content or text lacks its signature. A violation carries the obligation "
        "`{type: append_signature, text}`."
    ),
    params={
        "text": Field(REQUIRED_TEXT, required=True),
        "actions": actions_field(["send_email"]),
    },
    doc_params={
        "text": "the signature, compared exactly (case and inner whitespace count)",
        "actions": "action types that must be signed (default `[send_email]`)",
    },
    key_doc="`signature`",
    conflict_key=lambda params: "signature",
    compile=_compile,
    notes="""\
The obligation carries the signature as written, so a client can append it and send
again. Whitespace at the end of the text and of the signature is ignored (spaces, tabs,
newlines); whitespace at the start of the signature counts: `"\\n-- Acme"` must be on a
line of its own.""",
    examples=[
        Example("signed", {"text": "-- Acme"}, _email("Hello\n\n-- Acme"), "ok", []),
        Example("unsigned", {"text": "-- Acme"}, _email("Hello"), "violated",
                _append("-- Acme")),
        Example("trailing whitespace after the signature", {"text": "-- Acme"},
                _email("Hello\n-- Acme \n\n"), "ok"),
        Example("signature with a trailing newline", {"text": "-- Acme\n"},
                _email("Hello\n-- Acme"), "ok", []),
        Example("obligation keeps the signature as written", {"text": "Best,\nAcme\n"},
                _email("Hello"), "violated", _append("Best,\nAcme\n")),
        Example("signature in the middle", {"text": "-- Acme"},
                _email("-- Acme\nP.S. call me"), "violated"),
        Example("comparison is case-sensitive", {"text": "-- Acme"}, _email("Hi\n-- ACME"),
                "violated"),
        Example("email without text", {"text": "-- Acme"}, _email(None), "violated",
                _append("-- Acme")),
        Example("email without content", {"text": "-- Acme"},
                {"action": {"type": "send_email"}}, "violated"),
        Example("messages are not emails by default", {"text": "-- Acme"},
                _email("Hello", "send_message"), "ok", []),
        Example("listed actions must be signed",
                {"text": "-- Acme", "actions": ["send_email", "send_message"]},
                _email("Hello", "send_message"), "violated"),
        Example("other actions are not signed", {"text": "-- Acme"},
                {"action": {"type": "spend", "amount": 5}}, "ok"),
    ],
)
