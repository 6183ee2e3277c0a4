"""condition: a free-form rule over any input field ("no refunds over $100")."""

from typing import Any

from ..conditions import check_condition, condition_dnf
from ..schema import Check, Ctx, Field
from . import ANY_ACTION, CompileContext, Example, RuleType
from ._common import condition_action_types


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    """`when` in disjunctive normal form, and `action_types`: the action types it can
    hold for (null: any), so a decision for another action skips it at once."""
    dnf = condition_dnf(params["when"])
    return {"when": dnf, "action_types": condition_action_types(dnf)}



class ConditionCheck(Check):
    label = "a condition"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        return check_condition(value, ctx)


CONDITION = ConditionCheck()

RULE_TYPE = RuleType(
    name="condition",
    fires_on=lambda rule: rule["action_types"] if rule["action_types"] is not None else ANY_ACTION,
    summary="Block (or escalate, or warn about) any action a condition describes.",
    violated_when="the `when` condition holds.",
    params={"when": Field(CONDITION, required=True)},
    doc_params={"when": "a condition (see the condition language below)"},
    compile=_compile,
    notes="""\
Give the rule a `message`: it is what the agent and the audit trail see.

### The condition language

`{all: [c, ...]}`, `{any: [c, ...]}`, `{not: c}`, or a leaf `{field: PATH, OP: VALUE}`.
PATH is a dotted path under `input` (`action.amount`, `action.data.region`); its
segments are letters, digits and `_`. OP is one of `equals`, `not_equals`, `gt`,
`gte`, `lt`, `lte`, `in`, `not_in`, `contains` (substring of a string, member of an
array), `matches` (RE2), `starts_with`, `ends_with`, `exists` (true/false). Every
operator except `exists` is false when the field is missing, so `not` of a leaf is
true then.

The compiler rewrites the condition into disjunctive normal form and ships it as data;
one fixed Rego function evaluates it.""",
    examples=[
        Example("refund over $100",
                {"when": {"all": [{"field": "action.type", "equals": "refund"},
                                  {"field": "action.amount", "gt": 100}]}},
                {"action": {"type": "refund", "amount": 150}}, "violated"),
        Example("refund of exactly $100",
                {"when": {"all": [{"field": "action.type", "equals": "refund"},
                                  {"field": "action.amount", "gt": 100}]}},
                {"action": {"type": "refund", "amount": 100}}, "ok"),
        Example("missing field makes a leaf false",
                {"when": {"field": "action.amount", "gt": 100}},
                {"action": {"type": "refund"}}, "ok"),
        Example("not of a missing field holds",
                {"when": {"not": {"field": "action.amount", "gt": 100}}},
                {"action": {"type": "send_message"}}, "violated"),
        Example("exists false",
                {"when": {"field": "action.data.purpose", "exists": False}},
                {"action": {"type": "store_data", "data": {}}}, "violated"),
        Example("any of in / matches",
                {"when": {"any": [{"field": "action.data.region", "in": ["cn", "ru"]},
                                  {"field": "action.api", "matches": "^admin\\."}]}},
                {"action": {"type": "api_call", "api": "admin.users"}}, "violated"),
        Example("contains on an array",
                {"when": {"field": "action.content.topics", "contains": "legal"}},
                {"action": {"type": "send_email", "content": {"topics": ["legal"]}}},
                "violated"),
        Example("contains on a string",
                {"when": {"field": "action.content.text", "contains": "refund"}},
                {"action": {"type": "send_email", "content": {"text": "no refunds"}}},
                "violated"),
        Example("not_in with a missing field is false",
                {"when": {"field": "action.data.region", "not_in": ["eu"]}},
                {"action": {"type": "export_data"}}, "ok"),
        Example("starts_with and ends_with",
                {"when": {"all": [{"field": "action.api", "starts_with": "crm."},
                                  {"field": "action.api", "ends_with": ".delete"}]}},
                {"action": {"type": "api_call", "api": "crm.contacts.delete"}}, "violated"),
        Example("not over any",
                {"when": {"not": {"any": [{"field": "action.type", "equals": "a"},
                                          {"field": "action.type", "equals": "b"}]}}},
                {"action": {"type": "b"}}, "ok"),
    ],
)
