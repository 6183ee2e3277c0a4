"""SPEC section 5: the decision document, approval routing, the effective view and the
conflicts view, decided by the real OPA. Expected values are worked out from SPEC."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import agent, compile_docs, decide, identity, pack, write_repo

from policypacks.bundle import write_tree
from policypacks.deploy.publish import read_bundle
from policypacks.opa import evaluate
from policypacks.opa.binary import eval_json

BLOCK, RA, WARN, ALLOW = "block", "require_approval", "warn", "allow"
DECISION_KEYS = {"decision", "allow", "identity", "agent", "violations", "suppressed",
                 "approval", "obligations", "revision",
                 # extensions of SPEC section 5 (docs/shadow.md, docs/waivers.md,
                 # docs/replay.md)
                 "shadow", "waived", "digest"}
VIOLATION_KEYS = {"pack", "rule", "type", "category", "enforcement", "level", "message"}
POLICYPACKS = Path(sys.executable).with_name("policypacks")


def flagged(rule_id: str, flag: str, **extra: Any) -> dict[str, Any]:
    """A condition rule violated when `flag` is in action.flags."""
    return {"id": rule_id, "type": "condition",
            "when": {"field": "action.flags", "contains": flag}, **extra}


def route(rule_id: str = "route", **params: Any) -> dict[str, Any]:
    return {"id": rule_id, "type": "escalation", **params}


def escalation_pack(pack_id: str, *rules: dict[str, Any], scope: Any = "none") -> dict[str, Any]:
    return pack(pack_id, WARN, list(rules), category="escalation", scope=scope)


def check(failures: list[str]) -> None:
    assert not failures, f"{len(failures)} row(s) disagree with SPEC:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------------------
# The shape of the decision
# ---------------------------------------------------------------------------------------

SHAPE_DOCS = [
    identity("acme", escalation={"approvers": ["ops-oncall"], "timeout": "2h",
                                 "fallback": "allow"}),
    pack("caps", RA, [{"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}],
         category="operational"),
    pack("guard", BLOCK, [flagged("stop", "stop")], category="safety"),
    pack("voice", WARN, [flagged("casual", "casual", message='Keep it "formal", please')],
         category="brand"),
    agent("sales-bot"),
]

# flags        amount -> decision  allow  approval?  violations "pack/rule"
SHAPES = [
    ("",           10,  ALLOW, True,  False, ""),
    ("casual",     10,  WARN,  True,  False, "voice/casual"),
    ("",           150, RA,    False, True,  "caps/daily"),
    ("casual",     150, RA,    False, True,  "caps/daily voice/casual"),
    ("stop",       10,  BLOCK, False, False, "guard/stop"),
    ("stop",       150, BLOCK, False, False, "guard/stop caps/daily"),  # no approval on block
    ("stop casual", 10, BLOCK, False, False, "guard/stop voice/casual"),
]


def test_decision_document_shape(tmp_path: Path) -> None:
    inputs = [{"agent": "sales-bot", "action": {"type": "spend", "amount": amount,
                                                  "currency": "USD", "flags": flags.split()},
               "usage": {"spend": {"day": 0}}}
              for flags, amount, *_ in SHAPES]
    results = decide(tmp_path, SHAPE_DOCS, inputs)
    failures = []
    for (flags, amount, decision, allow, approval, want), result in zip(SHAPES, results,
                                                                         strict=True):
        got = " ".join(f"{v['pack']}/{v['rule']}" for v in result["violations"])
        row = f"[{flags}] {amount}"
        if set(result) != DECISION_KEYS:
            failures.append(f"{row}: keys {sorted(result)}")
        if (result["decision"], result["allow"], got) != (decision, allow, want):
            failures.append(f"{row}: expected {decision} allow={allow} [{want}], got "
                            f"{result['decision']} allow={result['allow']} [{got}]")
        if (result["approval"] is not None) != approval:
            failures.append(f"{row}: approval {result['approval']}")
        if any(set(v) != VIOLATION_KEYS for v in result["violations"]):
            failures.append(f"{row}: violation keys {result['violations']}")
        if (result["identity"], result["agent"], result["suppressed"], result["obligations"],
                result["revision"]) != ("acme", "sales-bot", [], [], "test"):
            failures.append(f"{row}: {result}")
    check(failures)


def test_violation_fields_and_messages(tmp_path: Path) -> None:
    [result] = decide(tmp_path, SHAPE_DOCS, [
        {"agent": "sales-bot", "action": {"type": "spend", "amount": 30, "flags": ["casual"]},
         "usage": {"spend": {"day": 100}}}])
    assert result["violations"] == [
        {"pack": "caps", "rule": "daily", "type": "spending_limit", "category": "operational",
         "enforcement": RA, "level": "identity",
         "message": "daily spend would reach 130 USD, over the 100 USD cap"},
        {"pack": "voice", "rule": "casual", "type": "condition", "category": "brand",
         "enforcement": WARN, "level": "identity", "message": 'Keep it "formal", please'},
    ]


SORT_DOCS = [
    identity("acme"),
    pack("b-pack", BLOCK, [flagged("z", "x"), flagged("a", "x")]),
    pack("a-pack", WARN, [flagged("m", "x"), flagged("x", "x", enforcement=BLOCK)]),
    pack("c-pack", RA, [flagged("q", "x")]),
    pack("a-block", BLOCK, [flagged("k", "x")], scope="none"),
    pack("d-warn", WARN, [flagged("b", "x")], scope={"agents": ["bot"]}),
    # several findings of one rule are one violation, messages joined
    pack("topics", WARN, [{"id": "t", "type": "prohibited_topics",
                           "topics": {"zeta": ["zed"], "alpha": ["alf"]}}]),
    agent("bot", [{"pack": "a-block"}]),
]


def test_violations_sorted_strictest_first_then_pack_then_rule(tmp_path: Path) -> None:
    [result] = decide(tmp_path, SORT_DOCS, [
        {"agent": "bot", "action": {"type": "send_message", "flags": ["x"],
                                    "content": {"text": "zed and alf"}}}])
    order = [(v["enforcement"], f"{v['pack']}/{v['rule']}") for v in result["violations"]]
    assert order == [
        (BLOCK, "a-block/k"), (BLOCK, "a-pack/x"), (BLOCK, "b-pack/a"), (BLOCK, "b-pack/z"),
        (RA, "c-pack/q"),
        (WARN, "a-pack/m"), (WARN, "d-warn/b"), (WARN, "topics/t"),
    ]
    [topics] = [v for v in result["violations"] if v["pack"] == "topics"]
    assert "alpha" in topics["message"] and "zeta" in topics["message"]
    assert result["decision"] == BLOCK and result["approval"] is None


# ---------------------------------------------------------------------------------------
# Approval routing (SPEC 4, escalation; SPEC 5)
# ---------------------------------------------------------------------------------------

BUSINESS_PACKS = [
    pack("caps", RA, [{"id": "daily", "type": "spending_limit", "max": 100, "period": "day",
                       "actions": ["spend", "refund"]}], category="operational", scope="none"),
    pack("legal", RA, [flagged("review", "legal")], category="compliance", scope="none"),
    pack("brand", WARN, [flagged("voice", "brand")], category="brand", scope="none"),
    pack("hard", BLOCK, [flagged("stop", "stop"), flagged("review", "hard-review")],
         category="safety", scope="none"),
]
BUSINESS = ["caps", "legal", "brand", "hard"]

ROUTE_PACKS = [
    escalation_pack("e-cat-op", route(match={"categories": ["operational"]},
                                      approvers=["finance"], timeout="4h", fallback="allow")),
    escalation_pack("e-cat-comp", route(match={"categories": ["compliance"]},
                                        approvers=["legal"], timeout="90m")),
    escalation_pack("e-aa", route(match={"categories": ["operational"]}, approvers=["aa"])),
    escalation_pack("e-pack", route(match={"packs": ["legal"]}, approvers=["by-pack"])),
    escalation_pack("e-rule-full", route(match={"rules": ["legal/review"]}, approvers=["full"])),
    escalation_pack("e-rule-bare", route(match={"rules": ["review"]}, approvers=["bare"])),
    escalation_pack("e-rule-other", route(match={"rules": ["hard/review"]}, approvers=["x"])),
    escalation_pack("e-action", route(match={"actions": ["refund"]}, approvers=["refunds"])),
    escalation_pack("e-prio", route(match={}, approvers=["top"], priority=5)),
    escalation_pack("e-neg", route(match={}, approvers=["low"], priority=-1)),
    escalation_pack("e-both-hit", route(match={"categories": ["operational"],
                                               "rules": ["caps/daily"]}, approvers=["hit"])),
    escalation_pack("e-both-miss", route(match={"categories": ["operational"],
                                                "rules": ["legal/review"]}, approvers=["x"])),
    escalation_pack("e-cat-pack", route(match={"categories": ["operational"],
                                               "packs": ["legal"]}, approvers=["x"])),
    escalation_pack("e-brand", route(match={"categories": ["brand"]}, approvers=["x"])),
    escalation_pack("e-order", route("z-first", approvers=["first"]),
                    route("a-second", approvers=["second"])),
    escalation_pack("e-in-pack", route("low", approvers=["low"], priority=1),
                    route("high", approvers=["high"], priority=2)),
    escalation_pack("e-scoped", route(approvers=["scoped"]), scope={"agents": ["scoped"]}),
    escalation_pack("e-unattached", route(approvers=["nobody"], priority=100)),
]

# Identity default route: approvers [ops-oncall], 2h, fallback allow.
IDENTITY_ROUTE = ("identity", ["ops-oncall"], 7200, "allow")

# agent        escalation packs attached       flags     action, amount -> route, approvers,
#                                                                   timeout_seconds, fallback
ROUTES = [
    ("none",       "",                         "",           "spend", 150, IDENTITY_ROUTE),
    ("cat-op",     "e-cat-op",                 "",           "spend", 150,
     ("e-cat-op/route", ["finance"], 14400, "allow")),
    ("cat-op",     "e-cat-op",                 "legal",      "spend", 10, IDENTITY_ROUTE),
    ("cat-comp",   "e-cat-op e-cat-comp",      "legal",      "spend", 10,
     ("e-cat-comp/route", ["legal"], 5400, "block")),
    # both match at priority 0: the pack id decides
    ("cat-comp",   "e-cat-op e-cat-comp",      "legal",      "spend", 150,
     ("e-cat-comp/route", ["legal"], 5400, "block")),
    ("tie",        "e-cat-op e-aa",            "",           "spend", 150,
     ("e-aa/route", ["aa"], 86400, "block")),
    ("by-pack",    "e-pack",                   "legal",      "spend", 10,
     ("e-pack/route", ["by-pack"], 86400, "block")),
    ("by-pack",    "e-pack",                   "",           "spend", 150, IDENTITY_ROUTE),
    ("rule-full",  "e-rule-full",              "legal",      "spend", 10,
     ("e-rule-full/route", ["full"], 86400, "block")),
    ("rule-full",  "e-rule-full",              "",           "spend", 150, IDENTITY_ROUTE),
    ("rule-bare",  "e-rule-bare",              "legal",      "spend", 10,
     ("e-rule-bare/route", ["bare"], 86400, "block")),
    ("rule-other", "e-rule-other",             "legal",      "spend", 150, IDENTITY_ROUTE),
    ("action",     "e-action",                 "",           "spend", 150, IDENTITY_ROUTE),
    ("action",     "e-action",                 "",           "refund", 150,
     ("e-action/route", ["refunds"], 86400, "block")),
    ("prio",       "e-cat-op e-prio e-aa",     "",           "spend", 150,
     ("e-prio/route", ["top"], 86400, "block")),
    ("neg",        "e-neg",                    "",           "spend", 150,
     ("e-neg/route", ["low"], 86400, "block")),
    ("neg-op",     "e-neg e-cat-op",           "",           "spend", 150,
     ("e-cat-op/route", ["finance"], 14400, "allow")),
    ("both-hit",   "e-both-hit",               "",           "spend", 150,
     ("e-both-hit/route", ["hit"], 86400, "block")),
    # categories and rules must hold for ONE violated rule
    ("both-miss",  "e-both-miss",              "legal",      "spend", 150, IDENTITY_ROUTE),
    ("cat-pack",   "e-cat-pack",               "legal",      "spend", 150, IDENTITY_ROUTE),
    # only require_approval violations count: brand/voice is a warning
    ("brand",      "e-brand",                  "brand",      "spend", 150, IDENTITY_ROUTE),
    ("order",      "e-order",                  "",           "spend", 150,
     ("e-order/z-first", ["first"], 86400, "block")),
    ("in-pack",    "e-in-pack",                "",           "spend", 150,
     ("e-in-pack/high", ["high"], 86400, "block")),
    # identity-level escalation pack (scope lists the agent)
    ("scoped",     "",                         "",           "spend", 150,
     ("e-scoped/route", ["scoped"], 86400, "block")),
]  # e-unattached (priority 100, matches all) is attached to nobody: it never routes

# Decisions that are not require_approval carry no approval, whatever routes exist.
NO_APPROVAL = [
    ("prio",       "e-cat-op e-prio e-aa",     "stop",       "spend", 150, BLOCK),
    ("prio",       "e-cat-op e-prio e-aa",     "brand",      "spend", 10, WARN),
    ("prio",       "e-cat-op e-prio e-aa",     "",           "spend", 10, ALLOW),
]


def routing_repository(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    agents = {}
    for agent_id, escalations, *_ in rows:
        agents[agent_id] = agent(agent_id, BUSINESS + escalations.split())
    return [identity("acme", escalation={"approvers": ["ops-oncall"], "timeout": "2h",
                                         "fallback": "allow"}),
            *BUSINESS_PACKS, *ROUTE_PACKS, *agents.values()]


def routing_input(agent_id: str, flags: str, action: str, amount: int) -> dict[str, Any]:
    return {"agent": agent_id, "action": {"type": action, "amount": amount,
                                          "flags": flags.split()}}


def test_approval_routes(tmp_path: Path) -> None:
    documents = routing_repository(ROUTES + NO_APPROVAL)
    inputs = [routing_input(a, f, act, amt) for a, _, f, act, amt, _ in ROUTES + NO_APPROVAL]
    results = decide(tmp_path, documents, inputs)
    failures = []
    for row, result in zip(ROUTES, results[:len(ROUTES)], strict=True):
        agent_id, _, flags, action, amount, (name, approvers, timeout, fallback) = row
        want = {"route": name, "approvers": approvers, "timeout_seconds": timeout,
                "fallback": fallback}
        if result["decision"] != RA or result["approval"] != want:
            failures.append(f"{agent_id} [{flags}] {action} {amount}: expected {want}, got "
                            f"{result['decision']} {result['approval']}")
    for row, result in zip(NO_APPROVAL, results[len(ROUTES):], strict=True):
        if (result["decision"], result["approval"]) != (row[-1], None):
            failures.append(f"{row}: got {result['decision']} {result['approval']}")
    check(failures)


# identity escalation                 -> the approval of a require_approval decision
IDENTITY_DEFAULTS = [
    (None,                               {"approvers": [], "timeout_seconds": 86400,
                                          "fallback": "block", "route": "identity"}),
    ({"approvers": ["a"]},               {"approvers": ["a"], "timeout_seconds": 86400,
                                          "fallback": "block", "route": "identity"}),
    ({"timeout": "1d12h", "fallback": "allow"},
                                         {"approvers": [], "timeout_seconds": 129600,
                                          "fallback": "allow", "route": "identity"}),
]  # fmt: skip


@pytest.mark.parametrize("escalation, approval", IDENTITY_DEFAULTS)
def test_identity_default_route(escalation: dict[str, Any] | None, approval: dict[str, Any],
                                tmp_path: Path) -> None:
    spec = {"escalation": escalation} if escalation is not None else {}
    documents = [identity("acme", **spec),
                 pack("caps", RA, [flagged("r", "x")], category="operational"), agent("bot")]
    [result] = decide(tmp_path, documents, [{"agent": "bot", "action": {"type": "a",
                                                                         "flags": ["x"]}}])
    assert (result["decision"], result["approval"]) == (RA, approval)


# ---------------------------------------------------------------------------------------
# The effective view and the conflicts view
# ---------------------------------------------------------------------------------------

EFFECTIVE_DOCS = [
    identity("acme", precedence="identity_overrides", allowAgentOverrides=False),
    pack("corp", BLOCK, [{"id": "daily", "type": "spending_limit", "max": 100, "period": "day"},
                         flagged("strict", "s", enforcement=WARN)],
         category="operational", overridable=False),
    pack("team", WARN, [{"id": "daily", "type": "spending_limit", "max": 50, "period": "day",
                         "currency": "usd"}], category="operational", scope="none"),
    pack("extra", RA, [flagged("x", "x")], category="safety", scope={"agents": ["bot"]}),
    agent("bot", [{"pack": "team"}, {"pack": "extra", "enforcement": BLOCK}],
          precedence="agent_overrides"),
    agent("quiet"),
]


def test_effective_view_of_an_agent(tmp_path: Path) -> None:
    compiled = compile_docs(tmp_path, EFFECTIVE_DOCS)
    view = evaluate.effective(compiled, "bot")
    [decision] = evaluate.decisions(compiled, [{"agent": "bot", "action": {"type": "noop"}}])
    assert view["agent"] == "bot"
    # agent_overrides without allowAgentOverrides: treated as identity_overrides, and said
    assert (view["precedence"]["requested"], view["precedence"]["applied"]) == (
        "agent_overrides", "identity_overrides")
    assert "allowAgentOverrides" in view["precedence"]["note"]
    packs = {p["pack"]: p for p in view["packs"]}
    assert {k: (p["level"], p["enforcement"]) for k, p in packs.items()} == {
        "corp": ("identity", BLOCK), "team": ("agent", WARN), "extra": ("both", RA)}
    assert all(isinstance(p["why"], str) and p["why"] for p in view["packs"])
    corp_rules = {r["rule"]: r for r in packs["corp"]["rules"]}
    assert [r["rule"] for r in packs["corp"]["rules"]] == ["daily", "strict"]  # authored order
    assert corp_rules["daily"]["params"]["max"] == 100
    assert corp_rules["daily"]["params"]["period"] == "day"
    assert corp_rules["strict"]["enforcement"] == WARN  # the rule's own
    assert corp_rules["strict"]["params"]["when"] == {"field": "action.flags", "contains": "s"}
    suppressed = [{"pack": "team", "rule": "daily", "by": "corp/daily",
                   "reason": "identity_overrides"}]
    assert view["suppressed"] == suppressed == decision["suppressed"]
    assert evaluate.effective(compiled, "quiet")["packs"][0]["pack"] == "corp"
    assert evaluate.effective(compiled, "undeclared") is None


def test_conflicts_view(tmp_path: Path) -> None:
    compiled = compile_docs(tmp_path, EFFECTIVE_DOCS)
    groups = evaluate.conflicts(compiled)
    assert groups["quiet"] == []
    [group] = groups["bot"]
    assert group["key"] == "spending_limit:USD:day"
    assert group["precedence"] == "identity_overrides"
    outcomes = {(r["pack"], r["rule"]): (r["level"], r["outcome"]) for r in group["rules"]}
    assert outcomes[("corp", "daily")] == ("identity", "applies")
    assert outcomes[("team", "daily")][0] == "agent"
    assert "corp/daily" in outcomes[("team", "daily")][1]


# ---------------------------------------------------------------------------------------
# Identity ids with '-', the data path, and the revision
# ---------------------------------------------------------------------------------------

def test_dashed_identity_data_path_and_revision(tmp_path: Path) -> None:
    documents = [identity("acme-corp-eu"), pack("caps", BLOCK, [flagged("r", "x")]),
                 agent("bot")]
    write_repo(tmp_path / "repo", documents)
    bundle = tmp_path / "bundle.tar.gz"
    built = subprocess.run([str(POLICYPACKS), "build", str(tmp_path / "repo"), "-o", str(bundle),
                            "--revision", "rev-42"], capture_output=True, text=True,
                           check=False)
    assert built.returncode == 0, built.stderr
    answer = eval_json("data.policypacks.acme_corp_eu.decision", bundle=bundle,
                       input_doc={"agent": "bot", "action": {"type": "a", "flags": ["x"]}})
    assert answer["identity"] == "acme-corp-eu"
    assert answer["revision"] == "rev-42"
    # the build itself: the content digest its manifest claims, which read_bundle checks
    assert answer["digest"] == read_bundle(bundle).digest
    assert answer["digest"].startswith("sha256:")
    assert answer["decision"] == BLOCK
    view = eval_json('data.policypacks.acme_corp_eu.effective["bot"]', bundle=bundle)
    assert view["agent"] == "bot"


def test_eval_command_prints_the_decision(tmp_path: Path) -> None:
    write_repo(tmp_path / "repo", SHAPE_DOCS)
    proc = subprocess.run(
        [str(POLICYPACKS), "eval", str(tmp_path / "repo"), "--input", "-"],
        input=json.dumps({"agent": "sales-bot", "action": {"type": "spend", "amount": 500}}),
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert set(answer) == DECISION_KEYS
    assert (answer["decision"], answer["approval"]["route"]) == (RA, "identity")


def test_decision_bundle_tree_matches_query_prefix(tmp_path: Path) -> None:
    compiled = compile_docs(tmp_path / "repo", [identity("a-b"), agent("bot")])
    assert compiled.root == "policypacks/a_b"
    write_tree(compiled, tmp_path / "tree")
    answer = eval_json("data.policypacks.a_b.decision", bundle=tmp_path / "tree",
                       input_doc={"agent": "bot", "action": {"type": "noop"}})
    assert (answer["identity"], answer["decision"], answer["allow"]) == ("a-b", ALLOW, True)
