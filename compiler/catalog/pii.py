"""pii: personal data must not leave the organisation (or is redacted on the way out).

The detectors themselves are Rego (rego_templates/core/pii*.rego.j2), defined in
docs/pii.md."""

from __future__ import annotations

from typing import Any

from ..schema import Enum, Field, ListOf, Str
from . import CompileContext, Example, RuleType, text_actions
from ._common import actions_field, domains
from ._text import TEXT_ACTIONS_DOC

DETECTORS = ("email", "phone", "ssn", "credit_card", "iban", "ip_address")


def _compile(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    """Detectors deduplicated and sorted; the allowed domains lowercased, the identity's
    internal domains when the rule lists none."""
    allowed = params.get("allow_domains")
    return {"detect": sorted(set(params.get("detect") or [])),
            "allow_domains": domains(ctx.internal_domains if allowed is None else allowed)}


def _send(text: str | None = None, to: str | None = None, subject: str | None = None,
          type_: str = "send_email") -> dict[str, Any]:
    content = {k: v for k, v in (("text", text), ("subject", subject)) if v is not None}
    action: dict[str, Any] = {"type": type_, "content": content}
    if to is not None:
        action["recipient"] = {"address": to}
    return {"action": action}


ALL = {"detect": list(DETECTORS)}
OUT = "x@gmail.com"

def _redact(*spans: tuple[str, int, int], mask: str | None = None,
            field: str = "content.text") -> list[dict[str, Any]]:
    """The obligation a redact rule gives for ``spans`` of one field."""
    found = [{"entity": e, "field": field, "start": s, "end": t} for e, s, t in spans]
    obligation: dict[str, Any] = {"type": "redact", "entities": sorted({e for e, _, _ in spans}),
                                  "findings": found}
    if mask is not None:
        obligation["mask"] = mask
    return [obligation]


RULE_TYPE = RuleType(
    name="pii",
    fires_on=text_actions,
    summary="Keep personal data (emails, phones, card numbers...) inside the organisation.",
    violated_when=(
        "a detected entity is in `content.text` or `content.subject` and the recipient is "
        "outside `allow_domains` (no recipient counts as outside); the violation lists each "
        "finding as `{entity, field, start, end}` (code points, end exclusive). With "
        "`on_match: redact` there is no violation but an obligation `{type: redact, "
        "entities: [types], findings: [...], mask?}`. A field over 65,536 characters, or "
        "with more than 512 candidate spans (pattern matches and digit groups), is not "
        "scanned and is a violation either way."
    ),
    params={
        "detect": Field(ListOf(Enum(DETECTORS))),
        "allow_domains": Field(ListOf(Str(non_empty=True))),
        "on_match": Field(Enum(("violate", "redact")), default="violate"),
        "mask": Field(Str()),
        "actions": actions_field(),
    },
    doc_params={
        "detect": "the detectors to run: " + ", ".join(f"`{d}`" for d in DETECTORS)
                  + " (absent: none)",
        "allow_domains": "recipient domains (and their subdomains) that may receive PII; "
                         "default: the identity's `internalDomains`",
        "on_match": "`violate` (default) or `redact` (an obligation instead of a violation)",
        "mask": "what redaction writes over each finding (default: the entity type in "
                "capitals and brackets, `[EMAIL]`, `[PHONE]`, `[CREDIT_CARD]`...)",
        "actions": TEXT_ACTIONS_DOC,
    },
    compile=_compile,
    notes="""\
The recipient's domain is `recipient.domain`, else the part of `recipient.address` after
`@`; domains compare case-insensitively and a subdomain of an allowed domain is allowed.

The detectors are defined exactly in [the PII detectors page](../pii.md): `email`,
`phone` (US/CA, UK, DE, FR, IL, IN and BR numbering plans, `+CC` / `00CC`), `ssn`
(issuance rules; `-`, `.`, space or no separator), `credit_card` (issuer ranges, lengths,
Luhn), `iban` (registry length per country, mod-97; grouped by spaces or hyphens) and
`ip_address` (IPv4, IPv6 with `::`, embedded IPv4, zone ids, CIDR prefixes). Every
detector runs on every text in which one of the entities the rule detects can occur (a
rule that detects only cards does not scan a text without twelve digits), and one span is
reported once, as the most specific entity that validates: the digits of a card are no
phone, those of an IBAN no card; `detect` then chooses which findings the rule reports.

`policypacks.obligations.apply(action, decision)` (or
`client.enforce(action, apply_obligations=True)`) writes the obligation into the action:
findings are replaced right to left, with `mask` or `[ENTITY]`.""",
    examples=[
        Example("email to an outside recipient", ALL, _send("write to jane@acme.com", OUT),
                "violated"),
        Example("internal recipient by default", ALL, _send("jane@example.org", "bob@acme.com"),
                "ok"),
        Example("subdomain of an allowed domain", ALL,
                _send("jane@example.org", "bob@eu.ACME.com"), "ok"),
        Example("recipient domain field", ALL,
                {"action": {"type": "send_email", "content": {"text": "078-05-1123"},
                            "recipient": {"domain": "acme.com"}}}, "ok"),
        Example("no recipient counts as outside", {"detect": ["ssn"]},
                _send("SSN 078-05-1123"), "violated"),
        Example("allow_domains replaces the internal domains",
                {"detect": ["email"], "allow_domains": ["partner.io"]},
                _send("jane@example.org", "bob@acme.com"), "violated"),
        Example("allowed partner domain", {"detect": ["email"], "allow_domains": ["Partner.io"]},
                _send("jane@example.org", "bob@partner.io"), "ok"),
        Example("only listed detectors run", {"detect": ["ssn"]},
                _send("call +1 (415) 555-0132", OUT), "ok"),
        Example("no detect list detects nothing", {}, _send("SSN 078-05-1123", OUT), "ok"),
        Example("entity in the subject", {"detect": ["phone"]},
                _send("hello", OUT, subject="call 415-555-0132"), "violated"),
        Example("phone with country code", {"detect": ["phone"]},
                _send("+44 20 7946 0958", OUT), "violated"),
        Example("phone with the area code in parentheses", {"detect": ["phone"]},
                _send("call (415) 555-0132", OUT), "violated"),
        Example("two phones side by side are two phones", {"detect": ["phone"],
                                                           "on_match": "redact"},
                _send("Call 555-123-4567 555-987-6543", OUT), "ok",
                _redact(("phone", 5, 17), ("phone", 18, 30))),
        Example("an IP address is no phone", {"detect": ["phone"]},
                _send("host 192.168.100.200", OUT), "ok"),
        Example("too few digits for a phone", {"detect": ["phone"]},
                _send("ext. 555-1234", OUT), "ok"),
        Example("a date is no phone", {"detect": ["phone"]}, _send("on 2024-01-15", OUT), "ok"),
        Example("Luhn-valid card", {"detect": ["credit_card"]},
                _send("card 4111 1111 1111 1111", OUT), "violated"),
        Example("Luhn-invalid card", {"detect": ["credit_card"]},
                _send("card 4111-1111-1111-1112", OUT), "ok"),
        Example("a 13-digit millisecond timestamp is no card", {"detect": ["credit_card"]},
                _send("at 1748503543012", OUT), "ok"),
        Example("a card's digits are no phone", {"detect": ["credit_card", "phone"],
                                                 "on_match": "redact"},
                _send("amex 378282246310005", OUT), "ok",
                _redact(("credit_card", 5, 20))),
        Example("card followed by its expiry date", {"detect": ["credit_card"]},
                _send("4111 1111 1111 1111 12/25", OUT), "violated"),
        Example("card inside a longer word", {"detect": ["credit_card"]},
                _send("id4111111111111111", OUT), "ok"),
        Example("grouped IBAN", {"detect": ["iban"]},
                _send("IBAN GB82 WEST 1234 5698 7654 32", OUT), "violated"),
        Example("compact IBAN", {"detect": ["iban"]}, _send("DE89370400440532013000", OUT),
                "violated"),
        Example("IBAN followed by a currency", {"detect": ["iban"], "on_match": "redact"},
                _send("ES91 2100 0418 4502 0005 1332 EUR", OUT), "ok",
                _redact(("iban", 0, 29))),
        Example("IBAN with a wrong check digit", {"detect": ["iban"]},
                _send("DE88370400440532013000", OUT), "ok"),
        Example("IBAN too short for its country", {"detect": ["iban"]},
                _send("IL15 0120 6900 0000", OUT), "ok"),
        Example("IP address", {"detect": ["ip_address"]}, _send("host 10.0.0.255", OUT),
                "violated"),
        Example("IPv6 address", {"detect": ["ip_address"]}, _send("from 2001:db8::1", OUT),
                "violated"),
        Example("octet over 255 is no IP address", {"detect": ["ip_address"]},
                _send("256.1.1.1", OUT), "ok"),
        Example("IBAN digits are no card", {"detect": ["credit_card"]},
                _send("GB82 WEST 1234 5698 7654 32", OUT), "ok"),
        Example("SSN never issued", {"detect": ["ssn"]}, _send("SSN 666-12-3456", OUT), "ok"),
        Example("redact instead of violating",
                {"detect": ["email", "iban", "ssn"], "on_match": "redact"},
                _send("jane@example.org, SSN 078-05-1123", OUT), "ok",
                _redact(("email", 0, 16), ("ssn", 22, 33))),
        Example("redact with the rule's mask",
                {"detect": ["email"], "on_match": "redact", "mask": "***"},
                _send("hello", OUT, subject="from jane@example.org"), "ok",
                _redact(("email", 5, 21), mask="***", field="content.subject")),
        Example("no redaction for an internal recipient",
                {"detect": ["email"], "on_match": "redact"},
                _send("jane@example.org", "bob@acme.com"), "ok", []),
        Example("actions narrow the rule", {"detect": ["ssn"], "actions": ["send_message"]},
                _send("078-05-1123", OUT), "ok"),
        Example("a text over 65,536 characters is refused unscanned", {"detect": ["email"]},
                _send("a" * 65537, OUT), "violated"),
        Example("a text with more than 512 candidate spans is refused unscanned",
                {"detect": ["phone"]}, _send("1 " * 520, OUT), "violated"),
    ],
)
