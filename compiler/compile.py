"""Step 3 of the pipeline: turn a validated repository into Rego modules plus data.

The Rego is fixed (one module per concern and per rule type, rendered for the
identity's package); the repository becomes one data document, ``config``, that those
modules read. Indexes in it (``scope_all``, ``scoped`` by agent, rules by type and pack)
let a decision visit only the packs of the agent that asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .catalog import ANY_ACTION, CARRIED_FIELDS, CompileContext, FiresOn, rule_types
from .gc_pause import paused_gc
from .input_contract import contract_data, fast_checks
from .log_mask import log_mask
from .model import Pack, Repository, Rule
from .render import render, template_names
from .resolve import packed, resolve_tables
from .tool_bindings import compile_tool
from .vocabulary import package_segment
from .waivers import waiver_data


@dataclass(frozen=True)
class CompiledPolicy:
    identity: str
    root: str  # bundle root, e.g. "policypacks/acme"
    modules: dict[str, str]  # bundle path -> Rego source
    config: dict[str, Any]  # the data document at <root>/config

    @property
    def query_prefix(self) -> str:
        return "data." + self.root.replace("/", ".")


# What a core template renders besides the package: the input contract's tables, which
# it holds as literals (JSON-encoded by the template), and its verdict as rule bodies.
CORE_CONTEXT: dict[str, dict[str, Any]] = {
    "input_contract": {"contract": {"fast": fast_checks()}},
    "input_messages": {"contract": contract_data()},
    "precedence": {"carried": list(CARRIED_FIELDS)},
}


def bundle_root(identity_id: str) -> str:
    return f"policypacks/{package_segment(identity_id)}"


@paused_gc()
def compile_repository(repo: Repository, revision: str) -> CompiledPolicy:
    root = bundle_root(repo.identity.id)
    modules = render_modules(repo.identity.id, root)
    config = build_config(repo, revision)
    # What depends only on the repository (each agent's packs, levels, enforcements and
    # suppressed rules), evaluated once by the precedence rules themselves.
    config["resolved"] = packed(resolve_tables(root, modules, config))
    return CompiledPolicy(repo.identity.id, root, modules, config)


def render_modules(identity_id: str, root: str) -> dict[str, str]:
    """Every module of the bundle, at a path that mirrors its package (Regal's
    directory-package-mismatch rule), e.g. rules/pii/pii.rego for ``rules.pii``."""
    modules: dict[str, str] = {}
    for name in template_names("core"):
        stem = name.removeprefix("core/").removesuffix(".rego.j2")
        if stem == "main":
            continue
        folder = stem if stem == "precedence" else f"lib/{stem}"
        modules[f"{root}/{folder}/{stem}.rego"] = render(name, identity_id,
                                                         **CORE_CONTEXT.get(stem, {}))
    obliging = []  # the types whose module defines obligations: main.rego asks them alone
    for type_name in sorted(rule_types()):
        module = render(f"rules/{type_name}.rego.j2", identity_id)
        modules[f"{root}/rules/{type_name}/{type_name}.rego"] = module
        if OBLIGATION_RULE.search(module):
            obliging.append(type_name)
    modules[f"{root}/main.rego"] = render("core/main.rego.j2", identity_id, obliging=obliging)
    return modules


OBLIGATION_RULE = re.compile(r"^obligation contains ", re.MULTILINE)


def build_config(repo: Repository, revision: str) -> dict[str, Any]:
    identity = repo.identity
    ctx = CompileContext(internal_domains=identity.internal_domains)
    scoped: dict[str, list[str]] = {}
    for pack in repo.packs.values():
        if isinstance(pack.scope, list):
            for agent_id in pack.scope:
                scoped.setdefault(agent_id, []).append(pack.id)
    # type -> every rule of that type, by pack id, then in the pack's order: a decision's
    # tables name a rule by its position here (one number, where a [pack, position] pair
    # cost each table more memory and each rule it walks a longer lookup), and the rule
    # names its pack.
    rules_by_type: dict[str, list[dict[str, Any]]] = {}
    at: dict[tuple[str, str], int] = {}  # (pack id, rule id) -> its position
    for pack_id in sorted(repo.packs):
        for order, rule in enumerate(repo.packs[pack_id].rules):
            listed = rules_by_type.setdefault(rule.type, [])
            at[(pack_id, rule.id)] = len(listed)
            listed.append(_rule_data(pack_id, rule, order, ctx))
    return {
        "revision": revision,
        "identity": {
            "id": identity.id,
            "name": identity.name,
            "precedence": identity.precedence,
            "allow_agent_overrides": identity.allow_agent_overrides,
            "unknown_agents": identity.unknown_agents,
            "unbound_tools": identity.unbound_tools,
            "internal_domains": identity.internal_domains,
            "escalation": {
                "approvers": identity.escalation.approvers,
                "timeout_seconds": identity.escalation.timeout_seconds,
                "fallback": identity.escalation.fallback,
                # only when declared, so decisions of identities without admins are unchanged
                **({"admins": identity.escalation.admins} if identity.escalation.admins else {}),
            },
        },
        "agents": {agent.id: _agent_data(agent) for agent in repo.agents.values()},
        "scope_all": sorted(p.id for p in repo.packs.values() if p.scope == "all"),
        "scoped": {agent_id: sorted(ids) for agent_id, ids in scoped.items()},
        "packs": {pack.id: _pack_data(pack, at) for pack in repo.packs.values()},
        # What a violation of each rule says besides its message (small: a decision reads it).
        "violation_fields": {pack.id: {r.id: _violation_fields(pack, r) for r in pack.rules}
                             for pack in repo.packs.values()},
        "rules": rules_by_type,
        # type -> what each rule can fire on (RuleType.fires_on), beside the rules: only
        # the build reads it, to index each agent's rule types by action.
        "fires_on": {rule_type: [fires_on(rule_type, rule) for rule in rules]
                     for rule_type, rules in rules_by_type.items()},
        "log_mask": log_mask(repo),
        "tools": {name: compile_tool(tool) for name, tool in sorted(repo.tools.items())},
        # agent -> pack -> rule -> waivers, latest expiry first; in force is decided per
        # decision against OPA's clock (main.rego)
        "waivers": waiver_data(repo.waivers),
    }


def fires_on(rule_type: str, rule: dict[str, Any]) -> FiresOn:
    """What the rule can fire on (RuleType.fires_on): any action, one of CARRIED_FIELDS, or
    a list of action types. A decision looks a carried field's group up by that list
    (precedence.input_groups), so a rule firing on any other field would never be
    evaluated: a catalog bug, refused here rather than failing open."""
    fires = rule_types()[rule_type].fires_on(rule)
    if isinstance(fires, str) and fires != ANY_ACTION and fires not in CARRIED_FIELDS:
        raise ValueError(f"rule type {rule_type}: fires_on gave {fires!r}, which is no "
                         f"carried field ({', '.join(CARRIED_FIELDS)}) nor {ANY_ACTION!r}")
    return fires


def _agent_data(agent: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": agent.name,
        "packs": {a.pack: ({"enforcement": a.enforcement} if a.enforcement else {})
                  for a in agent.packs},
    }
    if agent.precedence:
        data["precedence"] = agent.precedence
    return data


def conflict_key(rule: Rule) -> str | None:
    """The explicit ``key``, else the type's key (SPEC sections 3 and 4), else None."""
    if rule.key is not None:
        return rule.key
    return rule_types()[rule.type].conflict_key(rule.params)


