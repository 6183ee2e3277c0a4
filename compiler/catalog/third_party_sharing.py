"""third_party_sharing: what data may leave the organisation, and to whom."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, Str
from . import CompileContext, Example, RuleType, listed_actions
from ._common import actions_field, domains
from ._data import FAIL_CLOSED_NOTE


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    return {"allowed_domains": domains(params.get("allowed_domains"))}


def _share(recipient: dict[str, Any] | None, **data: Any) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "share_data", "data": data}
    if recipient is not None:
        action["recipient"] = recipient
    return {"action": action}


PARTNER = {"allowed_domains": ["partner.com"]}
NO_PII = {"blocked_classes": ["pii"]}

RULE_TYPE = RuleType(
    name="third_party_sharing",
    fires_on=listed_actions,
    summary="Control what data leaves the organisation: to which outside domains, of "
            "which classes.",
    violated_when=(
        "one of `actions` goes to a recipient whose domain is outside the identity's "
        "`internalDomains` and not in `allowed_domains` (when set), or carries a class of "
        "`blocked_classes` there (data that does not list its classes counts); or has no "
        "recipient domain at all."
    ),
    params={
        "allowed_domains": Field(ListOf(Str(non_empty=True))),
        "blocked_classes": Field(ListOf(Str(non_empty=True))),
        "actions": actions_field(["share_data"]),
    },
    doc_params={
        "allowed_domains": "third-party domains data may go to (subdomains included); "
                           "absent: any",
        "blocked_classes": "data classes that must not go to any third party",
        "actions": "action types that share data (default `[share_data]`)",
    },
    compile=_compile,
    notes=f"""\
{FAIL_CLOSED_NOTE} Here: a selected action without a recipient domain is a violation
(whatever the parameters), and so is data without an `action.data.classes` list going
to a third party when `blocked_classes` is set.

The recipient's domain is `recipient.domain`, else the part of `recipient.address`
after `@`. It is internal when it equals one of the identity's `internalDomains` or is
a subdomain of one (case-insensitively); internal recipients are never restricted.""",
    examples=[
        Example("internal recipient", PARTNER, _share({"domain": "acme.com"}), "ok"),
        Example("internal subdomain", PARTNER, _share({"domain": "eu.Acme.com"}), "ok"),
        Example("internal recipient by address", PARTNER,
                _share({"address": "bob@acme.com"}), "ok"),
        Example("allowed third party", PARTNER, _share({"domain": "partner.com"}), "ok"),
        Example("allowed third party's subdomain, any case", PARTNER,
                _share({"address": "ann@EU.Partner.com"}), "ok"),
        Example("third party not allowed", PARTNER, _share({"domain": "evil.com"}), "violated"),
        Example("a look-alike is not a subdomain", PARTNER,
                _share({"domain": "notpartner.com"}), "violated"),
        Example("no recipient fails closed", NO_PII, _share(None, classes=["public"]),
                "violated"),
        Example("a recipient with neither address nor domain fails closed", NO_PII,
                _share({}, classes=["public"]), "violated"),
        Example("blocked class to a third party", NO_PII,
                _share({"domain": "partner.com"}, classes=["public", "pii"]), "violated"),
        Example("blocked class stays inside", NO_PII,
                _share({"domain": "acme.com"}, classes=["pii"]), "ok"),
        Example("other classes may go out", NO_PII,
                _share({"domain": "partner.com"}, classes=["public"]), "ok"),
        Example("unlabelled data to a third party fails closed", NO_PII,
                _share({"domain": "partner.com"}), "violated"),
        Example("other actions are not sharing", PARTNER,
                {"action": {"type": "send_email", "recipient": {"domain": "evil.com"}}}, "ok"),
        Example("actions widen the rule", {**PARTNER, "actions": ["share_data", "send_email"]},
                {"action": {"type": "send_email", "recipient": {"domain": "evil.com"}}},
                "violated"),
    ],
)
