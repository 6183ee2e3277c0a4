"""terminology: house style for words -- preferred terms and forbidden ones."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, MapOf, Str
from . import CompileContext, Example, RuleType
from ._common import actions_field, word_pattern, words_pattern
from ._text import TEXT_ACTIONS_DOC

TERM = Str(non_empty=True)


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    """One entry per term, sorted: its whole-word pattern and the preferred term (null for
    a forbidden one), and `any`, one alternation of them all, so a text without any term
    costs one regex evaluation. A term both replaced and forbidden keeps its replacement."""
    replace: dict[str, str] = params.get("replace") or {}
    preferred: dict[str, str | None] = {term: None for term in params.get("forbid") or []}
    preferred.update(replace)
    return {"any": words_pattern(sorted(preferred)) if preferred else None,
            "terms": [{"term": term, "pattern": word_pattern(term), "preferred": preferred[term]}
                      for term in sorted(preferred)]}


def _message(text: str, type_: str = "send_message") -> dict[str, Any]:
    return {"action": {"type": type_, "content": {"text": text}}}


RULE_TYPE = RuleType(
    name="terminology",
    summary="Keep the house vocabulary: preferred terms instead of others, forbidden terms never.",
    violated_when=(
        "a `replace` or `forbid` term appears in the text (case-insensitive, whole word); the "
        "message names the preferred term."
    ),
    params={
        "replace": Field(MapOf(TERM)),
        "forbid": Field(ListOf(TERM)),
        "actions": actions_field(),
    },
    doc_params={
        "replace": "term -> the preferred term to use instead",
        "forbid": "terms that must not be used",
        "actions": TEXT_ACTIONS_DOC,
    },
    compile=_compile,
    notes="""\
Terms are literal words or phrases, matched whole and case-insensitively: `$`, `.`, `(`,
quotes or `\\` in a term match themselves. A term must start and end with a letter, digit
or `_` to have word boundaries at its ends.""",
    examples=[
        Example("replaced term found", {"replace": {"customer": "client"}},
                _message("Dear customer, thanks"), "violated"),
        Example("preferred term is fine", {"replace": {"customer": "client"}},
                _message("Dear client, thanks"), "ok"),
        Example("match is case-insensitive", {"replace": {"e-mail": "email"}},
                _message("Send an E-Mail"), "violated"),
        Example("whole words only", {"replace": {"cheap": "affordable"}},
                _message("Cheapest prices"), "ok"),
        Example("phrase", {"replace": {"sign up": "register"}},
                _message("Please sign up today"), "violated"),
        Example("forbidden term", {"forbid": ["guarantee"]},
                _message("We GUARANTEE results"), "violated"),
        Example("term with metacharacters is literal", {"forbid": ["a+b"]},
                _message("aab"), "ok"),
        Example("term with a quote", {"forbid": ["o'clock"]},
                _message("at five O'Clock"), "violated"),
        Example("term with a dot", {"forbid": ["acme.inc"]}, _message("see acme.inc"), "violated"),
        Example("dot in a term is no wildcard", {"forbid": ["acme.inc"]},
                _message("see acmexinc"), "ok"),
        Example("no text, nothing to check", {"forbid": ["guarantee"]},
                {"action": {"type": "send_message", "content": {"subject": "guarantee"}}}, "ok"),
        Example("actions narrow the rule", {"forbid": ["guarantee"], "actions": ["send_email"]},
                _message("guarantee"), "ok"),
    ],
)
