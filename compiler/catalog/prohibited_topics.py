"""prohibited_topics: topics an agent must not raise, by keyword, pattern or label."""

from typing import Any

from ..schema import Field, ListOf, MapOf, Regex
from . import CompileContext, Example, RuleType, text_actions
from ._common import Term, actions_field, one_of, words_pattern


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    """Per topic one pattern: its keywords as one whole-word alternation, or'ed with its
    authored patterns; and the patterns of all the topics as one more (``any``), so a
    text that raises none of them costs one regex evaluation."""
    keywords = params.get("topics") or {}
    patterns = params.get("patterns") or {}
    names = sorted(set(keywords) | set(patterns))
    topics = []
    for name in names:
        alternatives = ([words_pattern(keywords[name])] if keywords.get(name) else [])
        alternatives += patterns.get(name, [])
        topics.append({"name": name, "pattern": one_of(alternatives)})
    return {"topics": topics, "any": one_of([t["pattern"] for t in topics if t["pattern"]])}


RULE_TYPE = RuleType(
    name="prohibited_topics",
    fires_on=text_actions,
    summary="Keep agents off topics: by keyword, by pattern, or by the action's own labels.",
    violated_when=(
        "a topic's keyword appears in the text (case-insensitive, whole word), one of its "
        "patterns matches, or the topic's name is in `content.topics`."
    ),
    params={
        "topics": Field(MapOf(ListOf(Term(what="keyword")))),
        "patterns": Field(MapOf(ListOf(Regex()))),
        "actions": actions_field(),
    },
    doc_params={
        "topics": "topic name -> literal keywords or phrases (matched as whole words)",
        "patterns": "topic name -> RE2 patterns",
        "actions": "narrow the rule to these action types (default: every action with content)",
    },
    compile=_compile,
    notes="""\
Keywords are literal text: `$`, `.`, `(` or `\\` in a keyword match themselves. Whole word
means the keyword does not touch a letter, digit or `_` on either side; a keyword that
starts or ends with another character (`C++`, `$100`) matches where it stands alone (an
extension of SPEC, see [validation](../validation.md)). A blank keyword is an error.""",
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
        Example("keyword ending in a symbol", {"topics": {"lang": ["C++"]}},
                {"action": {"type": "send_message", "content": {"text": "Hire C++ devs"}}},
                "violated"),
        Example("keyword starting with a symbol", {"topics": {"money": ["$100", "refund"]}},
                {"action": {"type": "send_message", "content": {"text": "($100)"}}},
                "violated"),
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
