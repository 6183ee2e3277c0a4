"""pii: personal data must not leave the organisation (or is redacted on the way out)."""

from __future__ import annotations

from typing import Any

from ..schema import Enum, Field, ListOf, Str
from . import CompileContext, Example, RuleType
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

RULE_TYPE = RuleType(
    name="pii",
    summary="Keep personal data (emails, phones, card numbers...) inside the organisation.",
    violated_when=(
        "a detected entity is in `content.text` or `content.subject` and the recipient is "
        "outside `allow_domains` (no recipient counts as outside). With `on_match: redact` "
        "there is no violation but an obligation `{type: redact, entities: [types]}`."
    ),
    params={
        "detect": Field(ListOf(Enum(DETECTORS))),
        "allow_domains": Field(ListOf(Str(non_empty=True))),
        "on_match": Field(Enum(("violate", "redact")), default="violate"),
        "actions": actions_field(),
    },
    doc_params={
        "detect": "the detectors to run: " + ", ".join(f"`{d}`" for d in DETECTORS)
                  + " (absent: none)",
        "allow_domains": "recipient domains (and their subdomains) that may receive PII; "
                         "default: the identity's `internalDomains`",
        "on_match": "`violate` (default) or `redact` (an obligation instead of a violation)",
        "actions": TEXT_ACTIONS_DOC,
    },
    compile=_compile,
    notes="""\
The recipient's domain is `recipient.domain`, else the part of `recipient.address` after
`@`; domains compare case-insensitively and a subdomain of an allowed domain is allowed.

Detectors (all on word boundaries):

- `email`: `local@domain.tld`.
- `phone`: 10-15 digits, an optional leading `+`, groups separated by single spaces, dots
  or hyphens, optional parentheses around the area code: `+1 (555) 123-4567`,
  `555.123.4567`, `+44 20 7946 0958`.
- `ssn`: `NNN-NN-NNNN`.
- `credit_card`: 13-19 digits, unbroken or grouped by single spaces or hyphens, that pass
  the Luhn check. Any stretch of consecutive groups counts (`4111 1111 1111 1111 12/25`).
- `iban`: two capital letters, two check digits and 11-30 capitals or digits, unbroken or
  in groups of four separated by spaces, valid by the ISO 13616 mod-97 check.
- `ip_address`: an IPv4 dotted quad, every octet 0-255.

Each detector reads the text as it is, as SPEC defines it: a number that fits two
definitions is both (`378282246310005` is a card and a phone number; the digits of
`192.168.100.200` or of a grouped IBAN also make a phone number).""",
    examples=[
        Example("email to an outside recipient", ALL, _send("write to jane@acme.com", OUT),
                "violated"),
        Example("internal recipient by default", ALL, _send("jane@example.org", "bob@acme.com"),
                "ok"),
        Example("subdomain of an allowed domain", ALL,
                _send("jane@example.org", "bob@eu.ACME.com"), "ok"),
        Example("recipient domain field", ALL,
                {"action": {"type": "send_email", "content": {"text": "123-45-6789"},
                            "recipient": {"domain": "acme.com"}}}, "ok"),
        Example("no recipient counts as outside", {"detect": ["ssn"]},
                _send("SSN 123-45-6789"), "violated"),
        Example("allow_domains replaces the internal domains",
                {"detect": ["email"], "allow_domains": ["partner.io"]},
                _send("jane@example.org", "bob@acme.com"), "violated"),
        Example("allowed partner domain", {"detect": ["email"], "allow_domains": ["Partner.io"]},
                _send("jane@example.org", "bob@partner.io"), "ok"),
        Example("only listed detectors run", {"detect": ["ssn"]},
                _send("call +1 (555) 123-4567", OUT), "ok"),
        Example("no detect list detects nothing", {}, _send("SSN 123-45-6789", OUT), "ok"),
        Example("entity in the subject", {"detect": ["phone"]},
                _send("hello", OUT, subject="call 555-123-4567"), "violated"),
        Example("phone with country code", {"detect": ["phone"]},
                _send("+44 20 7946 0958", OUT), "violated"),
        Example("phone with the area code in parentheses", {"detect": ["phone"]},
                _send("call (555) 123-4567", OUT), "violated"),
        Example("an IP address with 10-15 digits is also phone-shaped", {"detect": ["phone"]},
                _send("host 192.168.100.200", OUT), "violated"),
        Example("a short IP address is no phone", {"detect": ["phone"]},
                _send("host 10.0.0.1", OUT), "ok"),
        Example("too few digits for a phone", {"detect": ["phone"]},
                _send("ext. 555-1234", OUT), "ok"),
        Example("a date alone is too short for a phone", {"detect": ["phone"]},
                _send("on 2024-01-15", OUT), "ok"),
        Example("Luhn-valid card", {"detect": ["credit_card"]},
                _send("card 4111 1111 1111 1111", OUT), "violated"),
        Example("Luhn-invalid card", {"detect": ["credit_card"]},
                _send("card 4111-1111-1111-1112", OUT), "ok"),
        Example("15-digit card is a card and phone-shaped", {"detect": ["credit_card", "phone"],
                                                             "on_match": "redact"},
                _send("amex 378282246310005", OUT), "ok",
                [{"type": "redact", "entities": ["credit_card", "phone"]}]),
        Example("card followed by its expiry date", {"detect": ["credit_card"]},
                _send("4111 1111 1111 1111 12/25", OUT), "violated"),
        Example("card inside a longer word", {"detect": ["credit_card"]},
                _send("id4111111111111111", OUT), "ok"),
        Example("grouped IBAN", {"detect": ["iban"]},
                _send("IBAN GB82 WEST 1234 5698 7654 32", OUT), "violated"),
        Example("compact IBAN", {"detect": ["iban"]}, _send("DE89370400440532013000", OUT),
                "violated"),
        Example("IBAN with a wrong check digit", {"detect": ["iban"]},
                _send("DE88370400440532013000", OUT), "ok"),
        Example("IP address", {"detect": ["ip_address"]}, _send("host 10.0.0.255", OUT),
                "violated"),
        Example("octet over 255 is no IP address", {"detect": ["ip_address"]},
                _send("256.1.1.1", OUT), "ok"),
        Example("IBAN digits are no card", {"detect": ["credit_card"]},
                _send("GB82 WEST 1234 5698 7654 32", OUT), "ok"),
        Example("redact instead of violating",
                {"detect": ["email", "iban", "ssn"], "on_match": "redact"},
                _send("jane@example.org, SSN 123-45-6789", OUT), "ok",
                [{"type": "redact", "entities": ["email", "ssn"]}]),
        Example("no redaction for an internal recipient",
                {"detect": ["email"], "on_match": "redact"},
                _send("jane@example.org", "bob@acme.com"), "ok", []),
        Example("actions narrow the rule", {"detect": ["ssn"], "actions": ["send_message"]},
                _send("123-45-6789", OUT), "ok"),
    ],
)
