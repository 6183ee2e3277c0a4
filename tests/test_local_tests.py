"""Tests that stay local (docs/testing.md), through the real OPA:

- a pack's examples are judged by that pack alone, for the example agent's attachment
  of it (level, enforcement, suppressed rules as precedence gives them), with the input
  contract and unknownAgents still applying: attaching a pack that blocks everything
  changes no other pack's example, while it does change the whole decision;
- ``kind: Test`` cases are judged by the whole decision, each expectation (decision,
  violations, approval, obligations, shadow, waived) able to fail on its own.

One ``policypacks test`` run (one ``opa test``) per repository, never one per case.
"""

# Tables, one case per line: they stay long.
# ruff: noqa: E501
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import agent, identity, pack, write_repo

from policypacks.bundle import write_tree
from policypacks.opa.binary import eval_json
from policypacks.opa.testing import CaseResult, all_cases, run_tests, write_tests
from policypacks.pipeline import compile_path
from policypacks.resolve import table_of

API = "policypacks/v1"
DAILY = {"id": "daily", "type": "spending_limit", "max": 100, "currency": "USD", "period": "day"}
BUDGET = {"id": "daily", "type": "spending_limit", "max": 1000, "currency": "USD",
          "period": "day"}
NO_REFUNDS = {"id": "no-refunds", "type": "condition",
              "when": {"field": "action.type", "equals": "refund"}}
GOSSIP = {"id": "gossip", "type": "condition",
          "when": {"field": "action.type", "equals": "gossip"}}
EVERYTHING = {"id": "everything", "type": "condition",
              "when": {"field": "agent", "exists": True}}
SIGNATURE = {"id": "sign", "type": "signature", "text": "-- Acme"}
ROUTE = {"id": "big-spend", "type": "escalation", "match": {"rules": ["caps/daily"]},
         "approvers": ["finance"], "timeout": "4h"}


def spend(agent_id: str, amount: Any, **action: Any) -> dict[str, Any]:
    return {"agent": agent_id, "action": {"type": "spend", "amount": amount, **action}}


def refund(agent_id: str) -> dict[str, Any]:
    return {"agent": agent_id, "action": {"type": "refund", "amount": 5}}


def ex(name: str, doc: dict[str, Any], expect: str, violations: list[str]) -> dict[str, Any]:
    return {"name": name, "input": doc, "expect": expect, "violations": violations}


def case(name: str, doc: dict[str, Any], expect: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "input": doc, "expect": expect, **more}


# Pack examples, each judged by its own pack alone.
# pack      example                                      input                        expect              violations
EXAMPLES: list[tuple[str, str, dict[str, Any], str, list[str]]] = [
    ("caps", "a small spend",                             spend("bot", 5),             "allow",            []),
    ("caps", "over the cap",                              spend("bot", 150),           "require_approval", ["caps/daily"]),
    ("caps", "a waiver does not reach an example",        spend("waived", 150),        "require_approval", ["caps/daily"]),
    ("caps", "the input contract still applies",          spend("bot", "ten"),         "block",            ["_system/invalid-input"]),
    ("caps", "an undeclared agent is still blocked",      spend("ghost", 5),           "block",            ["_system/unknown-agent"]),
    ("caps", "a tool binding does not reach an example",  spend("bot", 150, tool={"name": "nobody.binds", "arguments": {}}),
                                                                                       "require_approval", ["caps/daily"]),
    ("caps", "the company cap applies to the seller",     spend("seller", 1500),       "require_approval", ["caps/daily"]),
    ("notes", "softie gets the pack with its warn",       refund("softie"),            "warn",             ["notes/no-refunds"]),
    ("notes", "softie's block is wrong: it gets warn",    refund("softie"),            "block",            ["notes/no-refunds"]),
    ("notes", "an agent without the pack",                refund("bot"),               "allow",            []),
    ("playbook", "its budget is suppressed for seller",   spend("seller", 1500),       "allow",            []),
    ("playbook", "a suppressed rule stays suppressed",    spend("seller", 1500),       "block",            ["playbook/daily"]),
    ("dryrun", "shadow mode decides nothing",             {"agent": "bot", "action": {"type": "gossip"}},
                                                                                       "allow",            []),
    ("brand", "an unsigned email",                        {"agent": "bot", "action": {"type": "send_email", "content": {"text": "hi"}}},
                                                                                       "block",            ["brand/sign"]),
]
#: Examples that are wrong whatever other packs do.
WRONG = {"softie's block is wrong: it gets warn", "a suppressed rule stays suppressed"}

