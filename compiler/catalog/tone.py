"""tone: keep an agent's voice within the allowed tone bands."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, MapOf, Regex, Str
from . import CompileContext, Example, RuleType, text_actions
from ._common import actions_field, any_of
from ._text import TEXT_ACTIONS_DOC, phrase_pattern

# Words and phrases that give a band away; matched as whole words, case-insensitively.
DEFAULT_PHRASES: dict[str, list[str]] = {
    "casual": ["hey", "hiya", "gonna", "wanna", "gotta", "kinda", "lol", "btw", "yeah", "yep",
               "nope", "awesome", "omg"],
    "formal": ["hereby", "herewith", "pursuant", "sincerely", "dear sir", "dear madam",
               "yours faithfully", "aforementioned", "henceforth", "notwithstanding"],
    "friendly": ["happy to help", "thanks so much", "thank you so much", "glad to help",
                 "hope this helps", "have a great day", "have a wonderful day", "my pleasure"],
    "professional": ["kind regards", "best regards", "please find", "at your earliest convenience",
                     "please do not hesitate", "as discussed", "we appreciate your"],
}
# Casual punctuation: doubled exclamation marks and smileys.
CASUAL_PUNCTUATION = [r"!!", r"\B[:;]-?\)\B", r"\B[:;]-?D\b"]

DEFAULT_MARKERS: dict[str, list[str]] = {
    band: [phrase_pattern(p) for p in phrases]
    + (CASUAL_PUNCTUATION if band == "casual" else [])
    for band, phrases in DEFAULT_PHRASES.items()
}


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    """`allowed` as written; `disallowed`: the marker patterns of every band not allowed,
    authored markers replacing a band's defaults."""
    if params.get("allowed") is None:
        return {"disallowed": []}
    allowed = sorted(set(params["allowed"]))
    markers = {**DEFAULT_MARKERS, **(params.get("markers") or {})}
    return {
        "allowed": allowed,
        # `any`: one alternation of the band's markers, so text that gives no band away
        # costs one regex evaluation per band.
        "disallowed": [{"band": band, "patterns": markers[band], "any": any_of(markers[band])}
                       for band in sorted(markers) if band not in allowed and markers[band]],
    }


def _defaults_doc() -> str:
    rows = [f"- `{band}`: " + ", ".join(f'"{p}"' for p in phrases)
            for band, phrases in sorted(DEFAULT_PHRASES.items())]
    rows[0] += ', "!!" and smileys such as `:)`, `;-)`, `:D`'
    return "\n".join(rows)


def _email(text: str | None = None, tone: str | None = None) -> dict[str, Any]:
    content = {k: v for k, v in (("text", text), ("tone", tone)) if v is not None}
    return {"action": {"type": "send_email", "content": content}}


RULE_TYPE = RuleType(
    name="tone",
    fires_on=text_actions,
    summary="Keep an agent's voice within the allowed tone bands (professional, casual...).",
    violated_when=(
        "`content.tone` is not in `allowed`; without a tone label, when the text matches a "
        "marker of a band that is not allowed."
    ),
    params={
        "allowed": Field(ListOf(Str(non_empty=True))),
        "markers": Field(MapOf(ListOf(Regex()))),
        "actions": actions_field(),
    },
    doc_params={
        "allowed": "the tone bands allowed (absent: no constraint); labels compare exactly",
        "markers": "band -> RE2 patterns that reveal it; replaces that band's default markers",
        "actions": TEXT_ACTIONS_DOC,
    },
    key_doc="`tone`",
    conflict_key=lambda params: "tone",
    compile=_compile,
    notes=f"""\
A tone label on the action (`content.tone`) decides alone; the markers are read only when
there is none. Bands are free names: an agent may label its text with any band, and
`markers` may define new ones.

Default markers (whole words, case-insensitive), used for every band `markers` does not
name:

{_defaults_doc()}

Authored markers are RE2 patterns used as written: add `(?i)` and `\\b` for
case-insensitive whole words.""",
    examples=[
        Example("label not allowed", {"allowed": ["professional"]},
                _email("Hello", tone="casual"), "violated"),
        Example("label allowed", {"allowed": ["professional", "formal"]},
                _email("hey!!", tone="formal"), "ok"),
        Example("labels compare exactly", {"allowed": ["professional"]},
                _email(tone="Professional"), "violated"),
        Example("casual marker without a label", {"allowed": ["professional"]},
                _email("Hey, we're gonna ship it tomorrow"), "violated"),
        Example("markers match whole words only", {"allowed": ["professional"]},
                _email("They heyday of the project"), "ok"),
        Example("double exclamation reads casual", {"allowed": ["formal"]},
                _email("Your order shipped!!"), "violated"),
        Example("marker of an allowed band", {"allowed": ["professional", "friendly"]},
                _email("Happy to help. Kind regards"), "ok"),
        Example("formal marker when only casual is allowed", {"allowed": ["casual"]},
                _email("I hereby confirm the order"), "violated"),
        Example("authored markers replace the band's defaults",
                {"allowed": ["professional"], "markers": {"casual": ["(?i)\\bdude\\b"]}},
                _email("hey, gonna ship"), "ok"),
        Example("authored marker found",
                {"allowed": ["professional"], "markers": {"casual": ["(?i)\\bdude\\b"]}},
                _email("thanks, Dude"), "violated"),
        Example("new band by markers",
                {"allowed": ["professional"], "markers": {"pushy": ["(?i)\\bact now\\b"]}},
                _email("Act now, the offer ends"), "violated"),
        Example("no allowed list imposes nothing", {"markers": {"casual": ["hey"]}},
                _email("hey", tone="casual"), "ok"),
        Example("no label and no text", {"allowed": ["professional"]},
                {"action": {"type": "send_email", "content": {"subject": "hey"}}}, "ok"),
        Example("actions narrow the rule", {"allowed": ["professional"], "actions": ["send_email"]},
                {"action": {"type": "send_message", "content": {"tone": "casual"}}}, "ok"),
    ],
)
