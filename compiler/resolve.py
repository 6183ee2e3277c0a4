"""Part of step 3 (compile): evaluate precedence once, when the bundle is built.

Which packs an agent has, at which level and enforcement, and which of their rules are
suppressed depend only on the repository, never on the input. The precedence module
computes them for any agent (SPEC section 3); here ``opa eval`` runs its ``tables`` rule
over the data document once, and the result ships as ``config.resolved``: one table per
declared agent plus one for every undeclared agent. A decision then looks its agent's
table up and walks only that agent's active rules of each type. The rules stay the one
definition: the effective and conflicts views still evaluate them, and
tests/test_resolved_tables.py checks that the shipped tables equal what they compute.

The tables ship ``packed``: an agent's table is alike for many agents (those that
attach the same packs alike), so each distinct table is stored once, in the list
``config.resolved.tables``, and ``config.resolved.agents`` maps an agent to its position
there. OPA holds every copy of a JSON object apart, and the read-optimized store a
sidecar runs with (opa/binary.py: STORE_ARGS) holds each as Rego values, about twice the
memory: 10,000 copies of the same table would be tens of MB of it.
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .errors import OpaError
from .opa.binary import eval_json


def resolve_tables(root: str, modules: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    """``{"agents": {agent id: table}, "unknown": table}`` as the precedence rules compute
    them over ``config`` (see rego_templates/core/precedence.rego.j2).

    An agent's table depends on nothing of the agent but what the precedence rules read
    of its Agent document (``config.agents[id]`` without its display ``name``) and the
    packs scoped to it (``config.scoped[id]``), so agents alike in both are evaluated
    once, through the first of them."""
    read = _read_by_precedence(config)
    shapes: dict[str, str] = {}  # shape -> the agent evaluated for it
    shape_of: dict[str, str] = {}
    for agent_id in sorted(read["agents"]):
        shape = json.dumps([read["agents"][agent_id], read["scoped"].get(agent_id)],
                           sort_keys=True)
        shape_of[agent_id] = shapes.setdefault(shape, agent_id)
    evaluated = sorted(set(shapes.values()))
    # Tables of different agents do not depend on one another: many agents are evaluated
    # in parallel `opa eval` processes, each given only its own agents' documents.
    chunks = _chunks(evaluated)
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        results = list(pool.map(lambda part: _evaluate(root, modules, _reduced(read, part)),
                                chunks))
    tables: dict[str, Any] = {}
    for result in results:
        tables.update(result["agents"])
    return {"agents": {agent_id: tables[shape_of[agent_id]] for agent_id in shape_of},
            "base": results[0]["base"], "unknown": results[0]["unknown"]}


# Below this many agents one process is quicker than starting several.
PARALLEL_FROM = 2000


def _chunks(agents: list[str]) -> list[list[str]]:
    workers = min(os.cpu_count() or 1, 4) if len(agents) >= PARALLEL_FROM else 1
    size = -(-len(agents) // workers) or 1
    return [agents[i:i + size] for i in range(0, len(agents), size)] or [[]]


# What the precedence rules read of a rule: in config.packs, its conflict key, type, own
# enforcement and position in config.rules[type]; of config.rules, only the escalation
# rules (all of them, for routes).
RULE_FIELDS = ("key", "type", "enforcement", "at")
# Fields of an Agent's data that precedence.rego never reads (a test holds it to that).
UNREAD = frozenset({"name"})


def _read_by_precedence(config: dict[str, Any]) -> dict[str, Any]:
    """The data document without what the precedence rules never read (rule parameters,
    messages, tools, waivers, agents' names...), so `opa eval` loads a fraction of it and
    agents alike in what it reads are evaluated once. The shipped tables are checked
    against the rules evaluated over the whole document (tests/test_resolved_tables.py)."""
    packs = {pack_id: {**pack, "rules": {rule_id: {k: rule[k] for k in RULE_FIELDS if k in rule}
                                         for rule_id, rule in pack["rules"].items()}}
             for pack_id, pack in config["packs"].items()}
    rules = {"escalation": config["rules"]["escalation"]} if "escalation" in config["rules"] \
        else {}
    agents = {agent_id: {k: v for k, v in agent.items() if k not in UNREAD}
              for agent_id, agent in config["agents"].items()}
    kept = ("identity", "scope_all", "scoped", "fires_on")
    return {**{key: config[key] for key in kept}, "agents": agents, "packs": packs,
            "rules": rules}


def _reduced(config: dict[str, Any], agents: list[str]) -> dict[str, Any]:
    """The data document with only these agents (and the packs scoped to them)."""
    return {**config,
            "agents": {a: config["agents"][a] for a in agents},
            "scoped": {a: config["scoped"][a] for a in agents if a in config["scoped"]}}


# What `tables` is computed from: the precedence rules, and the escalation rule type's
# matching (which of an agent's rules each of its escalation rules can route).
TABLE_MODULES = ("precedence/precedence.rego", "rules/escalation/escalation.rego")


def _evaluate(root: str, modules: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    query = "data." + root.replace("/", ".") + ".precedence.tables"
    with tempfile.TemporaryDirectory(prefix="policypacks-resolve-") as tmp:
        tree = Path(tmp)
        (tree / root / "config").mkdir(parents=True)
        (tree / root / "config" / "data.json").write_text(json.dumps(config))
        for module in (f"{root}/{name}" for name in TABLE_MODULES):
            (tree / module).parent.mkdir(parents=True)
            (tree / module).write_text(modules[module])
        tables = eval_json(query, data=[tree], raw=True)
    if not isinstance(tables, dict) or not isinstance(tables.get("agents"), dict):
        raise OpaError(f"opa eval of {query} gave no tables")
    return tables


def packed(tables: dict[str, Any]) -> dict[str, Any]:
    """The tables as they ship: every distinct table once, in the list ``tables`` (in the
    order of the first agent by id that has it: the same repository gives the same
    bundle), and each declared agent mapped to its position there. The unknown agents'
    table and the base ship as they are."""
    shipped: list[dict[str, Any]] = []
    position: dict[str, int] = {}
    done: dict[int, int] = {}  # agents alike share one table object: compare it once

    def refer(table: dict[str, Any]) -> int:
        if id(table) not in done:
            key = json.dumps(table, sort_keys=True)
            if key not in position:
                position[key] = len(shipped)
                shipped.append(table)
            done[id(table)] = position[key]
        return done[id(table)]

    agents = {agent_id: refer(tables["agents"][agent_id]) for agent_id in sorted(tables["agents"])}
    return {"agents": agents, "base": tables["base"], "unknown": tables["unknown"],
            "tables": shipped}


def unpacked(shipped: dict[str, Any]) -> dict[str, Any]:
    """The tables as the precedence rules compute them (the inverse of ``packed``)."""
    return {"agents": {agent_id: shipped["tables"][position]
                       for agent_id, position in shipped["agents"].items()},
            "base": shipped["base"], "unknown": shipped["unknown"]}


def table_of(shipped: dict[str, Any], agent: Any) -> dict[str, Any]:
    """The table a decision reads for this ``input.agent`` (precedence.input_table)."""
    position = shipped["agents"].get(agent) if isinstance(agent, str) else None
    return shipped["tables"][position] if position is not None else shipped["unknown"]
