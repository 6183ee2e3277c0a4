"""Differential test: random repositories and inputs, decided by the real compiled policy
(OPA) and by tests/reference_spec.py, an independent reading of SPEC sections 3-5.

Run more seeds while hunting:  .venv/bin/python tests/test_differential.py 0 200
"""

from __future__ import annotations

import copy
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_spec as ref  # noqa: E402
from support import agent, decide, identity, pack  # noqa: E402

PACK_IDS = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
AGENT_IDS = ["bot-a", "bot-b", "bot-c", "bot-d", "bot-e"]
CATEGORIES = ["brand", "safety", "compliance", "operational", "data_governance", "escalation"]
ENF = ["block", "require_approval", "warn"]
PREC = ["identity_overrides", "most_restrictive", "agent_overrides"]
ACTIONS = [
    "send_email",
    "send_message",
    "spend",
    "refund",
    "api_call",
    "attach_file",
    "store_data",
    "export_data",
    "share_data",
    "custom_thing",
]
KEYS = ["k1", "k2", "tone", "attachment", "signature", "spending_limit:USD:day"]
CLASSES = ["pii", "financial", "health", "public"]
SIGS = ["-- Acme", "Best, Bot"]
DISCLAIMERS = ["Not financial advice", "Terms apply"]
# C++ and $100: terms whose edges are not word characters (docs/validation.md)
KEYWORDS = ["refund", "lawsuit", "crypto coin", "guarantee", "C++", "$100"]
WORDS = [
    "C++",
    "c++,",
    "C++11",
    "xC++",
    "$100",
    "($100)",
    "$1000",
    "US$100",
    "hello",
    "refund",
    "Refund",
    "REFUNDS",
    "refunds",
    "xrefund",
    "refund_x",
    "ärefund",
    "refundé",
    "lawsuit",
    "Lawsuit!",
    "crypto coin",
    "crypto  coin",
    "Crypto Coin",
    "crypto",
    "guarantee.",
    "guaranteed",
    "yo",
    "dude",
    "hereby",
    "Hereby",
    "cheers",
    "urgent",
    "URGENT",
    "123",
    "4567",
    "http://x.io",
    "Hi",
    "bye!",
    "Not financial advice",
    "not financial advice",
    "Terms apply",
    "-- Acme",
    "Best, Bot",
    "café",
    "naïve",
    "😀",
    "\n",
    "  ",
    "lawſuit",
    "REFUNDſ",
    "\t",
]
REGEXES = ["[0-9]{3}", "http://", "(?i)urgent", "^Hi", "!$", "cheers", "[A-Z]{4,}"]
BANDS = ["slangy", "stiff"]
MARKERS = {"slangy": ["\\byo\\b", "dude"], "stiff": ["(?i)hereby"]}
DEFAULT_BANDS = ["professional", "friendly", "formal", "casual"]


def maybe(rng: random.Random, p: float = 0.5) -> bool:
    return rng.random() < p


