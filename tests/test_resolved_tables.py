"""The per-agent tables `build` ships (config.resolved) are what the precedence rules
compute: the bundle's own `precedence.tables`, evaluated at eval time over the shipped
data, must equal them, so the build-time shortcut cannot drift from the rules the
effective and conflicts views use. Repositories cover every precedence mode, overrides
allowed or not, identity/agent/both levels, suppression, unknown agents under both
settings and agents alike in everything (evaluated once at build time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import agent, compile_docs, identity, pack
from test_precedence import MODES, daily_cap, matrix_repository

from policypacks.opa import evaluate
from policypacks.pipeline import compile_path
from policypacks.resolve import UNREAD, unpacked

ROOT = Path(__file__).resolve().parent.parent


def conflicts_repository(unknown_agents: str) -> list[dict[str, Any]]:
    """Caps sharing a conflict key at identity and agent level, for agents of each mode;
    twins a/b alike in everything; a scope-all pack for undeclared agents."""
    docs: list[dict[str, Any]] = [identity(precedence="identity_overrides",
                                           allowAgentOverrides=True,
                                           unknownAgents=unknown_agents)]
    docs.append(pack("corp", "block", [daily_cap("daily", 100)]))
    docs.append(pack("team", "warn", [daily_cap("daily", 50)],
                     scope={"agents": ["twin-a", "twin-b", "solo"]}, overridable=True))
    docs.append(pack("own", "require_approval", [daily_cap("mine", 500)], scope="none"))
    for name, mode in [("twin-a", None), ("twin-b", None), ("solo", "agent_overrides"),
                       *[(f"m-{m.replace('_', '-')}", m) for m in MODES]]:
        spec = {"precedence": mode} if mode else {}
        docs.append(agent(name, [{"pack": "own", "enforcement": "block"}, {"pack": "corp"}],
                          **spec))
    return docs


CASES = [
    ("conflicts, unknown agents blocked", lambda: conflicts_repository("block")),
    ("conflicts, unknown agents get defaults", lambda: conflicts_repository("defaults")),
    *[(f"matrix {mode} overrides={allow}", lambda m=mode, a=allow: matrix_repository(m, a)[0])
      for mode in MODES for allow in (True, False)],
]


def named(config: dict[str, Any], group: dict[str, list[int]]) -> dict[str, list[str]]:
    """A group's positions (type -> positions in config.rules[type]) as pack/rule ids."""
    return {rule_type: [f"{config['rules'][rule_type][at]['pack']}/"
                        f"{config['rules'][rule_type][at]['id']}" for at in refs]
            for rule_type, refs in group.items()}


def shipped_and_computed(compiled: Any) -> tuple[Any, Any]:
    """The shipped tables (each distinct grouping of rules inlined again) and the rules'
    own."""
    computed = evaluate.query(compiled, "{prefix}.precedence.tables")
    return unpacked(compiled.config["resolved"]), computed


@pytest.mark.parametrize(("name", "documents"), CASES, ids=[c[0] for c in CASES])
def test_shipped_tables_are_what_the_rules_compute(name: str, documents: Any,
                                                   tmp_path: Path) -> None:
    shipped, computed = shipped_and_computed(compile_docs(tmp_path, documents()))
    assert shipped == computed


def test_example_repository_tables(tmp_path: Path) -> None:
    compiled = compile_path(ROOT / "packs", "test")[1]
    shipped, computed = shipped_and_computed(compiled)
    assert shipped == computed
    assert set(shipped["agents"]) == set(compiled.config["agents"])


def test_twins_share_a_table_and_suppression_is_in_it(tmp_path: Path) -> None:
    config = compile_docs(tmp_path, conflicts_repository("defaults")).config
    shipped = unpacked(config["resolved"])
    assert shipped["agents"]["twin-a"] == shipped["agents"]["twin-b"]
    assert [s["rule"] for s in shipped["agents"]["twin-a"]["suppressed"]] == ["mine"]
    assert named(config, shipped["agents"]["twin-a"]["rules"]["actions"]["spend"]) == {
        "spending_limit": ["corp/daily", "team/daily"]}
    assert set(shipped["unknown"]["packs"]) == set() and shipped["unknown"]["base"] is True
    assert set(shipped["base"]["packs"]) == {"corp"}
    # twin-a attaches the scope-all corp itself (level both): its table holds every pack
    assert shipped["agents"]["twin-a"]["base"] is False


