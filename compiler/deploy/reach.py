"""What a decision reads of a bundle's data, so a replay can tell the inputs a change
cannot reach.

A decision is a function of its input, the bundle's Rego and the data the Rego reads for
that input. Since the build resolves precedence into per-agent tables
(compiler/resolve.py), what it reads is narrow: the identity, the agent's table (and
the base's packs when it applies), the groups of its rules that fire on the action
(precedence.rego: input_groups), the rules those groups name, their violation fields,
the agent's waivers and the escalation rules its table's routes name. ``reached`` is
exactly that part of the ``config`` document, a document OPA can decide the input with
in place of the whole (tests/test_reach.py decides inputs both ways and requires the
same decisions).

When two bundles have the same Rego and the same reached data for an input (revision and
digest aside, which a decision only echoes), they decide it alike: replay asks neither
OPA (docs/replay.md). Inputs whose shape the tables do not govern (a tool call, which a
binding maps to another action; a malformed agent or action) are always decided.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..resolve import table_of
from .publish import Bundle

Echoed = ("revision", "bundle")  # what a decision shows of the data without judging by it


def selector(action_input: Any) -> tuple[str, str, frozenset[str]] | None:
    """(agent, action type, fields the action carries) that pick what a decision reads,
    or None for an input the tables do not govern on their own."""
    if not isinstance(action_input, dict) or "tool" in action_input:
        return None
    agent, action = action_input.get("agent"), action_input.get("action")
    if not isinstance(agent, str) or not isinstance(action, dict) or "tool" in action:
        return None
    kind = action.get("type")
    if not isinstance(kind, str):
        return None
    # precedence.rego: a `carrying` group fires when input.action[field] != null
    return agent, kind, frozenset(k for k, v in action.items() if v is not None)


def reached(config: dict[str, Any], agent: str, kind: str,
            carried: frozenset[str]) -> dict[str, Any]:
    """The part of ``config`` the decision of such an input reads, as a config document
    of its own: the agent's table as table 0, with only the groups that fire on the
    action, and of each rule type only the rules those groups and the table's routes
    name, renumbered in the order they name them (so a rule elsewhere in the repository,
    which moves the others' positions in config.rules, reaches nothing)."""
    resolved = config["resolved"]
    declared = agent in config["agents"]
    table = table_of(resolved, agent)
    rules: dict[str, list[Any]] = {}
    renumbered: dict[tuple[str, int], int] = {}

    def keep(rule_type: str, at: int) -> int:
        if (rule_type, at) not in renumbered:
            kept = rules.setdefault(rule_type, [])
            renumbered[(rule_type, at)] = len(kept)
            kept.append(config["rules"][rule_type][at])
        return renumbered[(rule_type, at)]

    grouping = _fired(table["rules"], kind, carried, keep)
    routes = {pack_id: {rule_id: [[position, keep("escalation", at), actions]
                                  for position, at, actions in candidates]
                        for rule_id, candidates in by_rule.items()}
              for pack_id, by_rule in table["routes"].items()}
    kept_table = {**table, "rules": grouping, "routes": routes}
    kept_resolved: dict[str, Any] = {"tables": [kept_table] if declared else [],
                                     "agents": {agent: 0} if declared else {}}
    if not declared:
        kept_resolved["unknown"] = kept_table
    if table.get("base"):
        kept_resolved["base"] = resolved["base"]
    fields: dict[str, dict[str, Any]] = {}
    for rule_type, kept in rules.items():
        for rule in kept if rule_type != "escalation" else ():  # never violated
            fields.setdefault(rule["pack"], {})[rule["id"]] = \
                config["violation_fields"][rule["pack"]][rule["id"]]
    out: dict[str, Any] = {
        "identity": config["identity"],
        "agents": {agent: config["agents"][agent]} if declared else {},
        "resolved": kept_resolved,
        "rules": rules,
        "violation_fields": fields,
        "waivers": {agent: config["waivers"][agent]} if agent in config["waivers"] else {},
    }
    for key in Echoed:
        if key in config:
            out[key] = config[key]
    return out


def _fired(grouping: dict[str, Any], kind: str, carried: frozenset[str],
           keep: Callable[[str, int], int]) -> dict[str, Any]:
    """A table's grouping cut to the groups that fire on the action, each rule named by
    what ``keep`` renumbers it to."""
    def renumbered(group: dict[str, list[int]]) -> dict[str, list[int]]:
        return {rule_type: [keep(rule_type, at) for at in refs]
                for rule_type, refs in sorted(group.items())}

    return {"any": renumbered(grouping["any"]),
            "carrying": {name: renumbered(group) for name, group
                         in sorted(grouping["carrying"].items()) if name in carried},
            "actions": {kind: renumbered(grouping["actions"][kind])}
            if kind in grouping["actions"] else {}}


def unaffected(old: Bundle, new: Bundle) -> Callable[[Any], bool]:
    """Whether the two bundles must decide an input alike: same Rego, same data beside
    the config document, and the same reached data for the input's agent and action."""
    config_path = f"{new.root}/config"
    others = {path for path in {*old.data, *new.data}
              if path not in (config_path, f"{config_path}/bundle")}
    configs = [c for c in (old.data.get(config_path), new.data.get(config_path))
               if isinstance(c, dict)]
    if (old.modules != new.modules or any(old.data.get(p) != new.data.get(p) for p in others)
            or len(configs) != 2):
        return lambda action_input: False
    known: dict[tuple[str, str, frozenset[str]], bool] = {}

    def alike(action_input: Any) -> bool:
        key = selector(action_input)
        if key is None:
            return False
        if key not in known:
            try:
                old_reached, new_reached = (_judged(reached(c, *key)) for c in configs)
            except (KeyError, IndexError, TypeError, ValueError):
                # not the config this version builds (an older bundle): decide it
                old_reached, new_reached = "old", "new"
            known[key] = old_reached == new_reached
        return known[key]

    return alike


def _judged(document: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in document.items() if k not in Echoed}, sort_keys=True)