def gen_condition(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    r = rng.random()
    if depth < 2 and r < 0.25:
        kind = rng.choice(["all", "any", "not"])
        if kind == "not":
            return {"not": gen_condition(rng, depth + 1)}
        return {kind: [gen_condition(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    field, op, value = rng.choice(
        [
            ("action.amount", "gt", lambda: rng.choice([0, 50, 100, 100.5])),
            ("action.amount", "gte", lambda: rng.choice([50, 100])),
            ("action.amount", "lt", lambda: rng.choice([10, 100])),
            ("action.amount", "lte", lambda: rng.choice([10, 100])),
            ("action.amount", "equals", lambda: rng.choice([100, 100.0, "100"])),
            ("action.type", "equals", lambda: rng.choice(ACTIONS)),
            ("action.type", "not_equals", lambda: rng.choice(ACTIONS)),
            ("action.type", "in", lambda: rng.sample(ACTIONS, 3)),
            ("action.type", "not_in", lambda: rng.sample(ACTIONS, 3)),
            ("action.currency", "equals", lambda: rng.choice(["USD", "usd", "EUR"])),
            ("action.content.text", "contains", lambda: rng.choice(["refund", "yo", "Acme"])),
            ("action.content.text", "matches", lambda: rng.choice(REGEXES)),
            ("action.content.text", "starts_with", lambda: rng.choice(["Hi", "hello"])),
            ("action.content.text", "ends_with", lambda: rng.choice(["!", "Acme"])),
            ("action.content.topics", "contains", lambda: rng.choice(["finance", "legal"])),
            ("action.recipient.domain", "ends_with", lambda: rng.choice([".com", "acme.com"])),
            ("action.data.records", "gt", lambda: rng.choice([10, 1000])),
            ("action.data.consent", "equals", lambda: rng.choice([True, False])),
            ("action.api", "exists", lambda: rng.choice([True, False])),
            ("action.content", "exists", lambda: rng.choice([True, False])),
            ("custom.flag", "equals", lambda: rng.choice([True, 1, "yes"])),
            ("custom.flag", "exists", lambda: True),
            ("usage.spend.day", "gte", lambda: rng.choice([0, 100])),
        ]
    )
    return {"field": field, op: value()}


RULE_TYPES = [
    "condition",
    "spending_limit",
    "rate_limit",
    "api_limit",
    "attachment",
    "retention",
    "export",
    "third_party_sharing",
    "privacy",
    "prohibited_topics",
    "terminology",
    "formatting",
    "signature",
    "disclaimer",
    "tone",
]


def gen_rule(rng: random.Random, rid: str, types: list[str] = RULE_TYPES) -> dict[str, Any]:
    t = rng.choice(types)
    r: dict[str, Any] = {"id": rid, "type": t}
    if t == "condition":
        r["when"] = gen_condition(rng)
    elif t == "spending_limit":
        r["max"] = rng.choice([0, 50, 100, 100.5])
        if maybe(rng):
            r["currency"] = rng.choice(["USD", "usd", "EUR"])
        r["period"] = rng.choice(["transaction", "hour", "day", "month"])
        if maybe(rng, 0.3):
            r["actions"] = rng.sample(["spend", "refund", "api_call"], 2)
    elif t == "rate_limit":
        r.update(
            action=rng.choice(ACTIONS[:6]),
            max=rng.choice([0, 1, 5]),
            period=rng.choice(["minute", "hour", "day"]),
        )
    elif t == "api_limit":
        r.update(
            api=rng.choice(["crm", "search", "*"]),
            max=rng.choice([0, 1, 5]),
            period=rng.choice(["minute", "hour", "day"]),
        )
    elif t == "attachment":
        for k, v in [
            ("max_size_mb", lambda: rng.choice([1, 2])),
            ("max_count", lambda: rng.choice([1, 2])),
            ("blocked_extensions", lambda: rng.sample(["exe", "EXE", "zip", "js", ".exe"], 2)),
            ("allowed_extensions", lambda: rng.sample(["pdf", "PDF", "txt", "png"], 2)),
            (
                "allowed_content_types",
                lambda: rng.sample(["application/pdf", "text/plain", "image/png"], 2),
            ),
        ]:
            if maybe(rng, 0.4):
                r[k] = v()
        if len(r) == 2:
            r["max_count"] = 1
    elif t == "retention":
        if maybe(rng):
            r["max_days"] = rng.choice([30, 365])
        if maybe(rng):
            r["min_days"] = rng.choice([7, 30])
        if len(r) == 2:
            r["max_days"] = 90
        if maybe(rng):
            r["classes"] = rng.sample(CLASSES, rng.randint(1, 2))
    elif t == "export":
        for k, v in [
            (
                "allowed_destinations",
                lambda: rng.sample(["s3://acme-*", "gs://*/exports", "warehouse"], 2),
            ),
            ("allowed_regions", lambda: rng.sample(["eu", "us", "apac"], 2)),
            ("max_records", lambda: rng.choice([10, 1000])),
            ("classes", lambda: rng.sample(CLASSES, 2)),
        ]:
            if maybe(rng, 0.5):
                r[k] = v()
        if len(r) == 2:
            r["max_records"] = 100
    elif t == "third_party_sharing":
        if maybe(rng, 0.6):
            r["allowed_domains"] = rng.sample(["partner.com", "Vendor.io", "trusted.org"], 2)
        if maybe(rng, 0.6):
            r["blocked_classes"] = rng.sample(CLASSES, 2)
        if maybe(rng, 0.3):
            r["actions"] = rng.sample(["share_data", "send_email", "export_data"], 2)
    elif t == "privacy":
        if maybe(rng, 0.6):
            r["require_consent_for"] = rng.sample(CLASSES, 2)
        if maybe(rng, 0.6) or "require_consent_for" not in r:
            r["allowed_purposes"] = rng.sample(["support", "billing", "marketing"], 2)
    elif t == "prohibited_topics":
        if maybe(rng, 0.7):
            r["topics"] = {"finance": rng.sample(KEYWORDS, 2)}
        if maybe(rng, 0.4) or "topics" not in r:
            r["patterns"] = {"legal": [rng.choice(REGEXES)]}
    elif t == "terminology":
        if maybe(rng):
            r["replace"] = {rng.choice(KEYWORDS): "preferred"}
        if maybe(rng) or "replace" not in r:
            r["forbid"] = rng.sample(KEYWORDS, rng.randint(1, 2))
    elif t == "formatting":
        if maybe(rng):
            r["max_length"] = rng.choice([5, 10, 20])
        if maybe(rng):
            r["forbid"] = rng.sample(REGEXES, 1)
        if maybe(rng) or len(r) == 2:
            r["require"] = rng.sample(REGEXES, 1)
        if maybe(rng, 0.3):
            r["actions"] = rng.sample(ACTIONS[:2], 1)
    elif t == "signature":
        r["text"] = rng.choice(SIGS)
        if maybe(rng, 0.3):
            r["actions"] = rng.sample(ACTIONS[:2], rng.randint(1, 2))
    elif t == "disclaimer":
        r["text"] = rng.choice(DISCLAIMERS)
        if maybe(rng):
            r["when_topics"] = rng.sample(["finance", "legal", "health"], 2)
        if maybe(rng, 0.4):
            r["when"] = gen_condition(rng)
        if maybe(rng, 0.3):
            r["actions"] = rng.sample(ACTIONS[:2], 1)
    elif t == "tone":
        r["allowed"] = DEFAULT_BANDS + rng.sample(BANDS, rng.randint(0, 1))
        r["markers"] = copy.deepcopy(MARKERS)
    if maybe(rng, 0.3):
        r["key"] = rng.choice(KEYS)
    if maybe(rng, 0.15):
        r["enforcement"] = rng.choice(ENF)
    return r


def gen_escalation(
    rng: random.Random, rid: str, packs: list[str], rule_refs: list[str]
) -> dict[str, Any]:
    match: dict[str, Any] = {}
    if maybe(rng, 0.4):
        match["categories"] = rng.sample(CATEGORIES, 2)
    if maybe(rng, 0.4):
        match["packs"] = rng.sample(packs, min(2, len(packs)))
    if maybe(rng, 0.4):
        match["rules"] = [
            rng.choice([rng.choice(rule_refs), "r1"]) for _ in range(rng.randint(1, 2))
        ]
    if maybe(rng, 0.3):
        match["actions"] = rng.sample(ACTIONS, 3)
    r: dict[str, Any] = {
        "id": rid,
        "type": "escalation",
        "match": match,
        "approvers": [f"team-{rid}"],
        "timeout": rng.choice(["4h", "30m", "1d12h", "45s", 600]),
    }
    if maybe(rng, 0.7):
        r["fallback"] = rng.choice(["block", "allow"])
    if maybe(rng, 0.7):
        r["priority"] = rng.choice([0, 5, 10])
    return r


def gen_repo(rng: random.Random) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {"internalDomains": ["acme.com"]}
    if maybe(rng, 0.7):
        spec["precedence"] = rng.choice(PREC)
    if maybe(rng, 0.7):
        spec["allowAgentOverrides"] = rng.choice([True, True, False])
    if maybe(rng, 0.6):
        spec["unknownAgents"] = rng.choice(["block", "defaults"])
    if maybe(rng, 0.6):
        esc: dict[str, Any] = {}
        if maybe(rng, 0.8):
            esc["approvers"] = ["ops-oncall"]
        if maybe(rng, 0.7):
            esc["timeout"] = rng.choice(["2h", "90m", "1d"])
        if maybe(rng, 0.7):
            esc["fallback"] = rng.choice(["block", "allow"])
        spec["escalation"] = esc
    docs = [identity("acme", **spec)]
    pack_ids = sorted(rng.sample(PACK_IDS, rng.randint(3, 8)))
    agent_ids = sorted(rng.sample(AGENT_IDS, rng.randint(2, 5)))
    types = RULE_TYPES if maybe(rng, 0.3) else rng.sample(RULE_TYPES, rng.randint(2, 5))
    all_rules = {
        pid: [gen_rule(rng, f"r{i + 1}", types) for i in range(rng.randint(1, 4))]
        for pid in pack_ids
    }
    refs = [f"{pid}/{r['id']}" for pid, rs in all_rules.items() for r in rs]
    for pid in pack_ids:
        rules = all_rules[pid]
        if maybe(rng, 0.35):
            rules.append(gen_escalation(rng, f"e{len(rules) + 1}", pack_ids, refs))
        extra: dict[str, Any] = {}
        s = rng.random()
        if s < 0.3:
            extra["scope"] = "all"
        elif s < 0.6:
            extra["scope"] = "none"
        elif s < 0.85:
            extra["scope"] = {"agents": rng.sample(agent_ids, rng.randint(1, len(agent_ids)))}
        if maybe(rng, 0.4):
            extra["overridable"] = rng.choice([True, False])
        docs.append(pack(pid, rng.choice(ENF), rules, category=rng.choice(CATEGORIES), **extra))
    for aid in agent_ids:
        atts = []
        for pid in rng.sample(pack_ids, rng.randint(0, min(4, len(pack_ids)))):
            att: dict[str, Any] = {"pack": pid}
            if maybe(rng):
                att["enforcement"] = rng.choice(ENF)
            atts.append(att)
        extra = {}
        if maybe(rng, 0.6):
            extra["precedence"] = rng.choice(PREC)
        docs.append(agent(aid, atts, **extra))
    return docs


def gen_text(rng: random.Random) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))
    if maybe(rng, 0.3):
        text += rng.choice(
            ["\n" + s for s in SIGS]
            + SIGS
            + [s + "  " for s in SIGS]
            + [s + "\n" for s in SIGS]
            + [s + "\t" for s in SIGS]
            + [s + "\r\n" for s in SIGS]
            + [s + " \n " for s in SIGS]
        )
    return text


def window(rng: random.Random, keys: list[str]) -> dict[str, Any]:
    return {k: "3" if maybe(rng, 0.01) else rng.choice([0, 1, 4, 5, 60, 99.5])
            for k in keys if maybe(rng, 0.6)}


def gen_input(rng: random.Random, agent_ids: list[str]) -> dict[str, Any]:
    inp: dict[str, Any] = {
        "agent": rng.choice(agent_ids + ["ghost"]) if maybe(rng, 0.9) else "ghost"
    }
    action: dict[str, Any] = {"type": rng.choice(ACTIONS)}
    if maybe(rng, 0.6):
        content: dict[str, Any] = {}
        if maybe(rng, 0.85):
            content["text"] = gen_text(rng) if maybe(rng, 0.99) else 42
        if maybe(rng, 0.3):
            content["subject"] = "Re: hi"
        if maybe(rng, 0.25):
            content["tone"] = rng.choice(DEFAULT_BANDS + BANDS + ["angry", "Casual", "SLANGY"])
        if maybe(rng, 0.35):
            content["topics"] = rng.sample(
                ["finance", "legal", "health", "weather"], rng.randint(0, 2)
            )
        action["content"] = content
    # Money actions carry an amount (the input contract refuses them without one).
    if maybe(rng, 0.97 if action["type"] in ("spend", "refund") else 0.5):
        action["amount"] = rng.choice([0, 20, 50, 60, 100, 100.5, 101, 500])
    if maybe(rng, 0.4):
        action["currency"] = rng.choice(["USD", "usd", "EUR", "Usd"])
    if maybe(rng, 0.35):
        action["recipient"] = rng.choice(
            [
                {"address": "bob@acme.com"},
                {"address": "eve@evil.com"},
                {"domain": "mail.ACME.com"},
                {"domain": "partner.com"},
                {"domain": "sub.vendor.io"},
                {"domain": "notacme.com"},
                {"address": "x@Trusted.org", "domain": "trusted.ORG"},
                {"domain": "acme.com.evil.com"},
                {},
            ]
        )
    if maybe(rng, 0.3):
        action["api"] = rng.choice(["crm", "search", "other"])
    if maybe(rng, 0.3):
        n = rng.randint(0, 3)
        action["attachments"] = [
            {
                "name": rng.choice(
                    ["a.pdf", "b.PDF", "c.tar.exe", "d.exe.pdf", "README", "e.txt", "f.png", "g.JS",
                     "h.exe.", "i.PDF . ", "README."]
                ),
                "size_bytes": rng.choice([10, 1048576, 1048577, 2097152, 2097153]),
                "content_type": rng.choice(
                    ["application/pdf", "text/plain", "image/png", "application/x-msdownload"]
                ),
            }
            for _ in range(n)
        ]
    if maybe(rng, 0.5):
        data: dict[str, Any] = {}
        if maybe(rng, 0.7):
            data["classes"] = rng.sample(CLASSES, rng.randint(0, 2))
        if maybe(rng, 0.5):
            data["records"] = rng.choice([5, 10, 11, 5000])
        if maybe(rng, 0.5):
            data["retention_days"] = rng.choice([1, 7, 30, 31, 90, 365, 400])
        if maybe(rng, 0.5):
            data["destination"] = rng.choice(
                [
                    "s3://acme-logs",
                    "s3://other",
                    "gs://b/exports",
                    "gs://b/c/exports",
                    "warehouse",
                    "Warehouse",
                ]
            )
        if maybe(rng, 0.5):
            data["region"] = rng.choice(["eu", "us", "apac", "EU"])
        if maybe(rng, 0.5):
            data["consent"] = rng.choice([True, False])
        if maybe(rng, 0.5):
            data["purpose"] = rng.choice(["support", "billing", "marketing", "resale"])
        action["data"] = data
    if maybe(rng, 0.1):
        action["custom"] = {"flag": True}
    if maybe(rng, 0.1):
        inp["custom"] = {"flag": rng.choice([True, 1, "yes"])}
    if maybe(rng, 0.02):  # wrong-typed values, refused by the input contract
        field = rng.choice(["amount", "tone", "consent", "domain"])
        if field == "amount":
            action["amount"] = "100"
        elif field == "tone":
            action.setdefault("content", {})["tone"] = 5
        elif field == "consent":
            action["data"] = {"consent": "true"}
        else:
            action["recipient"] = {"address": "x@Trusted.org", "domain": "evil.com"}
    if maybe(rng, 0.02):  # wrong-typed structure
        key = rng.choice(["content", "attachments", "data", "recipient", "topics"])
        if key == "topics":
            action["content"] = {"text": gen_text(rng), "topics": "finance"}
        else:
            action[key] = rng.choice(["x", 3, [], None])
    if maybe(rng, 0.05) and isinstance(action.get("attachments"), list):
        action["attachments"].append(
            rng.choice(
                [
                    {"name": "x.exe"},
                    {"size_bytes": 5},
                    {"name": ".exe", "size_bytes": 1},
                    {"name": "a.", "size_bytes": 1},
                    "a.exe",
                ]
            )
        )
    inp["action"] = action
    if maybe(rng, 0.6):
        usage: dict[str, Any] = {}
        if maybe(rng):
            usage["spend"] = window(rng, ["hour", "day", "month"])
        if maybe(rng):
            usage["actions"] = {
                a: window(rng, ["minute", "hour", "day"]) for a in rng.sample(ACTIONS[:6], 2)
            }
        if maybe(rng):
            usage["apis"] = {
                a: window(rng, ["minute", "hour", "day"])
                for a in rng.sample(["crm", "search", "*"], 2)
            }
        inp["usage"] = usage
    return inp


# ---------------------------------------------------------------- comparison


def normalise(d: dict[str, Any]) -> dict[str, Any]:
    violations = sorted(
        (
            v["pack"],
            v["rule"],
            v.get("type"),
            v.get("enforcement"),
            v.get("category") if v["pack"] != "_system" else None,
            v.get("level") if v["pack"] != "_system" else None,
        )
        for v in d.get("violations") or []
    )
    order = [(v["pack"], v["rule"]) for v in d.get("violations") or []]
    suppressed = sorted(
        (s["pack"], s["rule"], s["by"], s["reason"]) for s in d.get("suppressed") or []
    )
    approval = d.get("approval")
    if approval is not None:
        approval = {
            k: approval.get(k) for k in ("approvers", "timeout_seconds", "fallback", "route")
        }
    obligations = sorted(
        json.dumps(o, sort_keys=True)
        for o in d.get("obligations") or []
        if o.get("type") == "append_signature"
    )
    return {
        "decision": d["decision"],
        "allow": d["allow"],
        "violations": violations,
        "order": order,
        "suppressed": suppressed,
        "approval": approval,
        "obligations": obligations,
    }


def run_seed(seed: int, tmp: Path, n_inputs: int = 300) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = gen_repo(rng)
    agent_ids = [d["metadata"]["id"] for d in docs if d["kind"] == "Agent"]
    inputs = [gen_input(rng, agent_ids) for _ in range(n_inputs)]
    real = decide(tmp / f"repo-{seed}", docs, inputs)
    indexed = ref.index(docs)
    diffs = []
    for inp, got in zip(inputs, real, strict=True):
        want = normalise(ref.decide(indexed, inp))
        have = normalise(got)
        if want != have:
            diffs.append(
                {
                    "seed": seed,
                    "input": inp,
                    "ref": want,
                    "real": have,
                    "fields": [k for k in want if want[k] != have[k]],
                }
            )
    return diffs


SEEDS = list(range(60))


# The generator compares action.amount with the string "100" on purpose (it never equals
# 100); validation rightly warns about that (docs/validation.md), which is not news here.
@pytest.mark.filterwarnings("ignore::policypacks.errors.PolicyWarning")
@pytest.mark.parametrize("seed", SEEDS)
def test_differential(seed: int, tmp_path: Path) -> None:
    diffs = run_seed(seed, tmp_path)
    assert not diffs, json.dumps(diffs[:3], indent=1, default=str)


# ---------------------------------------------------------------- found disagreements
# Each case is minimal and asserts what SPEC's text says; the differential audit found
# the implementation answering otherwise (DIFF-1 .. DIFF-3), now fixed.


def _one(
    tmp: Path, rule: dict[str, Any], action: dict[str, Any], usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    docs = [identity("acme"), pack("p", "block", [rule], scope="all"), agent("a")]
    inp: dict[str, Any] = {"agent": "a", "action": action}
    if usage is not None:
        inp["usage"] = usage
    got = decide(tmp, docs, [inp])[0]
    want = ref.decide(ref.index(docs), inp)
    assert want["decision"] == "block"  # the reference reads SPEC that way
    return got


def test_spend_cap_with_wrong_typed_usage_still_caps_the_amount(tmp_path: Path) -> None:
    got = _one(
        tmp_path,
        {"id": "r", "type": "spending_limit", "max": 100, "period": "day"},
        {"type": "spend", "amount": 500},
        {"spend": {"day": "0"}},
    )
    assert got["decision"] == "block"


def test_export_region_compares_exactly(tmp_path: Path) -> None:
    got = _one(
        tmp_path,
        {"id": "r", "type": "export", "allowed_regions": ["eu"]},
        {"type": "export_data", "data": {"region": "EU"}},
    )
    assert got["decision"] == "block"


def test_tone_label_compares_exactly(tmp_path: Path) -> None:
    got = _one(
        tmp_path,
        {"id": "r", "type": "tone", "allowed": ["casual"]},
        {"type": "send_message", "content": {"tone": "Casual"}},
    )
    assert got["decision"] == "block"


if __name__ == "__main__":
    import tempfile

    lo, hi = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as t:
        for s in range(lo, hi):
            try:
                ds = run_seed(s, Path(t))
            except Exception as e:  # noqa: BLE001
                print(f"seed {s}: ERROR {type(e).__name__}: {str(e)[:300]}")
                continue
            kinds: dict[str, int] = {}
            for d in ds:
                kinds[",".join(d["fields"])] = kinds.get(",".join(d["fields"]), 0) + 1
            print(f"seed {s}: {len(ds)} diffs {kinds}", flush=True)
