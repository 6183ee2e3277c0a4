"""rate_limit: how often an agent may take one kind of action per minute, hour or day."""

from ..schema import Enum, Field
from . import Example, RuleType
from ._common import ACTION_TYPE, COUNT

PERIOD = Enum(("minute", "hour", "day"))


def _usage(action: str, period: str, done: object) -> dict[str, object]:
    return {"usage": {"actions": {action: {period: done}}}}


RULE_TYPE = RuleType(
    name="rate_limit",
    fires_on=lambda rule: [rule["action"]],
    summary="Cap how many actions of one type an agent takes per minute, hour or day.",
    violated_when=(
        "`action.type` is the rule's `action` and `usage.actions[action][period] + 1` (this "
        "action included) exceeds `max` (missing usage counts as 0)."
    ),
    params={
        "action": Field(ACTION_TYPE, required=True),
        "max": Field(COUNT, required=True),
        "period": Field(PERIOD, required=True),
    },
    doc_params={
        "action": "the action type counted (`send_email`, `refund`, any string)",
        "max": "how many such actions the period allows (integer; 0 forbids them)",
        "period": "`minute`, `hour` or `day`",
    },
    key_doc="`rate_limit:ACTION:PERIOD`",
    conflict_key=lambda p: f"rate_limit:{p['action']}:{p['period']}",
    notes="""\
The agent's client reports what was already done in the current window as
`usage.actions.<action type>.<period>`; the action being decided counts as one more.
A usage that is missing counts as 0 (the input contract refuses one that is not a
non-negative number).""",
    examples=[
        Example("under the limit", {"action": "send_email", "max": 3, "period": "hour"},
                {"action": {"type": "send_email"}, **_usage("send_email", "hour", 1)}, "ok"),
        Example("reaching the limit exactly is allowed",
                {"action": "send_email", "max": 3, "period": "hour"},
                {"action": {"type": "send_email"}, **_usage("send_email", "hour", 2)}, "ok"),
        Example("one over the limit", {"action": "send_email", "max": 3, "period": "hour"},
                {"action": {"type": "send_email"}, **_usage("send_email", "hour", 3)},
                "violated"),
        Example("missing usage counts as zero", {"action": "refund", "max": 1, "period": "day"},
                {"action": {"type": "refund", "amount": 5}}, "ok"),
        Example("max 0 forbids the action", {"action": "refund", "max": 0, "period": "day"},
                {"action": {"type": "refund", "amount": 10}}, "violated"),
        Example("only the rule's period counts",
                {"action": "send_email", "max": 3, "period": "minute"},
                {"action": {"type": "send_email"},
                 "usage": {"actions": {"send_email": {"minute": 0, "hour": 50}}}}, "ok"),
        Example("other action types are not counted",
                {"action": "send_email", "max": 0, "period": "day"},
                {"action": {"type": "send_message"}, **_usage("send_email", "day", 9)}, "ok"),
        Example("usage of other action types is not counted",
                {"action": "send_email", "max": 2, "period": "day"},
                {"action": {"type": "send_email"}, **_usage("send_message", "day", 9)}, "ok"),
        Example("any action type string", {"action": "crm.update", "max": 10, "period": "minute"},
                {"action": {"type": "crm.update"}, **_usage("crm.update", "minute", 10)},
                "violated"),
    ],
)
