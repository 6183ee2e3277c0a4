"""privacy: consent for sensitive data classes, and the purposes data may serve."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, Str
from . import WITH_DATA, Example, RuleType
from ._data import FAIL_CLOSED_NOTE


def _use(**data: Any) -> dict[str, Any]:
    return {"action": {"type": "store_data", "data": data}}


CONSENT = {"require_consent_for": ["health", "biometric"]}
PURPOSES = {"allowed_purposes": ["support", "billing"]}

RULE_TYPE = RuleType(
    name="privacy",
    fires_on=lambda rule: WITH_DATA,  # it judges the action's `data` object
    summary="Require consent for sensitive data classes and limit what data is used for.",
    violated_when=(
        "an action's `data` carries a class of `require_consent_for` (data that does not "
        "list its classes counts) without `consent: true`, or, with `allowed_purposes` "
        "set, has a `purpose` outside them or none."
    ),
    params={
        "require_consent_for": Field(ListOf(Str(non_empty=True))),
        "allowed_purposes": Field(ListOf(Str(non_empty=True))),
    },
    doc_params={
        "require_consent_for": "data classes that need `data.consent: true`",
        "allowed_purposes": "the purposes `data.purpose` may name",
    },
    notes=f"""\
The rule applies to every action that carries a `data` object, whatever its type.
{FAIL_CLOSED_NOTE} Here: with `require_consent_for` set, data without an
`action.data.classes` list needs `consent: true` too; with `allowed_purposes` set, data
without a `purpose` is a violation. Consent is the boolean `true` (the input contract
refuses a `consent` that is not a boolean).""",
    examples=[
        Example("sensitive class with consent", CONSENT,
                _use(classes=["health"], consent=True), "ok"),
        Example("sensitive class without consent", CONSENT,
                _use(classes=["contact", "health"]), "violated"),
        Example("consent false", CONSENT, _use(classes=["health"], consent=False), "violated"),
        Example("other classes need no consent", CONSENT, _use(classes=["contact"]), "ok"),
        Example("unlabelled data needs consent", CONSENT, _use(records=10), "violated"),
        Example("unlabelled data with consent", CONSENT, _use(consent=True), "ok"),
        Example("allowed purpose", PURPOSES, _use(purpose="support"), "ok"),
        Example("purposes compare exactly", PURPOSES, _use(purpose="Support"), "violated"),
        Example("purpose not allowed", PURPOSES, _use(purpose="marketing"), "violated"),
        Example("missing purpose fails closed", PURPOSES, _use(classes=["contact"]),
                "violated"),
        Example("any action with data", PURPOSES,
                {"action": {"type": "send_email", "data": {"purpose": "marketing"}}},
                "violated"),
        Example("no data, nothing to check", {**CONSENT, **PURPOSES},
                {"action": {"type": "send_email"}}, "ok"),
    ],
)