# Test cases: the whole decision.
# name                                   input                   expectations
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("the whole decision of a small spend",   spend("bot", 5),        {"expect": "allow", "violations": []}),
    ("over the cap, routed to finance",       spend("bot", 150),      {"expect": "require_approval", "violations": ["caps/daily"],
                                                                       "approval": {"route": "routes/big-spend", "approvers": ["finance"],
                                                                                    "timeout_seconds": 14400}}),
    ("a waiver lifts the cap for waived",     spend("waived", 150),   {"expect": "allow", "violations": [], "waived": ["caps/daily"]}),
    ("an unbound tool call is refused",       spend("bot", 150, tool={"name": "nobody.binds", "arguments": {}}),
                                                                      {"expect": "block", "violations": ["_system/unbound-tool"]}),
    ("gossip is reported in shadow",          {"agent": "bot", "action": {"type": "gossip"}},
                                                                      {"expect": "allow", "shadow": ["dryrun/gossip"], "approval": None}),
    ("the signature is an obligation",        {"agent": "bot", "action": {"type": "send_email", "content": {"text": "hi"}}},
                                                                      {"expect": "block", "violations": ["brand/sign"],
                                                                       "obligations": [{"type": "append_signature", "text": "-- Acme"}]}),
    ("obligations by part",                   {"agent": "bot", "action": {"type": "send_email", "content": {"text": "hi"}}},
                                                                      {"expect": "block", "violations": ["brand/sign"],
                                                                       "obligations": {"include": [{"type": "append_signature"}],
                                                                                       "exclude": [{"type": "redact"}]}}),
    ("violations by part",                    spend("seller", 1500),  {"expect": "require_approval",
                                                                       "violations": {"include": ["caps/daily"], "exclude": ["playbook/daily"]}}),
]

# A case that must fail, and the one assertion that fails: (how, field).
# name                                   input                 expectations                                                     breaks
BROKEN: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, str]]] = [
    ("wrong decision",                    spend("bot", 150),    {"expect": "block"},                                             ("equals", "decision")),
    ("missing violation",                 spend("bot", 150),    {"expect": "require_approval", "violations": []},                ("ids", "violations")),
    ("wrong route",                       spend("bot", 150),    {"expect": "require_approval", "approval": {"route": "identity"}}, ("subset", "approval")),
    ("an approval where there is none",   spend("bot", 5),      {"expect": "allow", "approval": {"approvers": []}},              ("subset", "approval")),
    ("no approval where there is one",    spend("bot", 150),    {"expect": "require_approval", "approval": None},               ("subset", "approval")),
    ("wrong obligation",                  {"agent": "bot", "action": {"type": "send_email", "content": {"text": "hi"}}},
                                                                {"expect": "block", "obligations": []},                         ("objects", "obligations")),
    ("obligation part missing",           spend("bot", 5),      {"expect": "allow", "obligations": {"include": [{"type": "redact"}]}},
                                                                                                                                 ("objects_include", "obligations")),
    ("obligation part present",           {"agent": "bot", "action": {"type": "send_email", "content": {"text": "hi"}}},
                                                                {"expect": "block", "obligations": {"exclude": [{"type": "append_signature"}]}},
                                                                                                                                 ("objects_exclude", "obligations")),
    ("included violation missing",        spend("bot", 5),      {"expect": "allow", "violations": {"include": ["caps/daily"]}},  ("ids_include", "violations")),
    ("excluded violation present",        spend("bot", 150),    {"expect": "require_approval", "violations": {"exclude": ["caps/daily"]}},
                                                                                                                                 ("ids_exclude", "violations")),
    ("shadow not as said",                {"agent": "bot", "action": {"type": "gossip"}},
                                                                {"expect": "allow", "shadow": []},                               ("ids", "shadow")),
    ("waived not as said",                spend("waived", 150), {"expect": "allow", "waived": []},                               ("ids", "waived")),
]


