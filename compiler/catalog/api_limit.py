"""api_limit: how often an agent may call one API (or any API) per minute, hour or day."""

from ..schema import Field, Str
from . import Example, RuleType
from ._common import COUNT
from .rate_limit import PERIOD


def _call(api: str | None, used_api: str, period: str, done: object) -> dict[str, object]:
    action = {"type": "api_call"} if api is None else {"type": "api_call", "api": api}
    return {"action": action, "usage": {"apis": {used_api: {period: done}}}}


RULE_TYPE = RuleType(
    name="api_limit",
    fires_on=lambda rule: ["api_call"],
    summary="Cap the calls an agent makes to one API, or to all APIs together.",
    violated_when=(
        "the action is an `api_call` to the rule's `api` (`*`: any API) and "
        "`usage.apis[api][period] + 1` (this call included) exceeds `max` (missing usage "
        "counts as 0; `*` reads `usage.apis[\"*\"]`)."
    ),
    params={
        "api": Field(Str(non_empty=True), required=True),
        "max": Field(COUNT, required=True),
        "period": Field(PERIOD, required=True),
    },
    doc_params={
        "api": "the API name, compared exactly with `action.api`; `*` counts every API call",
        "max": "how many calls the period allows (integer; 0 forbids them)",
        "period": "`minute`, `hour` or `day`",
    },
    key_doc="`api_limit:API:PERIOD`",
    conflict_key=lambda p: f"api_limit:{p['api']}:{p['period']}",
    notes="""\
The agent's client reports the calls already made in the current window as
`usage.apis.<api>.<period>`, and the calls to all APIs together as `usage.apis["*"]`.
An `api_call` without `action.api` is counted only by `*` rules.""",
    examples=[
        Example("under the limit", {"api": "crm", "max": 2, "period": "minute"},
                _call("crm", "crm", "minute", 1), "ok"),
        Example("one over the limit", {"api": "crm", "max": 2, "period": "minute"},
                _call("crm", "crm", "minute", 2), "violated"),
        Example("missing usage counts as zero", {"api": "crm", "max": 1, "period": "day"},
                {"action": {"type": "api_call", "api": "crm"}}, "ok"),
        Example("max 0 forbids the API", {"api": "billing", "max": 0, "period": "day"},
                {"action": {"type": "api_call", "api": "billing"}}, "violated"),
        Example("another API is not counted", {"api": "crm", "max": 2, "period": "minute"},
                _call("billing", "billing", "minute", 50), "ok"),
        Example("the API name is compared exactly", {"api": "crm", "max": 0, "period": "hour"},
                _call("CRM", "CRM", "hour", 0), "ok"),
        Example("a call without an api is not counted by a named rule",
                {"api": "crm", "max": 0, "period": "hour"},
                {"action": {"type": "api_call"}}, "ok"),
        Example("only api_call actions count", {"api": "crm", "max": 0, "period": "hour"},
                {"action": {"type": "send_email", "api": "crm"}}, "ok"),
        Example("* counts every API with the total usage",
                {"api": "*", "max": 100, "period": "hour"},
                _call("billing", "*", "hour", 100), "violated"),
        Example("* ignores a single API's usage", {"api": "*", "max": 100, "period": "hour"},
                {"action": {"type": "api_call", "api": "crm"},
                 "usage": {"apis": {"crm": {"hour": 500}, "*": {"hour": 10}}}}, "ok"),
        Example("* counts a call without an api", {"api": "*", "max": 5, "period": "day"},
                _call(None, "*", "day", 5), "violated"),
    ],
)
