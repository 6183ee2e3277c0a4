"""terminology: house style for words -- preferred terms and forbidden ones."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, MapOf
from . import CompileContext, Example, RuleType, text_actions
from ._common import Term, actions_field, word_pattern, words_pattern
from ._text import REQUIRED_TEXT, TEXT_ACTIONS_DOC

TERM = Term(what="term")


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
    fires_on=text_actions,
    summary="Keep the house vocabulary: preferred terms instead of others, forbidden terms never.",
    violated_when=(
        "a `replace` or `forbid` term appears in the text (case-insensitive, whole word); the "
        "message names the preferred term."
    ),
    params={
        "replace": Field(MapOf(REQUIRED_TEXT, key=TERM)),
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
quotes or `\\` in a term match themselves. Whole means the term does not touch a letter,
digit or `_` on either side. A term that starts or ends with another character (`C++`,
`$100`, `.NET`) matches too: at such an edge the boundary is the start or end of the text
or any character but a letter, digit or `_` (RE2's `\\b` alone would need a word
character there; an extension of SPEC, see [validation](../validation.md)). A blank term
is an error; a term with control characters or spaces at its ends gets a warning.""",
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
        Example("term ending in a symbol", {"forbid": ["C++"]},
                _message("We write c++, mostly"), "violated"),
        Example("term ending in a symbol at the end of the text", {"forbid": ["C++"]},
                _message("We write C++"), "violated"),
        Example("term ending in a symbol, glued to a word", {"forbid": ["C++"]},
                _message("C++11 it is"), "ok"),
        Example("term starting with a symbol", {"forbid": [".NET"]},
                _message(".net developers"), "violated"),
        Example("term starting with a symbol, glued to a word", {"forbid": [".NET"]},
                _message("ASP.NET"), "ok"),
        Example("term starting with a symbol, word after it", {"replace": {"$100": "100 USD"}},
                _message("only $1000 left"), "ok"),
        Example("symbol and word terms together", {"forbid": ["guarantee", "$100"]},
                _message("costs $100."), "violated"),
        Example("no text, nothing to check", {"forbid": ["guarantee"]},
                {"action": {"type": "send_message", "content": {"subject": "guarantee"}}}, "ok"),
        Example("actions narrow the rule", {"forbid": ["guarantee"], "actions": ["send_email"]},
                _message("guarantee"), "ok"),
    ],
)
