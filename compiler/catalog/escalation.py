"""escalation: routes require_approval decisions to the right approvers."""

from typing import Any

from ..schema import Duration, Enum, Field, ListOf, Number, Obj, Str
from ..vocabulary import CATEGORIES, DEFAULT_APPROVAL_TIMEOUT
from . import CompileContext, Example, RuleType
from ._common import ACTION_TYPE

MATCH = Obj({
    "categories": Field(ListOf(Enum(CATEGORIES))),
    "packs": Field(ListOf(Str(non_empty=True))),
    "rules": Field(ListOf(Str(non_empty=True))),
    "actions": Field(ListOf(ACTION_TYPE)),
})


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    match = params.get("match") or {}
    return {
        "match": {key: match.get(key) for key in ("categories", "packs", "rules", "actions")},
        "approvers": params.get("approvers", []),
        "timeout_seconds": params.get("timeout", DEFAULT_APPROVAL_TIMEOUT),
        "fallback": params.get("fallback", "block"),
        "priority": params.get("priority", 0),
    }


RULE_TYPE = RuleType(
    name="escalation",
    fires_on=lambda rule: [],  # never violated: it routes approvals
    summary="Send require_approval decisions to the right approvers.",
    violated_when=(
        "never. A route matches when `actions` (if listed) holds the action type and one "
        "violated rule at `require_approval` satisfies every listed key among `categories`, "
        "`packs` and `rules` (`pack/rule` or a bare rule id). The largest `priority` wins, "
        "then pack id, then rule order; no match: the identity's `escalation`."
    ),
    params={
        "match": Field(MATCH, default={}),
        "approvers": Field(ListOf(Str(non_empty=True)), default=[]),
        "timeout": Field(Duration(), default=DEFAULT_APPROVAL_TIMEOUT),
        "fallback": Field(Enum(("block", "allow")), default="block"),
        "priority": Field(Number(integer=True), default=0),
    },
    doc_params={
        "match": "`{categories, packs, rules, actions}`; absent keys match anything",
        "approvers": "who may approve (user or group names)",
        "timeout": "how long the request waits (`24h`, `30m`, `1d`; default 24h)",
        "fallback": "what an expired request becomes: `block` (default) or `allow`",
        "priority": "integer, default 0; the largest wins",
    },
    key_doc="none: escalation rules never conflict",
    compile=_compile,
    # Examples of escalation are decisions' approvals, checked in tests/test_escalation.py;
    # here: it never violates anything.
    examples=[
        Example("never violated", {"approvers": ["ops"]},
                {"action": {"type": "spend", "amount": 1_000_000}}, "ok"),
    ],
)
