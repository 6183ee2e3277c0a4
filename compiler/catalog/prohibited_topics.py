"""prohibited_topics: topics an agent must not raise, by keyword, pattern or label."""

from typing import Any

from ..schema import Field, ListOf, MapOf, Regex, Str
from . import CompileContext, Example, RuleType
from ._common import actions_field, word_pattern


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    keywords = params.get("topics") or {}
    patterns = params.get("patterns") or {}
    names = sorted(set(keywords) | set(patterns))
    return {"topics": [
        {"name": name,
         "patterns": [word_pattern(k) for k in keywords.get(name, [])] + patterns.get(name, [])}
        for name in names
    ]}


RULE_TYPE = RuleType(
    name="prohibited_topics",
    summary="Keep agents off topics: by keyword, by pattern, or by the action's own labels.",
    violated_when=(
        "a topic's keyword appears in the text (case-insensitive, whole word), one of its "
        "patterns matches, or the topic's name is in `content.topics`."
    ),
    params={
        "topics": Field(MapOf(ListOf(Str(non_empty=True)))),
        "patterns": Field(MapOf(ListOf(Regex()))),
        "actions": actions_field(),
    },
    doc_params={
        "topics": "topic name -> literal keywords or phrases (matched as whole words)",
        "patterns": "topic name -> RE2 patterns",
        "actions": "narrow the rule to these action types (default: every action with content)",
    },
    compile=_compile,
    notes="Keywords are literal text: `$`, `.`, `(` or `\\` in a keyword match themselves.",
    examples=[
        Example("keyword as a whole word", {"topics": {"politics": ["election"]}},
                {"action": {"type": "send_message", "content": {"text": "The Election is near"}}},
                "violated"),
        Example("keyword inside another word", {"topics": {"politics": ["election"]}},
                {"action": {"type": "send_message", "content": {"text": "preelections"}}}, "ok"),
        Example("phrase", {"topics": {"medical": ["side effects"]}},
                {"action": {"type": "send_message",
                            "content": {"text": "any side effects?"}}}, "violated"),
        Example("keyword with metacharacters is literal", {"topics": {"x": ["a.b"]}},
                {"action": {"type": "send_message", "content": {"text": "axb"}}}, "ok"),
        Example("pattern", {"patterns": {"crypto": ["(?i)bit ?coin"]}},
                {"action": {"type": "send_message", "content": {"text": "buy BITCOIN"}}},
                "violated"),
        Example("topic label", {"topics": {"legal": ["lawsuit"]}},
                {"action": {"type": "send_message", "content": {"topics": ["legal"]}}},
                "violated"),
        Example("no content, nothing to check", {"topics": {"legal": ["lawsuit"]}},
                {"action": {"type": "spend", "amount": 1}}, "ok"),
        Example("actions narrow the rule",
                {"topics": {"legal": ["lawsuit"]}, "actions": ["send_email"]},
                {"action": {"type": "send_message", "content": {"text": "lawsuit"}}}, "ok"),
    ],
)
