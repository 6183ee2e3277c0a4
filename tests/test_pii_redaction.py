"""Obligations applied by the agent: ``policypacks.obligations.apply`` on its own, and a
round trip through the client and a real OPA: after applying, the same decision on the
result finds no PII."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import agent, identity, pack, write_repo

from policypacks import PolicyBlocked, PolicyClient, obligations
from policypacks.bundle import write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.pipeline import compile_path

ALL = ["email", "phone", "ssn", "credit_card", "iban", "ip_address"]


def redact(*findings: tuple[str, str, int, int], mask: str | None = None) -> dict[str, Any]:
    found = [{"entity": e, "field": f, "start": s, "end": t} for e, f, s, t in findings]
    return {"type": "redact", "entities": sorted({f[0] for f in findings}), "findings": found,
            **({"mask": mask} if mask else {})}


def send(text: str, subject: str | None = None) -> dict[str, Any]:
    content = {"text": text} | ({"subject": subject} if subject is not None else {})
    return {"type": "send_email", "content": content, "recipient": {"address": "x@gmail.com"}}


@pytest.mark.parametrize(("action", "obligation_list", "text", "subject"), [
    (send("mail jane@example.org now"), [redact(("email", "content.text", 5, 21))],
     "mail [EMAIL] now", None),
    (send("a@b.io b@c.io"),
     [redact(("email", "content.text", 0, 6), ("email", "content.text", 7, 13))],
     "[EMAIL] [EMAIL]", None),
    (send("café ☕ 078-05-1123!"), [redact(("ssn", "content.text", 7, 18), mask="***")],
     "café ☕ ***!", None),
    (send("hi", "from a@b.io"), [redact(("email", "content.subject", 5, 11))], "hi",
     "from [EMAIL]"),
    (send("Hello"), [{"type": "append_signature", "text": "-- Acme"}], "Hello\n-- Acme", None),
    (send("Hello\n"), [{"type": "append_signature", "text": "-- Acme"}], "Hello\n-- Acme", None),
    (send("Hello\n-- Acme "), [{"type": "append_signature", "text": "-- Acme"}],
     "Hello\n-- Acme ", None),
    (send("a@b.io"), [redact(("email", "content.text", 0, 6)),
                      {"type": "append_signature", "text": "-- Acme"}], "[EMAIL]\n-- Acme", None),
    (send("a@b.io"), [redact(("email", "content.text", 0, 6)),
                      redact(("email", "content.text", 0, 6), mask="#")], "[EMAIL]", None),
])
def test_apply(action: dict[str, Any], obligation_list: list[dict[str, Any]], text: str,
               subject: str | None) -> None:
    before = repr(action)
    result = obligations.apply(action, {"obligations": obligation_list})
    assert result["content"].get("text") == text
    assert result["content"].get("subject") == subject
    assert repr(action) == before  # the input is not changed


@pytest.mark.parametrize(("action", "obligation_list", "error"), [
    (send("short"), [redact(("email", "content.text", 0, 60))], "does not fit"),
    (send("short"), [redact(("email", "content.body", 0, 2))], "names no field"),
    (send("short"), [{"type": "notify_dpo"}], "unknown obligation"),
    (send("abcdef"), [redact(("email", "content.text", 0, 4), ("phone", "content.text", 2, 6))],
     "overlapping"),
    ({"type": "send_email"}, [redact(("email", "content.text", 0, 4))], "without content"),
])
def test_apply_refuses_what_it_cannot_do(action: dict[str, Any],
                                         obligation_list: list[dict[str, Any]],
                                         error: str) -> None:
    with pytest.raises(obligations.ObligationError, match=error):
        obligations.apply(action, {"obligations": obligation_list})


DOCS = [
    identity("acme"),
    pack("privacy", "block", [
        {"id": "redact-pii", "type": "pii", "detect": ALL, "on_match": "redact"},
        {"id": "masked-cards", "type": "pii", "detect": ["credit_card"], "on_match": "redact",
         "mask": "XXXX"},
        {"id": "sign", "type": "signature", "text": "-- Acme support", "enforcement": "warn"},
    ]),
    agent("bot", ["privacy"]),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyClient]:
    tmp = tmp_path_factory.mktemp("opa")
    bundle = tmp / "bundle.tar.gz"
    write_bundle(compile_path(write_repo(tmp / "repo", DOCS), "rev-1")[1], bundle)
    with LocalOpa(bundles=[bundle]) as server, \
            PolicyClient(server.url, "acme", "bot", store=None, timeout=10) as c:
        yield c


@pytest.mark.parametrize(("text", "subject"), [
    ("Mail jane@example.org or call 555-123-4567 555-987-6543", None),
    ("naïve ☕ IBAN ES91 2100 0418 4502 0005 1332 EUR, card 4111 1111 1111 1111",
     "re: 078-05-1123"),
    ("from 2001:db8::1 and 10.0.0.1, +44 20 7946 0958", "hello"),
])
def test_round_trip_through_the_client(client: PolicyClient, text: str,
                                       subject: str | None, tmp_path: Path) -> None:
    action = send(text, subject)
    decision = client.check(action)
    assert any(o["type"] == "redact" for o in decision.obligations)
    sent = client.enforce(action, apply_obligations=True)
    assert sent["content"]["text"].endswith("\n-- Acme support")
    again = client.check(sent)
    assert [o for o in again.obligations if o["type"] == "redact"] == []
    assert again.violations == []
    assert "jane@example.org" not in repr(sent) and "4111" not in repr(sent)


def test_the_rules_mask_is_used(client: PolicyClient) -> None:
    sent = client.enforce(send("card 4111 1111 1111 1111"), apply_obligations=True)
    assert sent["content"]["text"].startswith("card XXXX")


def test_a_blocked_action_is_not_applied(tmp_path: Path) -> None:
    docs = [identity("acme"), pack("p", "block", [{"id": "r", "type": "pii",
                                                   "detect": ["email"]}]), agent("bot", ["p"])]
    bundle = tmp_path / "b.tar.gz"
    write_bundle(compile_path(write_repo(tmp_path / "repo", docs), "r")[1], bundle)
    with LocalOpa(bundles=[bundle]) as server, \
            PolicyClient(server.url, "acme", "bot", store=None, timeout=10) as c:
        with pytest.raises(PolicyBlocked) as raised:
            c.enforce(send("jane@example.org"), apply_obligations=True)
    [violation] = raised.value.decision.violations
    assert violation["findings"] == [{"entity": "email", "field": "content.text",
                                      "start": 0, "end": 16}]