def documents(blocker: str | None) -> list[dict[str, Any]]:
    """The repository; ``blocker`` adds a pack that blocks every action: ``scope`` (all
    agents) or ``attached`` (each agent attaches it)."""
    examples: dict[str, list[dict[str, Any]]] = {}
    for pack_id, name, doc, expect, violations in EXAMPLES:
        examples.setdefault(pack_id, []).append(ex(name, doc, expect, violations))
    extra = ["blocker"] if blocker == "attached" else []
    docs = [
        identity(),
        pack("caps", "require_approval", [DAILY], category="operational",
             examples=examples["caps"]),
        pack("notes", "block", [NO_REFUNDS], scope="none", examples=examples["notes"]),
        pack("playbook", "block", [BUDGET], scope="none", examples=examples["playbook"]),
        pack("dryrun", "shadow", [GOSSIP], examples=examples["dryrun"]),
        pack("brand", "block", [SIGNATURE], category="brand", examples=examples["brand"]),
        pack("routes", "require_approval", [ROUTE], category="escalation"),
        agent("bot", extra),
        agent("waived", extra),
        agent("softie", [{"pack": "notes", "enforcement": "warn"}, *extra]),
        agent("seller", ["playbook", *extra]),
        {"apiVersion": API, "kind": "Waiver", "metadata": {"id": "waived-cap"},
         "spec": {"agent": "waived", "pack": "caps", "rule": "daily", "reason": "pilot",
                  "approvedBy": "cfo", "expires": "2099-12-31T23:59:59Z"}},
        {"apiVersion": API, "kind": "Test", "metadata": {"id": "whole"},
         "spec": {"cases": [case(name, doc, **want) for name, doc, want in CASES]}},
        {"apiVersion": API, "kind": "Test", "metadata": {"id": "broken"},
         "spec": {"cases": [case(name, doc, **want) for name, doc, want, _ in BROKEN]}},
    ]
    if blocker is not None:
        docs.append(pack("blocker", "block", [EVERYTHING],
                         scope="all" if blocker == "scope" else "none"))
    return docs


Results = dict[str, CaseResult]
BLOCKERS = [None, "scope", "attached"]


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str | None], Results]:
    """The cases of the repository with that blocker, by "owner: name"; each repository
    is tested once (one opa test), whatever number of tests read it."""
    done: dict[str | None, Results] = {}

    def results(blocker: str | None) -> Results:
        if blocker not in done:
            root = write_repo(tmp_path_factory.mktemp("local"), documents(blocker))
            repo, compiled = compile_path(root, revision="test")
            report = run_tests(repo, compiled)
            assert not report.check_errors and not report.failed_tests, report
            done[blocker] = {f"{c.owner}: {c.name}": c for c in report.cases}
        return done[blocker]

    return results


@pytest.mark.parametrize("blocker", BLOCKERS)
@pytest.mark.parametrize("pack_id, name", [(e[0], e[1]) for e in EXAMPLES],
                         ids=[e[1] for e in EXAMPLES])
def test_an_example_is_judged_by_its_pack_alone(judged: Callable[[str | None], Results],
                                                blocker: str | None, pack_id: str,
                                                name: str) -> None:
    """The same verdict with and without a pack that blocks everything."""
    result = judged(blocker)[f"{pack_id}: {name}"]
    assert result.pack == pack_id
    assert result.passed is (name not in WRONG), (result.actual, result.failed)


@pytest.mark.parametrize("blocker", BLOCKERS)
@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_a_test_case_is_judged_by_the_whole_decision(judged: Callable[[str | None], Results],
                                                     blocker: str | None, name: str) -> None:
    """The blocker reaches every whole-agent case: they pass without it, fail with it."""
    result = judged(blocker)[f"whole: {name}"]
    assert result.passed is (blocker is None), (result.actual, result.failed)
    if blocker is not None:
        assert ["ids", "violations"] in [a[:2] for a in result.failed] or \
            ["equals", "decision"] in [a[:2] for a in result.failed]
        assert "blocker/everything" in {f"{v['pack']}/{v['rule']}"
                                        for v in (result.actual or {})["violations"]}