def _pack_data(pack: Pack, at: dict[tuple[str, str], int]) -> dict[str, Any]:
    rules = {}
    for order, rule in enumerate(pack.rules):
        entry: dict[str, Any] = {"type": rule.type, "order": order, "key": conflict_key(rule),
                                 "params": rule.params, "at": at[(pack.id, rule.id)]}
        if rule.enforcement:
            entry["enforcement"] = rule.enforcement
        if rule.message:
            entry["message"] = rule.message
        rules[rule.id] = entry
    return {
        "name": pack.name,
        "category": pack.category,
        "enforcement": pack.enforcement,
        "overridable": pack.overridable,
        "rules": rules,
    }


def _violation_fields(pack: Pack, rule: Rule) -> dict[str, Any]:
    fields: dict[str, Any] = {"type": rule.type, "category": pack.category}
    if rule.enforcement:
        fields["enforcement"] = rule.enforcement
    if rule.message:
        fields["message"] = rule.message
    return fields


def _rule_data(pack_id: str, rule: Rule, order: int, ctx: CompileContext) -> dict[str, Any]:
    """What a rule type's Rego reads: every declared parameter (null when absent), then
    the type's precomputed fields (escaped patterns, normalised domains...), its pack,
    its id and its position in the pack."""
    rule_type = rule_types()[rule.type]
    data: dict[str, Any] = {name: None for name in rule_type.params}
    data.update(rule.params)
    data.update(rule_type.compile(rule.params, ctx))
    data.update({"pack": pack_id, "id": rule.id, "order": order})
    return data
