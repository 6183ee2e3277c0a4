"""Shadow mode and waivers (docs/shadow.md, docs/waivers.md), decided by the real OPA.

Shadow: a rule whose enforcement for the agent is `shadow` is evaluated and reported under
`shadow`, never in `violations`, never in the decision, never with an obligation, and
never wins a conflict group. Waivers: a rule lifted for one agent while OPA's clock is
before the expiry; the lifted violation is listed under `waived` with its waiver.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import agent, compile_docs, decide, identity, pack, write_repo

from policypacks.opa import evaluate

BLOCK, RA, WARN, ALLOW, SHADOW = "block", "require_approval", "warn", "allow", "shadow"
IO, MR, AO = "identity_overrides", "most_restrictive", "agent_overrides"
API = "policypacks/v1"
POLICYPACKS = Path(sys.executable).with_name("policypacks")


def go(rule_id: str = "r", **extra: Any) -> dict[str, Any]:
    """A condition rule every input with action.type `go` violates."""
    return {"id": rule_id, "type": "condition",
            "when": {"field": "action.type", "equals": "go"}, **extra}


def cap(rule_id: str, most: int, **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "type": "spending_limit", "max": most, "period": "transaction",
            "actions": ["go"], **extra}


SIGN = {"id": "sign", "type": "signature", "text": "-- Acme", "actions": ["go"]}


def check(failures: list[str]) -> None:
    assert not failures, f"{len(failures)} row(s) disagree:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------------------
# Shadow mode: where `shadow` is set -> what decides and what is only reported
# ---------------------------------------------------------------------------------------

# name: (agent precedence, packs [(id, pack enforcement, scope, overridable, rules)],
#        attachments [(pack, enforcement)], decision, violations, shadow)
A, N, R, SR, BR = "agent", "none", [go()], [go(enforcement=SHADOW)], [go(enforcement=BLOCK)]
C10, C5 = [cap("c", 10)], [cap("c", 5)]
SHADOW_CASES: dict[str, tuple[Any, ...]] = {
    "pack in shadow":           (IO, [("p", SHADOW, A, True, R)], [], ALLOW, [], ["p/r"]),
    "rule in shadow":           (IO, [("p", BLOCK, A, True, SR)], [], ALLOW, [], ["p/r"]),
    "rule's own level wins":    (IO, [("p", SHADOW, A, True, BR)], [], BLOCK, ["p/r"], []),
    "attachment in shadow":     (IO, [("p", BLOCK, N, True, R)], [("p", SHADOW)], ALLOW, [],
                                 ["p/r"]),
    "both, identity_overrides": (IO, [("p", BLOCK, A, True, R)], [("p", SHADOW)], BLOCK,
                                 ["p/r"], []),
    "both, most_restrictive":   (MR, [("p", BLOCK, A, True, R)], [("p", SHADOW)], BLOCK,
                                 ["p/r"], []),
    "both, agent_overrides":    (AO, [("p", BLOCK, A, True, R)], [("p", SHADOW)], ALLOW, [],
                                 ["p/r"]),
    "not overridable":          (AO, [("p", BLOCK, A, False, R)], [("p", SHADOW)], BLOCK,
                                 ["p/r"], []),
    "shadow beside a block":    (IO, [("p", SHADOW, A, True, R), ("q", BLOCK, A, True, R)], [],
                                 BLOCK, ["q/r"], ["p/r"]),
    "shadow beside a warn":     (IO, [("p", SHADOW, A, True, R), ("q", WARN, A, True, R)], [],
                                 WARN, ["q/r"], ["p/r"]),
    # conflicts: a shadow rule never wins its group, so it never suppresses a real one
    "shadow cannot win (IO)":   (IO, [("p", SHADOW, A, True, C10), ("q", BLOCK, N, True, C5)],
                                 [("q", None)], BLOCK, ["q/c"], ["p/c"]),
    "shadow cannot win (AO)":   (AO, [("p", BLOCK, A, True, C10), ("q", SHADOW, N, True, C5)],
                                 [("q", None)], BLOCK, ["p/c"], ["q/c"]),
    "shadow may lose (IO)":     (IO, [("p", BLOCK, A, True, C10), ("q", SHADOW, N, True, C5)],
                                 [("q", None)], BLOCK, ["p/c"], []),
    # a shadow rule's obligation is not an obligation
    "no shadow obligations":    (IO, [("p", SHADOW, A, True, [SIGN])], [], ALLOW, [],
                                 ["p/sign"]),
}


def _shadow_repo() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    documents: list[dict[str, Any]] = [identity(allowAgentOverrides=True)]
    inputs = []
    for index, (mode, packs, attachments, *_rest) in enumerate(SHADOW_CASES.values()):
        name = f"a{index}"
        for pack_id, level, scope, overridable, rules in packs:
            documents.append(pack(f"{pack_id}{index}", level, rules, overridable=overridable,
                                  scope={"agents": [name]} if scope == "agent" else scope))
        documents.append(agent(name, [{"pack": f"{p}{index}", **({"enforcement": e} if e else {})}
                                      for p, e in attachments], precedence=mode))
        inputs.append({"agent": name, "action": {"type": "go", "amount": 20}})
    return documents, inputs


def test_shadow_rules_report_and_never_decide(tmp_path: Path) -> None:
    documents, inputs = _shadow_repo()
    answers = decide(tmp_path, documents, inputs)
    failures = []
    for index, ((name, case), answer) in enumerate(zip(SHADOW_CASES.items(), answers, strict=True)):
        decision, violations, shadow = case[3:]
        strip = len(str(index))
        got = (answer["decision"],
               [f"{v['pack'][:-strip]}/{v['rule']}" for v in answer["violations"]],
               [f"{v['pack'][:-strip]}/{v['rule']}" for v in answer["shadow"]])
        if got != (decision, violations, shadow):
            failures.append(f"{name}: expected {(decision, violations, shadow)}, got {got}")
        if any(v["enforcement"] != SHADOW for v in answer["shadow"]):
            failures.append(f"{name}: shadow entries {answer['shadow']}")
        if name == "no shadow obligations" and answer["obligations"]:
            failures.append(f"{name}: obligations {answer['obligations']}")
    check(failures)


def test_effective_view_shows_shadow_enforcement(tmp_path: Path) -> None:
    documents = [identity(), pack("dry", SHADOW, [go()]), agent("bot")]
    view = evaluate.query(compile_docs(tmp_path, documents), "{prefix}.effective.bot")
    assert [(p["pack"], p["enforcement"], p["rules"][0]["enforcement"]) for p in view["packs"]] \
        == [("dry", SHADOW, SHADOW)]


# ---------------------------------------------------------------------------------------
# Waivers: which waiver lifts what, against OPA's clock
# ---------------------------------------------------------------------------------------

NOW = datetime.now(UTC)
FUTURE = (NOW + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
LATER = (NOW + timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
PAST = "2020-01-01T00:00:00Z"


def waiver(id: str, agent_id: str, pack_id: str, rule_id: str, expires: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Waiver", "metadata": {"id": id},
            "spec": {"agent": agent_id, "pack": pack_id, "rule": rule_id,
                     "reason": f"reason of {id}", "approvedBy": "lead@acme.com",
                     "expires": expires}}


# name: (rules of pack p (block), waivers [(id, agent, rule, expires)], decision,
#        violations, waived [(rule, waiver id)])
WAIVER_CASES: dict[str, tuple[Any, ...]] = {
    "in force":                 ([go()], [("w", "self", "r", FUTURE)], ALLOW, [], [("r", "w")]),
    "expired":                  ([go()], [("w", "self", "r", PAST)], BLOCK, ["r"], []),
    "another agent's":          ([go()], [("w", "other", "r", FUTURE)], BLOCK, ["r"], []),
    "one of two rules":         ([go("r"), go("s", enforcement=WARN)],
                                 [("w", "self", "r", FUTURE)], WARN, ["s"], [("r", "w")]),
    "latest expiry wins":       ([go()], [("old", "self", "r", PAST), ("new", "self", "r", LATER),
                                          ("mid", "self", "r", FUTURE)], ALLOW, [], [("r", "new")]),
    "waived rule obliges nothing": ([SIGN], [("w", "self", "sign", FUTURE)], ALLOW, [],
                                    [("sign", "w")]),
    "not violated: not listed": ([go("r"), {"id": "quiet", "type": "condition",
                                            "when": {"field": "action.type", "equals": "stop"}}],
                                 [("w", "self", "quiet", FUTURE)], BLOCK, ["r"], []),
    "waived shadow rule":       (SR, [("w", "self", "r", FUTURE)], ALLOW, [], [("r", "w")]),
}


def _waiver_repo() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    documents: list[dict[str, Any]] = [identity()]
    inputs = []
    for index, (rules, waivers, *_rest) in enumerate(WAIVER_CASES.values()):
        me, other = f"a{index}", f"b{index}"
        documents += [pack(f"p{index}", BLOCK, rules, scope={"agents": [me, other]}),
                      agent(me), agent(other)]
        for wid, who, rule_id, expires in waivers:
            documents.append(waiver(f"{wid}{index}", me if who == "self" else other,
                                    f"p{index}", rule_id, expires))
        inputs.append({"agent": me, "action": {"type": "go"}})
    return documents, inputs


def test_waivers_lift_a_rule_while_in_force(tmp_path: Path) -> None:
    documents, inputs = _waiver_repo()
    with pytest.warns(UserWarning):  # the expired ones
        answers = decide(tmp_path, documents, inputs)
    failures = []
    for index, ((name, case), answer) in enumerate(zip(WAIVER_CASES.items(), answers, strict=True)):
        decision, violations, waived = case[2:]
        got = (answer["decision"], [v["rule"] for v in answer["violations"]],
               [(v["rule"], v["waiver"]["id"].removesuffix(str(index))) for v in answer["waived"]])
        if got != (decision, violations, waived):
            failures.append(f"{name}: expected {(decision, violations, waived)}, got {got}")
        if answer["obligations"] or answer["shadow"]:
            failures.append(f"{name}: {answer['obligations']}, shadow {answer['shadow']}")
    check(failures)


def test_a_waived_violation_says_who_agreed_and_until_when(tmp_path: Path) -> None:
    documents = [identity(), pack("p", BLOCK, [go()]), agent("bot"),
                 waiver("w", "bot", "p", "r", "2099-12-31T23:00:00+01:00")]
    [answer] = decide(tmp_path, documents, [{"agent": "bot", "action": {"type": "go"}}])
    [lifted] = answer["waived"]
    assert lifted.pop("message")
    assert lifted == {
        "pack": "p", "rule": "r", "type": "condition", "category": "safety",
        "enforcement": BLOCK, "level": "identity",
        "waiver": {"id": "w", "reason": "reason of w", "approved_by": "lead@acme.com",
                   "expires": "2099-12-31T22:00:00Z"}}


def test_effective_view_lists_the_agents_waivers(tmp_path: Path) -> None:
    documents = [identity(), pack("p", BLOCK, [go("r"), go("s")]), agent("bot"), agent("other"),
                 waiver("gone", "bot", "p", "s", PAST), waiver("now", "bot", "p", "r", FUTURE),
                 waiver("theirs", "other", "p", "r", FUTURE)]
    with pytest.warns(UserWarning):
        view = evaluate.query(compile_docs(tmp_path, documents), "{prefix}.effective.bot")
    assert [(w["id"], w["pack"], w["rule"], w["in_force"]) for w in view["waivers"]] \
        == [("now", "p", "r", True), ("gone", "p", "s", False)]


# ---------------------------------------------------------------------------------------
# validate: errors at the waiver's line, warnings for the ones that lift nothing soon
# ---------------------------------------------------------------------------------------

SOON = (NOW + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

# spec overrides -> (exit code, text expected on stderr)
VALIDATE_CASES: list[tuple[dict[str, Any], int, str]] = [
    ({}, 0, ""),
    ({"agent": "nobody"}, 2, "waiver 'w' names unknown agent 'nobody'"),
    ({"pack": "nope"}, 2, "waiver 'w' names unknown pack 'nope'"),
    ({"rule": "nope"}, 2, "waiver 'w' names unknown rule 'nope' of pack 'p'"),
    ({"expires": "2027-01-01"}, 2, "expected an RFC 3339 date-time with an offset"),
    ({"expires": "2027-01-01T00:00:00"}, 2, "expected an RFC 3339 date-time with an offset"),
    ({"expires": "2027-02-30T00:00:00Z"}, 2, "is not a real date and time"),
    ({"reason": ""}, 2, "spec.reason"),
    ({"approvedBy": None}, 2, "spec: missing required key 'approvedBy'"),
    ({"expires": PAST}, 0, "warning: waiver 'w' expired at 2020-01-01T00:00:00Z"),
    ({"expires": SOON}, 0, "warning: waiver 'w' expires at"),
    ({"agent": "loner"}, 0, "which does not have pack 'p': it lifts nothing"),
]


@pytest.mark.parametrize("overrides, code, text", VALIDATE_CASES,
                         ids=[str(c[0]) for c in VALIDATE_CASES])
def test_validate_checks_waivers(tmp_path: Path, overrides: dict[str, Any], code: int,
                                 text: str) -> None:
    doc = waiver("w", "bot", "p", "r", FUTURE)
    doc["spec"].update(overrides)
    doc["spec"] = {k: v for k, v in doc["spec"].items() if v is not None}
    repo = write_repo(tmp_path, [identity(), pack("p", BLOCK, [go()], scope={"agents": ["bot"]}),
                                 agent("bot"), agent("loner"), doc])
    proc = subprocess.run([POLICYPACKS, "validate", str(repo)], capture_output=True, text=True)
    assert proc.returncode == code, proc.stderr
    assert text in proc.stderr
    if text:
        assert "repo.yaml:" in proc.stderr  # at the waiver's line


# ---------------------------------------------------------------------------------------
# The client records both, apart from the violations that decided
# ---------------------------------------------------------------------------------------

def test_the_client_records_shadow_reports_and_waived_violations(tmp_path: Path) -> None:
    from live_support import serving

    from policypacks.runtime import PolicyClient
    from policypacks.runtime.store import open_store

    documents = [identity(), pack("dry", SHADOW, [go("brag")]), pack("caps", BLOCK, [go("cap")]),
                 pack("tone", WARN, [go("tone")]), agent("bot"),
                 waiver("w", "bot", "caps", "cap", FUTURE)]
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    with serving(tmp_path, documents, "rev-s") as opa, open_store(store_url) as store, \
            PolicyClient(opa.url, "acme", "bot", store=store, timeout=10) as client:
        decision = client.check({"type": "go"})
        assert (decision.decision, [v["rule"] for v in decision.violations]) == (WARN, ["tone"])
        assert [v["rule"] for v in decision.shadow] == ["brag"]
        assert [(v["rule"], v["waiver"]["id"]) for v in decision.waived] == [("cap", "w")]
        client.check({"type": "other"})  # a plain allow: nothing to record
        rows = {kind: [(v["pack"], v["rule"], v["decision"], v["waiver"])
                       for v in store.violations(kind=kind)]
                for kind in ("enforced", "shadow", "waived")}
        stats = store.violation_stats(kind="shadow")
    assert rows == {"enforced": [("tone", "tone", WARN, None)],
                    "shadow": [("dry", "brag", WARN, None)],
                    "waived": [("caps", "cap", WARN, "w")]}
    assert [(s["pack"], s["rule"], s["count"], s["allowed"]) for s in stats] \
        == [("dry", "brag", 1, 1)]
    proc = subprocess.run([POLICYPACKS, "violations", "stats", "--shadow", "--store", store_url],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "dry/brag" in proc.stdout and "WOULD STOP" in proc.stdout
    listed = subprocess.run([POLICYPACKS, "violations", "list", "--waived", "--store", store_url],
                            capture_output=True, text=True)
    assert "caps/cap" in listed.stdout and " w " in listed.stdout


# eval --at: the decision as OPA gives it at another moment (the waiver expires 2030-01-01)
AT_CASES = [
    ([], 0, ALLOW),
    (["--at", "2029-12-31T23:59:59Z"], 0, ALLOW),
    (["--at", "2030-01-01T00:00:00Z"], 0, BLOCK),
    (["--at", "2030-01-01T01:00:00+02:00"], 0, ALLOW),
    (["--at", "2030-01-01"], 2, "--at: expected an RFC 3339 date-time"),
    (["--at", "2030-02-30T00:00:00Z"], 2, "is not a real date and time"),
]


@pytest.mark.parametrize("args, code, expected", AT_CASES, ids=[" ".join(c[0]) for c in AT_CASES])
def test_eval_at_a_moment(tmp_path: Path, args: list[str], code: int, expected: str) -> None:
    repo = write_repo(tmp_path / "repo", [identity(), pack("p", BLOCK, [go()]), agent("bot"),
                                          waiver("w", "bot", "p", "r", "2030-01-01T00:00:00Z")])
    (tmp_path / "in.json").write_text('{"agent": "bot", "action": {"type": "go"}}')
    proc = subprocess.run([POLICYPACKS, "eval", str(repo), "--input", str(tmp_path / "in.json"),
                           *args], capture_output=True, text=True)
    assert proc.returncode == code, proc.stderr
    if code == 0:
        assert json.loads(proc.stdout)["decision"] == expected
    else:
        assert expected in proc.stderr and proc.stdout == ""


# ---------------------------------------------------------------------------------------
# policypacks test: a case's `at`, `test --at`, a pack example's `shadow`
# ---------------------------------------------------------------------------------------

def scenario(cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Test", "metadata": {"id": "t"}, "spec": {"cases": cases}}


GO = {"agent": "bot", "action": {"type": "go"}}
# case (at, expect, waived), test --at -> passed?
TEST_AT_CASES = [
    ((None, ALLOW, ["p/r"]), None, True),
    (("2029-12-31T23:59:59Z", ALLOW, ["p/r"]), None, True),
    (("2030-01-01T00:00:00Z", BLOCK, []), None, True),
    (("2030-01-01T00:00:00Z", ALLOW, ["p/r"]), None, False),
    ((None, BLOCK, []), "2031-01-01T00:00:00Z", True),
    ((None, ALLOW, ["p/r"]), "2031-01-01T00:00:00Z", False),
    (("2029-06-01T00:00:00Z", ALLOW, ["p/r"]), "2031-01-01T00:00:00Z", True),  # own at wins
]


@pytest.mark.parametrize("case, at, passed", TEST_AT_CASES, ids=[str(c) for c in TEST_AT_CASES])
def test_a_case_decides_at_its_moment(tmp_path: Path, case: tuple[Any, ...], at: str | None,
                                      passed: bool) -> None:
    moment, expect, waived = case
    doc = {"name": "refund", "input": GO, "expect": expect, "waived": waived,
           **({"at": moment} if moment else {})}
    repo = write_repo(tmp_path, [identity(), pack("p", BLOCK, [go()]), agent("bot"),
                                 waiver("w", "bot", "p", "r", "2030-01-01T00:00:00Z"),
                                 scenario([doc])])
    proc = subprocess.run([POLICYPACKS, "test", str(repo), "--json",
                           *(["--at", at] if at else [])], capture_output=True, text=True)
    assert proc.returncode == (0 if passed else 1), proc.stderr
    [result] = [c for c in json.loads(proc.stdout)["cases"] if c["kind"] == "test"]
    assert result["passed"] is passed


# the shadow an example expects -> passed?
EXAMPLE_SHADOW_CASES = [(["dry/brag"], True), ([], False), (["dry/other"], False)]


@pytest.mark.parametrize("shadow, passed", EXAMPLE_SHADOW_CASES)
def test_a_pack_example_asserts_its_shadow_reports(tmp_path: Path, shadow: list[str],
                                                   passed: bool) -> None:
    example = {"name": "e", "input": GO, "expect": ALLOW, "violations": [], "shadow": shadow}
    repo = write_repo(tmp_path, [identity(), agent("bot"), pack(
        "dry", SHADOW, [go("brag"), {**go("other"), "when": {"field": "action.type",
                                                             "equals": "stop"}}],
        examples=[example])])
    proc = subprocess.run([POLICYPACKS, "test", str(repo)], capture_output=True, text=True)
    assert proc.returncode == (0 if passed else 1), proc.stdout + proc.stderr