@pytest.mark.parametrize("name, breaks", [(c[0], c[3]) for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_each_expectation_fails_on_its_own(judged: Callable[[str | None], Results], name: str,
                                           breaks: tuple[str, str]) -> None:
    result = judged(None)[f"broken: {name}"]
    assert not result.passed
    assert [tuple(a[:2]) for a in result.failed] == [breaks]
    assert result.actual is not None and result.actual["decision"] in (
        "allow", "require_approval", "block")


# unknownAgents: defaults -- an undeclared agent gets the scope-all packs, in examples too
# pack     example                                            expect               violations
DEFAULTS = [
    ("caps",  "a scope-all pack judges an undeclared agent", "require_approval",  ["caps/daily"]),
    ("notes", "a scope-none pack does not",                   "allow",             []),
]


def test_undeclared_agents_under_defaults(tmp_path: Path) -> None:
    docs = [identity(unknownAgents="defaults"),
            pack("caps", "require_approval", [DAILY], examples=[
                ex(DEFAULTS[0][1], spend("ghost", 150), DEFAULTS[0][2], DEFAULTS[0][3])]),
            pack("notes", "block", [NO_REFUNDS], scope="none", examples=[
                ex(DEFAULTS[1][1], refund("ghost"), DEFAULTS[1][2], DEFAULTS[1][3]),
                ex("a wrong expectation fails", refund("ghost"), "block", [])]),
            agent("bot", ["notes"])]
    repo, compiled = compile_path(write_repo(tmp_path, docs), revision="test")
    report = run_tests(repo, compiled)
    passed = {c.name: c.passed for c in report.cases}
    assert passed == {**{name: True for _, name, _, _ in DEFAULTS},
                      "a wrong expectation fails": False}


def test_the_narrowed_table_holds_one_pack_and_knows_every_key(tmp_path: Path) -> None:
    """pack_table (rego_templates/tests/generated_test.rego.j2) narrows each key of an
    agent's table (config.resolved, precedence.rego.j2) to one pack, and pack_groups the
    rules a decision reads of it (precedence.input_groups): a key added there must be
    narrowed there too, or a pack's examples would see other packs through it."""
    repo, compiled = compile_path(write_repo(tmp_path / "repo", documents(None)), "test")
    resolved = compiled.config["resolved"]
    # by pack_table ("blocked", the unknown agents' table's under unknownAgents: block, as is)
    narrowed = {"precedence", "base", "packs", "suppressed", "routes", "blocked"}
    tables = [*resolved["tables"], resolved["unknown"]]
    assert all(set(table) | {"blocked"} == narrowed | {"rules"} for table in tables), \
        [set(t) - narrowed for t in tables]
    write_tree(compiled, tmp_path / "bundle")
    write_tests(compiled, all_cases(repo), tmp_path / "tests")
    seller = table_of(resolved, "seller")
    whole = eval_json("data.policypacks.acme_test.whole_table(input)", bundle=tmp_path / "bundle",
                      data=[tmp_path / "tests"], input_doc=seller)  # the base merged in
    assert {s["pack"] for s in seller["suppressed"]} == {"playbook"} and len(whole["packs"]) > 2
    answer = eval_json("{p: data.policypacks.acme_test.pack_table(input, p) | some p in "
                       '["playbook", "caps"]}', bundle=tmp_path / "bundle",
                       data=[tmp_path / "tests"], input_doc=whole)
    for pack_id, table in answer.items():
        assert set(table) == narrowed
        assert set(table["packs"]) == {pack_id}
        assert {s["pack"] for s in table["suppressed"]} <= {pack_id}
        assert table["precedence"] == seller["precedence"] and table["base"] is False
    assert answer["playbook"]["suppressed"] == seller["suppressed"]
    groups = eval_json("{p: data.policypacks.acme_test.pack_groups(data.policypacks.acme"
                       '.precedence.input_groups, p) | some p in ["playbook", "caps"]}',
                       bundle=tmp_path / "bundle", data=[tmp_path / "tests"],
                       input_doc={"agent": "seller", "action": {"type": "spend", "amount": 1}})
    assert groups["playbook"] == [{}]  # its one rule is suppressed for seller
    rules = compiled.config["rules"]
    kept = [(rules[t][at]["pack"], rules[t][at]["id"])
            for g in groups["caps"] for t, refs in g.items() for at in refs]
    assert kept and {pack_id for pack_id, _ in kept} == {"caps"}, kept
