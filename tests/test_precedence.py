"""SPEC section 3 (scope, enforcement and precedence), decided by the real OPA.

Every expected value below was worked out by hand from SPEC, not from the code: the
tables read like the spec, one case per line. Each test compiles one repository for a
whole table and asks OPA about every row in a single batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
from support import agent, compile_docs, decide, identity, pack

from policypacks.opa import evaluate

IO, MR, AO = "identity_overrides", "most_restrictive", "agent_overrides"
MODES = (IO, MR, AO)
BLOCK, RA, WARN, ALLOW = "block", "require_approval", "warn", "allow"


def always(rule_id: str = "always", **extra: Any) -> dict[str, Any]:
    """A condition rule every input with action.type `go` violates."""
    return {"id": rule_id, "type": "condition",
            "when": {"field": "action.type", "equals": "go"}, **extra}


def flagged(rule_id: str, flag: str, **extra: Any) -> dict[str, Any]:
    """A condition rule violated when `flag` is in action.flags."""
    return {"id": rule_id, "type": "condition",
            "when": {"field": "action.flags", "contains": flag}, **extra}


def daily_cap(rule_id: str, cap: float, currency: str = "USD", period: str = "day",
              **extra: Any) -> dict[str, Any]:
    return {"id": rule_id, "type": "spending_limit", "max": cap, "currency": currency,
            "period": period, **extra}


def all_effective(root: Path, documents: list[dict[str, Any]]) -> dict[str, Any]:
    compiled = compile_docs(root, documents)
    return evaluate.query(compiled, "{prefix}.effective")


def check(failures: list[str]) -> None:
    assert not failures, f"{len(failures)} row(s) disagree with SPEC:\n" + "\n".join(failures)


# ---------------------------------------------------------------------------------------
# 1. The precedence that applies (SPEC 3: agent_overrides only with allowAgentOverrides)
# ---------------------------------------------------------------------------------------

# requested precedence    allowAgentOverrides -> applied precedence
APPLIED = {
    (IO, True): IO,
    (IO, False): IO,
    (MR, True): MR,
    (MR, False): MR,
    (AO, True): AO,
    (AO, False): IO,  # falls back, and the effective view says so
}

# ---------------------------------------------------------------------------------------
# 2. Pack enforcement for an agent (SPEC 3), by applied precedence and level.
#    "attachment" is the attachment's `enforcement` (None: not set, i.e. the pack's).
# ---------------------------------------------------------------------------------------

# applied  level       pack  attachment  overridable -> pack enforcement for the agent
ENFORCEMENT = [
    (IO, "identity", RA, None, True, RA),
    (IO, "identity", RA, None, False, RA),
    (IO, "agent", RA, None, True, RA),
    (IO, "agent", RA, None, False, RA),
    (IO, "agent", RA, WARN, True, WARN),
    (IO, "agent", RA, WARN, False, WARN),  # overridable limits only agent_overrides
    (IO, "agent", WARN, BLOCK, True, BLOCK),
    (IO, "agent", WARN, BLOCK, False, BLOCK),
    (IO, "both", RA, None, True, RA),
    (IO, "both", RA, None, False, RA),
    (IO, "both", RA, WARN, True, RA),
    (IO, "both", RA, WARN, False, RA),
    (IO, "both", WARN, BLOCK, True, WARN),
    (IO, "both", WARN, BLOCK, False, WARN),
    (MR, "identity", RA, None, True, RA),
    (MR, "identity", RA, None, False, RA),
    (MR, "agent", RA, None, True, RA),
    (MR, "agent", RA, None, False, RA),
    (MR, "agent", RA, WARN, True, WARN),
    (MR, "agent", RA, WARN, False, WARN),
    (MR, "agent", WARN, BLOCK, True, BLOCK),
    (MR, "agent", WARN, BLOCK, False, BLOCK),
    (MR, "both", RA, None, True, RA),
    (MR, "both", RA, None, False, RA),
    (MR, "both", RA, WARN, True, RA),
    (MR, "both", RA, WARN, False, RA),
    (MR, "both", WARN, BLOCK, True, BLOCK),
    (MR, "both", WARN, BLOCK, False, BLOCK),
    (AO, "identity", RA, None, True, RA),
    (AO, "identity", RA, None, False, RA),
    (AO, "agent", RA, None, True, RA),
    (AO, "agent", RA, None, False, RA),
    (AO, "agent", RA, WARN, True, WARN),
    (AO, "agent", RA, WARN, False, WARN),
    (AO, "agent", WARN, BLOCK, True, BLOCK),
    (AO, "agent", WARN, BLOCK, False, BLOCK),
    (AO, "both", RA, None, True, RA),
    (AO, "both", RA, None, False, RA),
    (AO, "both", RA, WARN, True, WARN),
    (AO, "both", RA, WARN, False, RA),
    (AO, "both", WARN, BLOCK, True, BLOCK),
    (AO, "both", WARN, BLOCK, False, WARN),
]
EXPECTED_ENFORCEMENT = {row[:5]: row[5] for row in ENFORCEMENT}
LEVEL_SHAPES = sorted({row[1:4] for row in ENFORCEMENT}, key=str)


@dataclass(frozen=True)
class MatrixRow:
    agent: str
    source: str  # where the precedence is set: "identity" or "agent"
    requested: str
    level: str
    pack_enforcement: str
    attachment: str | None
    overridable: bool


def matrix_repository(identity_precedence: str, allow_overrides: bool
                      ) -> tuple[list[dict[str, Any]], list[MatrixRow]]:
    """One agent and one pack per row: precedence set on the identity (the agent sets
    none) and, separately, on the agent (each other mode), at every level shape."""
    documents: list[dict[str, Any]] = [identity(precedence=identity_precedence,
                                                allowAgentOverrides=allow_overrides)]
    rows = []
    sources = [("identity", None)] + [("agent", m) for m in MODES if m != identity_precedence]
    for source, agent_precedence in sources:
        for level, pack_enf, attachment in LEVEL_SHAPES:
            for overridable in (True, False):
                name = f"a{len(rows)}"
                scope: Any = {"agents": [name]} if level in ("identity", "both") else "none"
                documents.append(pack(f"p-{name}", pack_enf, [always()], scope=scope,
                                      overridable=overridable))
                attachments = []
                if level in ("agent", "both"):
                    attachments = [{"pack": f"p-{name}"} if attachment is None
                                   else {"pack": f"p-{name}", "enforcement": attachment}]
                spec = {"precedence": agent_precedence} if agent_precedence else {}
                documents.append(agent(name, attachments, **spec))
                rows.append(MatrixRow(name, source, agent_precedence or identity_precedence,
                                      level, pack_enf, attachment, overridable))
    return documents, rows


@pytest.mark.parametrize("allow_overrides", [True, False])
@pytest.mark.parametrize("identity_precedence", MODES)
def test_precedence_matrix(identity_precedence: str, allow_overrides: bool,
                           tmp_path: Path) -> None:
    documents, rows = matrix_repository(identity_precedence, allow_overrides)
    results = decide(tmp_path / "d", documents,
                     [{"agent": r.agent, "action": {"type": "go"}} for r in rows])
    views = all_effective(tmp_path / "e", documents)
    failures = []
    for row, result in zip(rows, results, strict=True):
        applied = APPLIED[row.requested, allow_overrides]
        expected = EXPECTED_ENFORCEMENT[applied, row.level, row.pack_enforcement,
                                        row.attachment, row.overridable]
        got = [(v["pack"], v["rule"], v["enforcement"], v["level"])
               for v in result["violations"]]
        want = [(f"p-{row.agent}", "always", expected, row.level)]
        view = views[row.agent]
        view_pack = view["packs"][0] if len(view["packs"]) == 1 else None
        if (result["decision"] != expected or got != want or view_pack is None
                or (view_pack["level"], view_pack["enforcement"]) != (row.level, expected)
                or (view["precedence"]["requested"], view["precedence"]["applied"])
                != (row.requested, applied)):
            failures.append(f"{row} (applied {applied}): expected {expected}, got "
                            f"{result['decision']} {got}; effective {view}")
        if row.requested != applied and "allowAgentOverrides" not in view["precedence"]["note"]:
            failures.append(f"{row}: the effective view does not say why {row.requested} "
                            f"became {applied}: {view['precedence']}")
    check(failures)


# ---------------------------------------------------------------------------------------
# 3. Conflict groups and `suppressed` (SPEC 3)
# ---------------------------------------------------------------------------------------

# Every pack of the conflict tables. Spending limits share the conflict key
# spending_limit:CUR:PERIOD unless they set `key`.
CONFLICT_PACKS = {
    "corp": dict(enforcement=BLOCK, rules=[daily_cap("daily", 100)]),
    "team": dict(enforcement=WARN, rules=[daily_cap("daily", 50)]),
    "fixed": dict(enforcement=RA, overridable=False, rules=[daily_cap("daily", 80)]),
    # two rules of one pack in one group: `by` names the first by rule id (m-cap)
    "alpha": dict(enforcement=BLOCK, rules=[daily_cap("z-cap", 100), daily_cap("m-cap", 100)]),
    "euro": dict(enforcement=BLOCK, rules=[daily_cap("daily", 100, currency="EUR")]),
    "lower": dict(enforcement=BLOCK, rules=[daily_cap("daily", 100, currency="usd")]),
    "month": dict(enforcement=BLOCK, rules=[daily_cap("daily", 100, period="month")]),
    "keyed": dict(enforcement=BLOCK, rules=[daily_cap("daily", 100, key="budget")]),
    "keyed2": dict(enforcement=WARN, rules=[flagged("refund-check", "refund", key="budget")]),
    "tone": dict(enforcement=WARN, rules=[flagged("casual", "casual")]),  # own key: none
}


@dataclass(frozen=True)
class ConflictRow:
    agent: str
    identity_precedence: str
    allow_overrides: bool
    agent_precedence: str | None
    identity_level: str  # packs whose scope lists the agent (space-separated)
    agent_level: str  # packs the agent attaches (space-separated)
    reason: str  # the precedence actually applied
    suppressed: str  # "pack/rule by pack/rule; ..." with `reason` as the reason

    def expected_suppressed(self) -> list[dict[str, str]]:
        entries = []
        for item in filter(None, self.suppressed.split("; ")):
            loser, by = item.split(" by ")
            pack_id, rule_id = loser.split("/")
            entries.append({"pack": pack_id, "rule": rule_id, "by": by, "reason": self.reason})
        return sorted(entries, key=lambda e: (e["pack"], e["rule"]))


R = ConflictRow
CONFLICTS = [
    # agent         identity allowAO agent  identity level  agent level  applied  suppressed
    R("io-basic",     IO, True,  None, "corp",       "team",       IO, "team/daily by corp/daily"),
    R("mr-basic",     IO, True,  MR,   "corp",       "team",       MR, ""),
    R("ao-basic",     IO, True,  AO,   "corp",       "team",       AO, "corp/daily by team/daily"),
    R("ao-fixed",     IO, True,  AO,   "fixed",      "team",       AO, ""),
    R("ao-mixed",     IO, True,  AO,   "corp fixed", "team",       AO, "corp/daily by team/daily"),
    R("io-first-by",  IO, True,  None, "corp alpha", "team",       IO, "team/daily by alpha/m-cap"),
    R("ao-first-by",  IO, True,  AO,   "corp",       "team alpha", AO, "corp/daily by alpha/m-cap"),
    R("io-many",      IO, True,  None, "corp",       "team alpha", IO,
      "alpha/m-cap by corp/daily; alpha/z-cap by corp/daily; team/daily by corp/daily"),
    R("ao-many",      IO, True,  AO,   "corp alpha", "team",       AO,
      "alpha/m-cap by team/daily; alpha/z-cap by team/daily; corp/daily by team/daily"),
    R("io-no-ident",  IO, True,  None, "",           "team alpha", IO, ""),
    R("ao-no-agent",  IO, True,  AO,   "corp alpha", "",           AO, ""),
    R("io-both",      IO, True,  None, "corp",       "corp team",  IO, "team/daily by corp/daily"),
    R("ao-both",      IO, True,  AO,   "corp",       "corp team",  AO, "corp/daily by team/daily"),
    R("ao-both-only", IO, True,  AO,   "corp",       "corp",       AO, ""),
    R("ao-both-two",  IO, True,  AO,   "corp team",  "corp",       AO, ""),
    R("io-currency",  IO, True,  None, "corp",       "euro",       IO, ""),
    R("io-cur-case",  IO, True,  None, "corp",       "lower",      IO, "lower/daily by corp/daily"),
    R("io-period",    IO, True,  None, "corp",       "month",      IO, ""),
    R("io-key-wins",  IO, True,  None, "keyed",      "team",       IO, ""),
    R("io-key-pair",  IO, True,  None, "keyed",      "keyed2",     IO,
      "keyed2/refund-check by keyed/daily"),
    R("ao-key-pair",  IO, True,  AO,   "keyed",      "keyed2",     AO,
      "keyed/daily by keyed2/refund-check"),
    R("io-own-key",   IO, True,  None, "corp",       "tone",       IO, ""),
    R("mr-ident",     MR, True,  None, "corp",       "team",       MR, ""),
    R("mr-ident-io",  MR, True,  IO,   "corp",       "team",       IO, "team/daily by corp/daily"),
    R("ao-ident",     AO, True,  None, "corp",       "team",       AO, "corp/daily by team/daily"),
    # allowAgentOverrides false: agent_overrides falls back to identity_overrides
    R("ao-fallback",  IO, False, AO,   "corp",       "team",       IO, "team/daily by corp/daily"),
    R("ao-fall-id",   AO, False, None, "corp",       "team",       IO, "team/daily by corp/daily"),
    R("ao-fall-mr",   AO, False, MR,   "corp",       "team",       MR, ""),
    R("ao-fall-fix",  AO, False, None, "fixed",      "team",       IO, "team/daily by fixed/daily"),
]


def conflict_repository(rows: list[ConflictRow]) -> list[dict[str, Any]]:
    first = rows[0]
    documents = [identity(precedence=first.identity_precedence,
                          allowAgentOverrides=first.allow_overrides)]
    for pack_id, spec in CONFLICT_PACKS.items():
        listed = [r.agent for r in rows if pack_id in r.identity_level.split()]
        documents.append(pack(pack_id, scope={"agents": listed} if listed else "none",
                              category="operational", **spec))
    for row in rows:
        extra = {"precedence": row.agent_precedence} if row.agent_precedence else {}
        documents.append(agent(row.agent, row.agent_level.split(), **extra))
    return documents


def repo_settings(row: ConflictRow) -> tuple[str, bool]:
    return row.identity_precedence, row.allow_overrides


CONFLICT_REPOS = [list(rows) for _, rows in groupby(sorted(CONFLICTS, key=repo_settings),
                                                    key=repo_settings)]


@pytest.mark.parametrize("rows", CONFLICT_REPOS,
                         ids=[f"{r[0].identity_precedence}-allow-{r[0].allow_overrides}"
                              for r in CONFLICT_REPOS])
def test_conflict_groups_list_every_suppressed_rule(rows: list[ConflictRow],
                                                    tmp_path: Path) -> None:
    documents = conflict_repository(rows)
    # `noop` violates nothing: suppressed still lists every suppressed rule.
    results = decide(tmp_path / "d", documents,
                     [{"agent": r.agent, "action": {"type": "noop"}} for r in rows])
    views = all_effective(tmp_path / "e", documents)
    failures = []
    for row, result in zip(rows, results, strict=True):
        want = row.expected_suppressed()
        got = sorted(result["suppressed"], key=lambda e: (e["pack"], e["rule"]))
        if got != want or result["decision"] != ALLOW:
            failures.append(f"{row.agent}: suppressed {got} != {want} ({result['decision']})")
        view = views[row.agent]
        got_view = sorted(view["suppressed"], key=lambda e: (e["pack"], e["rule"]))
        if got_view != want or view["precedence"]["applied"] != row.reason:
            failures.append(f"{row.agent}: effective view {view['precedence']} suppressed "
                            f"{got_view} != {want}")
    check(failures)


# Decisions with conflicts: suppressed rules never count; all others do.
# agent         amount (USD) -> decision  violated "pack/rule:enforcement"
CONFLICT_DECISIONS = [
    ("io-basic",    60,  ALLOW, ""),                              # team/daily suppressed
    ("io-basic",    150, BLOCK, "corp/daily:block"),
    ("mr-basic",    60,  WARN,  "team/daily:warn"),
    ("mr-basic",    150, BLOCK, "corp/daily:block team/daily:warn"),
    ("ao-basic",    60,  WARN,  "team/daily:warn"),
    ("ao-basic",    150, WARN,  "team/daily:warn"),               # corp/daily suppressed
    ("ao-fixed",    90,  RA,    "fixed/daily:require_approval team/daily:warn"),
    ("ao-mixed",    150, RA,    "fixed/daily:require_approval team/daily:warn"),
    ("io-both",     150, BLOCK, "corp/daily:block"),
    ("ao-both",     150, WARN,  "team/daily:warn"),
    ("io-cur-case", 150, BLOCK, "corp/daily:block"),
    ("io-currency", 150, BLOCK, "corp/daily:block"),              # euro: another currency
    ("ao-fallback", 60,  ALLOW, ""),
    ("ao-fallback", 150, BLOCK, "corp/daily:block"),
    ("ao-fall-fix", 90,  RA,    "fixed/daily:require_approval"),
]


def violated(result: dict[str, Any]) -> str:
    return " ".join(f"{v['pack']}/{v['rule']}:{v['enforcement']}" for v in result["violations"])


def test_suppressed_rules_do_not_decide(tmp_path: Path) -> None:
    failures = []
    for rows in CONFLICT_REPOS:
        agents = {r.agent for r in rows}
        cases = [c for c in CONFLICT_DECISIONS if c[0] in agents]
        if not cases:
            continue
        documents = conflict_repository(rows)
        inputs = [{"agent": a, "action": {"type": "spend", "amount": amount, "currency": "USD"}}
                  for a, amount, _, _ in cases]
        results = decide(tmp_path / rows[0].agent, documents, inputs)
        for (agent_id, amount, decision, want), result in zip(cases, results, strict=True):
            if (result["decision"], violated(result)) != (decision, want):
                failures.append(f"{agent_id} spending {amount}: expected {decision} [{want}], "
                                f"got {result['decision']} [{violated(result)}]")
    check(failures)


# ---------------------------------------------------------------------------------------
# 4. Decision: the strictest violated rule; a rule's own enforcement (SPEC 3)
# ---------------------------------------------------------------------------------------

STRICTNESS_PACKS = [
    pack("blk", BLOCK, [flagged("r", "blk")], scope="none"),
    pack("apr", RA, [flagged("r", "apr")], scope="none"),
    pack("wrn", WARN, [flagged("r", "wrn")], scope="none"),
    # rules with their own enforcement keep it, whatever the pack or attachment says
    pack("mixed", BLOCK, [flagged("soft", "soft"), flagged("gentle", "gentle", enforcement=WARN),
                          flagged("firm", "firm", enforcement=RA)], scope="none"),
]

# agent    action.flags  -> decision  violated "pack/rule:enforcement", strictest first
STRICTNESS = [
    ("plain",   "",            ALLOW, ""),
    ("plain",   "wrn",         WARN,  "wrn/r:warn"),
    ("plain",   "apr",         RA,    "apr/r:require_approval"),
    ("plain",   "blk",         BLOCK, "blk/r:block"),
    ("plain",   "blk wrn",     BLOCK, "blk/r:block wrn/r:warn"),
    ("plain",   "apr wrn",     RA,    "apr/r:require_approval wrn/r:warn"),
    ("plain",   "blk apr",     BLOCK, "blk/r:block apr/r:require_approval"),
    ("plain",   "wrn apr blk", BLOCK, "blk/r:block apr/r:require_approval wrn/r:warn"),
    ("plain",   "soft",        BLOCK, "mixed/soft:block"),
    ("plain",   "gentle",      WARN,  "mixed/gentle:warn"),
    ("plain",   "firm",        RA,    "mixed/firm:require_approval"),
    ("plain",   "gentle firm", RA,    "mixed/firm:require_approval mixed/gentle:warn"),
    ("relaxed", "soft",        WARN,  "mixed/soft:warn"),             # attachment: warn
    ("relaxed", "firm",        RA,    "mixed/firm:require_approval"), # the rule keeps its own
    ("relaxed", "gentle blk",  WARN,  "blk/r:warn mixed/gentle:warn"),
    ("strict",  "gentle",      WARN,  "mixed/gentle:warn"),           # attachment: block
    ("strict",  "wrn",         BLOCK, "wrn/r:block"),
]

STRICTNESS_AGENTS = [
    agent("plain", ["blk", "apr", "wrn", "mixed"]),
    agent("relaxed", [{"pack": p, "enforcement": WARN} for p in ("blk", "apr", "wrn", "mixed")],
          precedence=AO),
    agent("strict", [{"pack": p, "enforcement": BLOCK} for p in ("blk", "apr", "wrn", "mixed")],
          precedence=MR),
]


def test_decision_is_the_strictest_violated_rule(tmp_path: Path) -> None:
    documents = [identity(allowAgentOverrides=True), *STRICTNESS_PACKS, *STRICTNESS_AGENTS]
    results = decide(tmp_path, documents, [{"agent": a, "action": {"type": "x", "flags": f.split()}}
                                           for a, f, _, _ in STRICTNESS])
    failures = []
    for (agent_id, flags, decision, want), result in zip(STRICTNESS, results, strict=True):
        if (result["decision"], violated(result)) != (decision, want):
            failures.append(f"{agent_id} [{flags}]: expected {decision} [{want}], got "
                            f"{result['decision']} [{violated(result)}]")
    check(failures)


# ---------------------------------------------------------------------------------------
# 5. Scope, and agents no Agent document declares (SPEC 3)
# ---------------------------------------------------------------------------------------

SCOPE_PACKS = [
    pack("everyone", WARN, [always()], scope="all"),
    pack("listed", BLOCK, [always()], scope={"agents": ["a1", "a2", "ghost"]}),
    pack("nobody", RA, [always()], scope="none"),
]
SCOPE_AGENTS = [agent("a1"), agent("a2", ["nobody"]), agent("a3"), agent("a4", ["nobody"])]

# unknownAgents agent  -> decision  violated "pack/rule:type:enforcement:level"
SCOPE = [
    ("block",    "a1",    BLOCK, "listed/always:condition:block:identity "
                                 "everyone/always:condition:warn:identity"),
    ("block",    "a2",    BLOCK, "listed/always:condition:block:identity "
                                 "nobody/always:condition:require_approval:agent "
                                 "everyone/always:condition:warn:identity"),
    ("block",    "a3",    WARN,  "everyone/always:condition:warn:identity"),
    ("block",    "a4",    RA,    "nobody/always:condition:require_approval:agent "
                                 "everyone/always:condition:warn:identity"),
    ("block",    "ghost", BLOCK, "_system/unknown-agent:unknown_agent:block:identity"),
    ("defaults", "a1",    BLOCK, "listed/always:condition:block:identity "
                                 "everyone/always:condition:warn:identity"),
    # `listed` names ghost, but an undeclared agent gets only the scope-all packs
    ("defaults", "ghost", WARN,  "everyone/always:condition:warn:identity"),
    ("defaults", "other", WARN,  "everyone/always:condition:warn:identity"),
]


@pytest.mark.parametrize("unknown", ["block", "defaults"])
def test_scope_and_unknown_agents(unknown: str, tmp_path: Path) -> None:
    cases = [c for c in SCOPE if c[0] == unknown]
    documents = [identity(unknownAgents=unknown), *SCOPE_PACKS, *SCOPE_AGENTS]
    results = decide(tmp_path, documents, [{"agent": a, "action": {"type": "go"}}
                                           for _, a, _, _ in cases])
    failures = []
    for (_, agent_id, decision, want), result in zip(cases, results, strict=True):
        got = " ".join(f"{v['pack']}/{v['rule']}:{v['type']}:{v['enforcement']}:{v['level']}"
                       for v in result["violations"])
        if (result["decision"], got, result["agent"]) != (decision, want, agent_id):
            failures.append(f"{unknown}/{agent_id}: expected {decision} [{want}], got "
                            f"{result['decision']} [{got}]")
    check(failures)


def test_unknown_agent_under_defaults_resolves_no_conflicts_against_scoped_packs(
        tmp_path: Path) -> None:
    """An undeclared agent gets the identity's precedence and only scope-all packs, so a
    scoped pack that names it neither applies nor suppresses anything."""
    documents = [
        identity(unknownAgents="defaults", precedence=AO, allowAgentOverrides=True),
        pack("base", BLOCK, [daily_cap("daily", 100)], scope="all"),
        pack("named", WARN, [daily_cap("daily", 10)], scope={"agents": ["ghost"]}),
        agent("known"),
    ]
    [ghost, known] = decide(tmp_path, documents, [
        {"agent": "ghost", "action": {"type": "spend", "amount": 50}},
        {"agent": "known", "action": {"type": "spend", "amount": 150}},
    ])
    assert (ghost["decision"], ghost["violations"], ghost["suppressed"]) == (ALLOW, [], [])
    assert known["decision"] == BLOCK
    assert [v["pack"] for v in known["violations"]] == ["base"]
