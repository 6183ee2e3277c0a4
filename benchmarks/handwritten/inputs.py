"""Inputs for support-bot: the four representative ones the benchmarks time, the pack
examples of packs/ (asked as support-bot) and a seeded stream of generated ones, for the
check that the hand-written policy decides exactly as the generated one."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import yaml

AGENT = "support-bot"
PACKS = Path(__file__).resolve().parents[2] / "packs"
SIGNATURE = "\n\n-- The Acme Team"

REPRESENTATIVE: dict[str, dict[str, Any]] = {
    "signed_allowed_email": {"agent": AGENT, "action": {
        "type": "send_email", "recipient": {"address": "lee@example.com"},
        "content": {"subject": "Your order", "tone": "friendly",
                    "text": "Hi Lee, your order shipped today and arrives on Monday." + SIGNATURE}},
        "usage": {"actions": {"send_email": {"day": 12}}}},
    "email_with_card_number": {"agent": AGENT, "action": {
        "type": "send_email", "recipient": {"address": "lee@example.com"},
        "content": {"subject": "Card", "tone": "friendly",
                    "text": "Hi Lee, we charged card 4111 1111 1111 1111 for it." + SIGNATURE}},
        "usage": {"actions": {"send_email": {"day": 12}}}},
    "spend_needing_approval": {"agent": AGENT, "action": {
        "type": "spend", "amount": 80, "currency": "USD"}, "usage": {"spend": {"day": 50}}},
    "data_export": {"agent": AGENT, "action": {
        "type": "export_data", "data": {"classes": ["customer"], "records": 25000,
                                        "destination": "s3://acme-exports/q3.csv",
                                        "region": "eu", "purpose": "analytics"}}},
}


def pack_examples() -> list[dict[str, Any]]:
    """Every example input of packs/, asked as support-bot."""
    found = []
    for path in sorted((PACKS / "packs").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            for example in (doc or {}).get("spec", {}).get("examples", []):
                found.append({**example["input"], "agent": AGENT})
    return found


TEXTS = [
    "Happy to help, your refund is on its way.", "Hey, gonna ship it tomorrow lol",
    "We hereby confirm the aforementioned order.",
    "Please find your invoice attached. Kind regards.",
    "Welcome to acme inc support, our chatbot is cheap.", "Hi {{first_name}}, thanks!",
    "Lorem ipsum dolor", "Call me about the election and firearms", "my password: hunter2",
    "card 4111 1111 1111 1111 and ssn 123-45-6789", "IBAN DE89 3704 0044 0532 0130 00",
    "What dosage should I take?", "Our fund returned 8%. This is not investment advice.",
    "Thanks so much :) see you!!", "x" * 501, "", "plain words only",
]


def _content(rng: random.Random) -> Any:
    if rng.random() < 0.08:
        return rng.choice([None, "text", 7, []])
    content: dict[str, Any] = {}
    if rng.random() < 0.9:
        content["text"] = rng.choice(TEXTS) + (SIGNATURE if rng.random() < 0.5 else "")
    if rng.random() < 0.4:
        content["tone"] = rng.choice(["friendly", "casual", "formal", "professional", 3, None])
    if rng.random() < 0.3:
        content["topics"] = rng.sample(["investing", "legal", "politics", "weapons"], 2)
    if rng.random() < 0.2:
        content["subject"] = rng.choice(TEXTS)
    return content


def _data(rng: random.Random) -> Any:
    if rng.random() < 0.1:
        return rng.choice([None, "x", []])
    data: dict[str, Any] = {}
    for key, values in {
        "classes": [["pii"], ["payment"], ["customer"], ["health", "pii"], "pii", [3]],
        "retention_days": [3, 90, 400, "30", None], "consent": [True, False, "yes"],
        "purpose": ["support", "marketing", 5], "records": [10, 20000, "many"],
        "destination": ["s3://acme-exports/a.csv", "s3://other/b", 9],
        "region": ["eu", "us", "apac", None],
    }.items():
        if rng.random() < 0.6:
            data[key] = rng.choice(values)
    return data


def generated(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """`count` varied inputs for support-bot: every action type, odd and missing fields."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        kind = rng.choice(["send_email", "send_message", "spend", "refund", "api_call",
                           "store_data", "export_data", "share_data", "other"])
        action: dict[str, Any] = {"type": kind}
        if kind in ("send_email", "send_message") or rng.random() < 0.1:
            action["content"] = _content(rng)
        if kind == "send_email" or rng.random() < 0.2:
            action["recipient"] = rng.choice([
                {"address": "lee@example.com"}, {"address": "ops@acme.com"},
                {"domain": "zendesk.com"}, {"domain": "Sub.Salesforce.com."}, {"address": "x"},
                {}])
        if kind in ("spend", "refund") or rng.random() < 0.1:
            action["amount"] = rng.choice([5, 80, 99.5, 150, 600, "10"])
            if rng.random() < 0.7:
                action["currency"] = rng.choice(["USD", "usd", "EUR", "GBP"])
        if kind == "refund" and rng.random() < 0.5:
            action["order_id"] = "A-1"
        if kind == "api_call":
            action["api"] = rng.choice(["crm", "billing"])
        if kind in ("store_data", "export_data", "share_data") or rng.random() < 0.1:
            action["data"] = _data(rng)
        if rng.random() < 0.15:
            files = [{"name": "a.pdf", "size_bytes": 1000}, {"name": "run.EXE"},
                     {"size_bytes": 20 * 2**20}, {"name": "noext"}]
            action["attachments"] = [rng.choice(files) for _ in range(rng.choice([1, 2, 6]))]
        doc: dict[str, Any] = {"agent": AGENT, "action": action}
        if rng.random() < 0.5:
            doc["usage"] = {"spend": {"day": rng.choice([0, 30, 95, "x"])},
                            "actions": {"send_email": {"day": rng.choice([0, 199, 250])}},
                            "apis": {"crm": {"minute": rng.choice([0, 59, 60])},
                                     "*": {"day": rng.choice([0, 4999])}}}
        out.append(doc)
    return out
