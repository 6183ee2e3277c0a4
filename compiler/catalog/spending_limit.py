"""spending_limit: caps on money spent per transaction, hour, day or month."""

from ..schema import Enum, Field, Str
from . import Example, RuleType, listed_actions
from ._common import NON_NEGATIVE, actions_field

RULE_TYPE = RuleType(
    name="spending_limit",
    fires_on=listed_actions,
    summary="Cap what an agent spends, per transaction or per hour, day or month.",
    violated_when=(
        "the action is one of `actions`, its `amount` is in the rule's currency (a missing "
        "currency means the rule's), and `amount` (period `transaction`) or "
        "`usage.spend[period] + amount` exceeds `max` (missing usage counts as 0; the input "
        "contract refuses usage that is not a non-negative number)."
    ),
    params={
        "max": Field(NON_NEGATIVE, required=True),
        "currency": Field(Str(non_empty=True), default="USD"),
        "period": Field(Enum(("transaction", "hour", "day", "month")), required=True),
        "actions": actions_field(["spend"]),
    },
    doc_params={
        "max": "the cap, in the rule's currency",
        "currency": "currency code (default USD), compared case-insensitively",
        "period": "`transaction`, `hour`, `day` or `month`",
        "actions": "action types that spend (default `[spend]`)",
    },
    key_doc="`spending_limit:CUR:PERIOD`",
    conflict_key=lambda p: f"spending_limit:{p.get('currency', 'USD').upper()}:{p['period']}",
    compile=lambda p, ctx: {"currency": p.get("currency", "USD").upper()},
    examples=[
        Example("small purchase within the day's cap",
                {"max": 100, "period": "day"},
                {"action": {"type": "spend", "amount": 20, "currency": "USD"},
                 "usage": {"spend": {"day": 10}}}, "ok"),
        Example("day's spend would pass the cap",
                {"max": 100, "period": "day"},
                {"action": {"type": "spend", "amount": 40, "currency": "USD"},
                 "usage": {"spend": {"day": 90}}}, "violated"),
        Example("reaching the cap exactly is allowed",
                {"max": 100, "period": "day"},
                {"action": {"type": "spend", "amount": 10}, "usage": {"spend": {"day": 90}}},
                "ok"),
        Example("missing usage counts as zero",
                {"max": 100, "period": "month"},
                {"action": {"type": "spend", "amount": 101}}, "violated"),
        Example("single purchase over the transaction cap",
                {"max": 500, "period": "transaction"},
                {"action": {"type": "spend", "amount": 600}, "usage": {"spend": {"day": 0}}},
                "violated"),
        Example("transaction cap ignores earlier spend",
                {"max": 500, "period": "transaction"},
                {"action": {"type": "spend", "amount": 400}, "usage": {"spend": {"day": 5000}}},
                "ok"),
        Example("currency compares case-insensitively",
                {"max": 100, "currency": "eur", "period": "transaction"},
                {"action": {"type": "spend", "amount": 150, "currency": "EUR"}}, "violated"),
        Example("another currency is not this rule's business",
                {"max": 100, "currency": "USD", "period": "transaction"},
                {"action": {"type": "spend", "amount": 150, "currency": "EUR"}}, "ok"),
        Example("other action types are not spending",
                {"max": 100, "period": "transaction"},
                {"action": {"type": "refund", "amount": 150}}, "ok"),
        Example("listed actions count",
                {"max": 100, "period": "transaction", "actions": ["refund"]},
                {"action": {"type": "refund", "amount": 150}}, "violated"),
        Example("no amount, no spending check",
                {"max": 0, "period": "transaction"},
                {"action": {"type": "spend"}}, "ok"),
    ],
)