def test_agents_share_the_base_of_the_scope_all_packs(tmp_path: Path) -> None:
    """An agent that attaches no scope-all pack itself, and loses none of their rules,
    lists only its other packs; the scope-all ones are the base's. Its rules are all of
    its active rules, the base's included: a decision reads one grouping."""
    docs = [identity(unknownAgents="block"), pack("corp", "block", [daily_cap("daily", 100)]),
            pack("team", "warn", [daily_cap("team-cap", 50)], scope={"agents": ["plain"]}),
            agent("plain"), agent("both", [{"pack": "corp", "enforcement": "warn"}])]
    config = compile_docs(tmp_path, docs).config
    shipped = unpacked(config["resolved"])
    assert shipped["base"] == {"packs": {"corp": ["identity", "block"]}}
    plain, both = shipped["agents"]["plain"], shipped["agents"]["both"]
    assert (plain["base"], plain["packs"], set(plain["rules"]["actions"])) == (
        True, {"team": ["identity", "warn"]}, {"spend"})
    assert named(config, plain["rules"]["actions"]["spend"]) == {
        "spending_limit": ["corp/daily", "team/team-cap"]}
    assert (both["base"], both["packs"]) == (False, {"corp": ["both", "block"]})
    assert shipped["unknown"]["base"] is False


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_tables_evaluated_in_parallel_are_the_same(workers: int, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Many agents are split over several `opa eval` processes; the tables do not change."""
    from policypacks import resolve
    monkeypatch.setattr(resolve, "PARALLEL_FROM", 1)
    monkeypatch.setattr(resolve.os, "cpu_count", lambda: workers)
    shipped, computed = shipped_and_computed(compile_docs(tmp_path, matrix_repository(
        "agent_overrides", True)[0]))
    assert shipped == computed


# ---- which rule types a decision evaluates (precedence.input_types) -----------------

CONTENT = {"text": "hello"}
LIVE = [
    # agent, action, the rule types evaluated for it (the example repository: its
    # conditions pin refunds and discounts, its signature and rate cap e-mails; privacy
    # needs `data`, attachment `attachments`, tool_access `tool`, text rules `content`)
    ("support-bot", {"type": "spend", "amount": 5},         {"spending_limit"}),
    ("support-bot", {"type": "refund", "amount": 5},        {"condition"}),
    ("support-bot", {"type": "send_email"}, {"disclaimer", "rate_limit", "signature"}),
    ("support-bot", {"type": "send_email", "content": CONTENT},
     {"disclaimer", "formatting", "pii", "prohibited_topics", "rate_limit", "signature",
      "terminology", "tone"}),
    ("support-bot", {"type": "store_data"},                 {"retention"}),
    ("support-bot", {"type": "store_data", "data": {}},     {"privacy", "retention"}),
    ("support-bot", {"type": "send_email", "attachments": []},
     {"attachment", "disclaimer", "rate_limit", "signature"}),
    ("support-bot", {"type": "api_call", "tool": {"name": "x"}}, {"api_limit", "tool_access"}),
    ("support-bot", {"type": "api_call", "content": None},  {"api_limit"}),
    ("support-bot", {"type": "anything", "content": CONTENT},
     {"disclaimer", "formatting", "pii", "prohibited_topics", "terminology", "tone"}),
    ("data-bot", {"type": "export_data"},                   {"export"}),
]


def test_a_decision_evaluates_the_types_that_can_fire_on_its_action() -> None:
    compiled = compile_path(ROOT / "packs", "test")[1]
    answer = evaluate.query(compiled, "[t | some x in input; "
                                      "t := {prefix}.precedence.input_types with input as x]",
                            [{"agent": a, "action": action} for a, action, _ in LIVE])
    for (agent_id, action, expected), live in zip(LIVE, answer, strict=True):
        assert set(live) == expected, (agent_id, action)


ANYWHERE = {"id": "big", "type": "condition", "message": "big",
            "when": {"field": "action.amount", "gt": 10}}
FIRING = [
    # action, the rule types evaluated for it: a rule of any action (the condition, in
    # the scope-all pack) fires beside those its type lists, and alone on other types
    ({"type": "spend", "amount": 5},                          {"condition", "spending_limit"}),
    ({"type": "refund", "amount": 5},                         {"condition"}),
    ({"type": "send_email", "content": {"text": "hello"}},    {"condition", "prohibited_topics"}),
]


@pytest.mark.parametrize(("action", "expected"), FIRING)
def test_rules_of_any_action_fire_beside_those_of_the_action_type(
        action: dict[str, Any], expected: set[str], tmp_path: Path) -> None:
    docs = [identity(unknownAgents="block"), pack("corp", "block", [ANYWHERE]),
            pack("team", "warn", [daily_cap("team-cap", 50),
                                  {"id": "t", "type": "prohibited_topics",
                                   "topics": {"x": ["y"]}}], scope={"agents": ["a"]}),
            agent("a")]
    compiled = compile_docs(tmp_path, docs)
    live = evaluate.query(compiled, "{prefix}.precedence.input_types",
                          {"agent": "a", "action": action})
    assert set(live) == expected


def test_each_distinct_table_ships_once(tmp_path: Path) -> None:
    """Agents alike in their tables share one shipped table; the others get their own."""
    docs = [identity(unknownAgents="block"), pack("corp", "block", [daily_cap("daily", 100)]),
            pack("team", "warn", [daily_cap("team-cap", 50)],
                 scope={"agents": ["a", "b", "c"]}),
            pack("text", "warn", [{"id": "t", "type": "prohibited_topics",
                                   "topics": {"x": ["y"]}}], scope="none"),
            agent("a"), agent("b"), agent("c", [{"pack": "text"}])]
    config = compile_docs(tmp_path, docs).config
    resolved = config["resolved"]
    positions = resolved["agents"]
    assert positions["a"] == positions["b"] != positions["c"]
    assert len(resolved["tables"]) == len({json.dumps(t, sort_keys=True)
                                           for t in resolved["tables"]}) == 2
    carrying = resolved["tables"][positions["c"]]["rules"]["carrying"]
    assert list(carrying) == ["content"]
    assert named(config, carrying["content"]) == {"prohibited_topics": ["text/t"]}


def test_what_agents_are_grouped_by_is_all_precedence_reads(tmp_path: Path) -> None:
    """Agents are evaluated once per shape, a shape leaving out resolve.UNREAD: the
    precedence module must never read those fields of an Agent's data."""
    compiled = compile_docs(tmp_path, conflicts_repository("block"))
    module = compiled.modules[f"{compiled.root}/precedence/precedence.rego"]
    for field in UNREAD:
        assert f"].{field}" not in module and f'"{field}"' not in module, field
