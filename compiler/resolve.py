"""Part of step 3 (compile): evaluate precedence once, when the bundle is built.

Which packs an agent has, at which level and enforcement, and which of their rules are
suppressed depend only on the repository, never on the input. The precedence module
computes them for any agent (SPEC section 3); here ``opa eval`` runs its ``tables`` rule
over the data document once, and the result ships as ``config.resolved``: one table per
declared agent plus one for every undeclared agent. A decision then looks its agent's
table up and walks only that agent's active rules of each type. The rules stay the one
definition: the effective and conflicts views still evaluate them, and
tests/test_resolved_tables.py checks that the shipped tables equal what they compute.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .errors import OpaError
from .opa.binary import eval_json


def resolve_tables(root: str, modules: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    """``{"agents": {agent id: table}, "unknown": table}`` as the precedence rules compute
    them over ``config`` (see rego_templates/core/precedence.rego.j2).

    An agent's table depends on nothing of the agent but its Agent document
    (``config.agents[id]``) and the packs scoped to it (``config.scoped[id]``), so agents
    alike in both are evaluated once, through the first of them."""
    shapes: dict[str, str] = {}  # shape -> the agent evaluated for it
    shape_of: dict[str, str] = {}
    for agent_id in sorted(config["agents"]):
        shape = json.dumps([config["agents"][agent_id], config["scoped"].get(agent_id)],
                           sort_keys=True)
        shape_of[agent_id] = shapes.setdefault(shape, agent_id)
    evaluated = set(shapes.values())
    reduced = {**config,
               "agents": {a: v for a, v in config["agents"].items() if a in evaluated},
               "scoped": {a: v for a, v in config["scoped"].items() if a in evaluated}}
    tables = _evaluate(root, modules, reduced)
    return {"agents": {agent_id: tables["agents"][shape_of[agent_id]] for agent_id in shape_of},
            "base": tables["base"], "unknown": tables["unknown"]}


def _evaluate(root: str, modules: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    precedence = f"{root}/precedence/precedence.rego"
    with tempfile.TemporaryDirectory(prefix="policypacks-resolve-") as tmp:
        tree = Path(tmp)
        (tree / root / "config").mkdir(parents=True)
        (tree / root / "config" / "data.json").write_text(json.dumps(config))
        (tree / precedence).parent.mkdir(parents=True)
        (tree / precedence).write_text(modules[precedence])
        query = "data." + root.replace("/", ".") + ".precedence.tables"
        tables = eval_json(query, data=[tree])
    if not isinstance(tables, dict) or not isinstance(tables.get("agents"), dict):
        raise OpaError(f"opa eval of {query} gave no tables")
    return tables
