"""Any input gets a decision: random, badly typed inputs against the example repository
(all 17 rule types) never make OPA fail or leave the decision undefined.

An input field of the wrong type must not turn into an evaluation error (a complete rule
with two values, a builtin error under the server's default) or a missing decision: the
agent would then get no answer at all.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from policypacks.opa import evaluate
from policypacks.pipeline import compile_path

ROOT = Path(__file__).resolve().parent.parent
COMPILED = compile_path(ROOT / "packs", "fuzz")[1]
AGENTS = sorted(COMPILED.config["agents"])
ACTION_TYPES = ["send_email", "send_message", "spend", "refund", "api_call", "attach_file",
                "store_data", "export_data", "share_data", "other"]

WRONG = [None, True, 0, -1, 2.5, "", "x", [], [1, "a"], {}, {"a": {"b": None}}]
CHOICES = {
    "text": ["Hello -- The Acme Team", "hey lol", "card 4111 1111 1111 1111", "",
             "mail bob@evil.example", "call +1 (555) 123-4567", "lawsuit", "a" * 600,
             "GB82 WEST 1234 5698 7654 32", "10.0.0.1"],
    "tone": ["friendly", "casual", "formal", "professional", "Casual"],
    "topics": [["legal"], ["medical", "finance"], []],
    "address": ["a@acme.com", "b@partner.example", "c@", "nobody"],
    "domain": ["acme.com", "eu.acme.com", "evil.example", "ACME.COM."],
    "name": ["a.pdf", "b.EXE", "c", "d.tar.gz", ".hidden"],
    "size_bytes": [0, 10 * 1048576, 10 * 1048576 + 1, 10**9],
    "content_type": ["application/pdf", "image/png", "TEXT/PLAIN"],
    "classes": [["pii"], ["health", "public"], [], ["PII"]],
    "records": [0, 10, 10**6], "retention_days": [0, 30, 400, 4000],
    "destination": ["s3://acme-exports/x", "ftp://x"], "region": ["eu", "US", "cn"],
    "consent": [True, False], "purpose": ["support", "marketing"],
    "amount": [0, 1, 99.5, 100, 501, -5, 10**6], "currency": ["USD", "usd", "EUR"],
    "api": ["crm", "billing"], "type": ACTION_TYPES,
    "count": [0, 1, 59, 60, 199, 200, 5000], "window": ["minute", "hour", "day", "month"],
}


def pick(rng: random.Random, key: str) -> Any:
    """Mostly a plausible value, sometimes one of the wrong type."""
    return rng.choice(WRONG) if rng.random() < 0.15 else rng.choice(CHOICES[key])


def some_of(rng: random.Random, keys: list[str]) -> dict[str, Any]:
    return {k: pick(rng, k) for k in keys if rng.random() < 0.5}


def random_input(rng: random.Random) -> dict[str, Any]:
    action: dict[str, Any] = {"type": pick(rng, "type")}
    if rng.random() < 0.6:
        action["content"] = some_of(rng, ["text", "tone", "topics"])
        if rng.random() < 0.5:
            action["content"]["subject"] = pick(rng, "text")
    if rng.random() < 0.5:
        action["recipient"] = some_of(rng, ["address", "domain"])
    if rng.random() < 0.3:
        action["attachments"] = [some_of(rng, ["name", "size_bytes", "content_type"])
                                 for _ in range(rng.randrange(0, 7))]
    if rng.random() < 0.4:
        action["data"] = some_of(rng, ["classes", "records", "retention_days",
                                       "destination", "region", "consent", "purpose"])
    action.update(some_of(rng, ["amount", "currency", "api"]))
    usage = {
        "spend": {w: pick(rng, "count") for w in ("hour", "day", "month")
                  if rng.random() < 0.5},
        "actions": {rng.choice(ACTION_TYPES): {rng.choice(CHOICES["window"]): pick(rng, "count")}},
        "apis": {rng.choice(["crm", "*"]): {rng.choice(CHOICES["window"]): pick(rng, "count")}},
    }
    document: dict[str, Any] = {
        "agent": rng.choice(AGENTS) if rng.random() < 0.85 else pick(rng, "api"),
        "action": action if rng.random() < 0.95 else rng.choice(WRONG),
    }
    if rng.random() < 0.8:
        document["usage"] = usage if rng.random() < 0.9 else rng.choice(WRONG)
    return document


@pytest.mark.parametrize("seed", range(3))
def test_every_input_gets_a_well_formed_decision(seed: int) -> None:
    rng = random.Random(seed)
    batch = [random_input(rng) for _ in range(400)]
    # evaluate.decisions raises when OPA fails or any decision is undefined.
    for document, answer in zip(batch, evaluate.decisions(COMPILED, batch), strict=True):
        assert answer["decision"] in {"allow", "warn", "require_approval", "block"}, document
        assert answer["allow"] == (answer["decision"] in {"allow", "warn"})
        assert (answer["approval"] is None) == (answer["decision"] != "require_approval")
        levels = [v["enforcement"] for v in answer["violations"]]
        assert (answer["decision"] == "allow") == (not levels), document
