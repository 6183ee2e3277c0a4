"""Step 2 of the pipeline: check every document against its kind's schema and the
rule catalog, resolve references, and build the :class:`Repository`.

Every problem of every file is collected before anything is raised, so one run of
``policypacks validate`` lists them all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .catalog import rule_types
from .errors import Location, Problems, display_path, warn
from .gc_pause import paused_gc
from .load import Document, YMap, YSeq, line_of, load_repository
from .model import (
    Agent,
    Attachment,
    Escalation,
    Identity,
    Pack,
    PackExample,
    Repository,
    Rule,
    Scenarios,
    Tool,
    Waiver,
)
from .opa.re2 import check_regexes
from .scenarios import check_test, check_tests
from .schema import (
    MISSING,
    AnyValue,
    Bool,
    Ctx,
    Duration,
    Enum,
    Field,
    Id,
    ListOf,
    Obj,
    OneOf,
    Str,
    describe,
    section,
    suggestion,
)
from .tool_bindings import check_tool
from .vocabulary import (
    API_VERSION,
    AUTHORED_ENFORCEMENTS,
    CATEGORIES,
    DECISIONS,
    PRECEDENCES,
    SYSTEM_PACK,
)
from .waivers import check_waiver, check_waivers

KINDS = ("Identity", "PolicyPack", "Agent", "Tool", "Waiver", "Test")
RULE_REF = re.compile(r"^(?:_system|[a-z][a-z0-9-]{0,62})/[a-z][a-z0-9-]{0,62}$")


def _metadata(*extra: str) -> Obj:
    fields = {"id": Field(Id(), required=True), "name": Field(Str()),
              "description": Field(Str())}
    if "category" in extra:
        fields["category"] = Field(Enum(CATEGORIES))
    return Obj(fields)


DOMAIN = Str(re.compile(r"^[A-Za-z0-9.-]+$"), "a domain name such as acme.com")

ESCALATION_ROUTE = {
    "approvers": Field(ListOf(Str(non_empty=True))),
    "timeout": Field(Duration()),
    "fallback": Field(Enum(("block", "allow"))),
}

IDENTITY_SPEC = Obj({
    "precedence": Field(Enum(PRECEDENCES), default="identity_overrides"),
    "allowAgentOverrides": Field(Bool(), default=False),
    "unknownAgents": Field(Enum(("block", "defaults")), default="block"),
    "internalDomains": Field(ListOf(DOMAIN), default=[]),
    # admins: names that may resolve any approval request of the identity (docs/security.md)
    "escalation": Field(Obj({**ESCALATION_ROUTE,
                             "admins": Field(ListOf(Str(non_empty=True)))})),
    "unboundTools": Field(Enum(("block", "allow")), default="block"),
})

SCOPE = OneOf([
    (lambda v: isinstance(v, str), Enum(("all", "none"))),
    (lambda v: isinstance(v, dict), Obj({"agents": Field(ListOf(Id()), required=True)})),
], label="all, none or {agents: [id, ...]}")

EXAMPLE = Obj({
    "name": Field(Str(non_empty=True), required=True),
    "input": Field(OneOf([(lambda v: isinstance(v, dict), AnyValue())],
                         label="a mapping (the input document)"), required=True),
    "expect": Field(Enum(DECISIONS), required=True),
    "violations": Field(ListOf(Str(RULE_REF, "write violations as pack/rule"))),
    # what the pack's shadow-mode rules report (docs/shadow.md); exact set of pack/rule
    "shadow": Field(ListOf(Str(RULE_REF, "write shadow reports as pack/rule"))),
})

PACK_SPEC_FIELDS = {
    "enforcement": Field(Enum(AUTHORED_ENFORCEMENTS), required=True),
    "scope": Field(SCOPE, default="all"),
    "overridable": Field(Bool(), default=True),
    "rules": Field(ListOf(AnyValue()), default=[]),  # each rule is checked below
    "examples": Field(ListOf(AnyValue()), default=[]),  # each example is checked below
}

ATTACHMENT = OneOf([
    (lambda v: isinstance(v, str), Id()),
    (lambda v: isinstance(v, dict), Obj({"pack": Field(Id(), required=True),
                                         "enforcement": Field(Enum(AUTHORED_ENFORCEMENTS))})),
], label="{pack: ID, enforcement: ...}")

AGENT_SPEC = Obj({
    "precedence": Field(Enum(PRECEDENCES)),
    "packs": Field(ListOf(ATTACHMENT), default=[]),
})

COMMON_RULE_FIELDS = {
    "id": Field(Id(), required=True),
    "type": Field(Str(), required=True),
    "enforcement": Field(Enum(AUTHORED_ENFORCEMENTS)),
    "message": Field(Str(non_empty=True)),
    "key": Field(Str(non_empty=True)),
}


@paused_gc()
def validate_repository(root: Path, strict: bool = False) -> Repository:
    """Load and check the repository at ``root``; raise ValidationFailed with every problem.

    Warnings (docs/validation.md) are raised as :class:`PolicyWarning`, sorted by place,
    whether or not the repository is valid; ``strict`` makes any warning fail the
    validation too (``--strict``)."""
    problems = Problems()
    try:
        with problems.collecting():
            repository = _validate(root, problems)
    finally:
        problems.emit_warnings()
    if strict and problems.warnings:
        count = len(set(problems.warnings))
        problems.add(Location(display_path(root)),
                     f"{count} warning{'s' if count != 1 else ''}, and --strict (strict "
                     "validation) treats warnings as errors")
        problems.raise_if_any()
    return repository


def _validate(root: Path, problems: Problems) -> Repository:
    if not root.is_dir():
        problems.add(Location(display_path(root)), "not a directory")
        problems.raise_if_any()
    loaded = load_repository(root, problems)
    regexes: list[tuple[Location, str]] = []
    identities: list[Identity] = []
    packs: list[Pack] = []
    agents: list[Agent] = []
    tools: list[Tool] = []
    waivers: list[Waiver] = []
    suites: list[Scenarios] = []
    for doc in loaded.documents:
        kind = _check_envelope(doc, problems)
        ctx = Ctx(doc, problems, regexes, doc.line)
        if kind == "Identity":
            identities.append(_identity(doc, ctx))
        elif kind == "PolicyPack":
            packs.append(_pack(doc, ctx))
        elif kind == "Agent":
            agents.append(_agent(doc, ctx))
        elif kind == "Tool":
            tools.append(check_tool(doc, ctx))
        elif kind == "Waiver":
            waivers.append(check_waiver(doc, ctx))
        elif kind == "Test":
            suites.append(check_test(doc, ctx))
    pack_index = _unique("PolicyPack", packs, problems)
    agent_index = _unique("Agent", agents, problems)
    tool_index = _tools(tools, pack_index, problems, references=loaded.complete)
    identity = None
    if loaded.complete:  # else "no Identity", "unknown pack" may only follow from a lost file
        identity = _single_identity(identities, root, problems)
        _check_references(pack_index, agent_index, problems)
    waiver_index = check_waivers(waivers, pack_index, agent_index, problems,
                                 references=loaded.complete)
    test_index = check_tests(suites, pack_index, problems, references=loaded.complete)
    if regexes:
        check_regexes(regexes, problems)
    problems.raise_if_any()
    assert identity is not None
    return Repository(root, identity, pack_index, agent_index, tool_index, waiver_index,
                      test_index)


def _check_envelope(doc: Document, problems: Problems) -> str | None:
    body = doc.body
    if not isinstance(body, dict):
        problems.add(doc.loc(), f"a document must be a mapping, got {describe(body)}")
        return None
    ctx = Ctx(doc, problems, [], doc.line)
    allowed = {"apiVersion", "kind", "metadata", "spec"}
    for key in body:
        if key not in allowed:
            ctx.at(body, key).error(f"unknown key {key!r}" + suggestion(key, allowed))
    if body.get("apiVersion") != API_VERSION:
        ctx.at(body, "apiVersion").error(
            f"apiVersion must be {API_VERSION!r}, got {describe(body.get('apiVersion'))}")
    kind = body.get("kind")
    if kind not in KINDS:
        ctx.at(body, "kind").error(f"kind must be one of {', '.join(KINDS)}; got "
                                   f"{describe(kind)}" + suggestion(kind, KINDS))
        return None
    for key in ("metadata", "spec"):
        if key not in body:
            ctx.error(f"missing required key {key!r}")
    return kind


def _identity(doc: Document, ctx: Ctx) -> Identity:
    meta = section(doc.body, "metadata", _metadata(), ctx)
    spec = section(doc.body, "spec", IDENTITY_SPEC, ctx)
    route = spec.get("escalation", {})
    return Identity(
        id=meta.get("id", ""), name=meta.get("name", meta.get("id", "")),
        precedence=spec.get("precedence", "identity_overrides"),
        allow_agent_overrides=spec.get("allowAgentOverrides", False),
        unknown_agents=spec.get("unknownAgents", "block"),
        internal_domains=[d.lower().strip(".") for d in spec.get("internalDomains", [])],
        escalation=_escalation(route),
        loc=_meta_loc(doc),
        unbound_tools=spec.get("unboundTools", "block"),
    )


def _escalation(route: dict[str, Any]) -> Escalation:
    default = Escalation()
    return Escalation(approvers=route.get("approvers", default.approvers),
                      admins=route.get("admins", default.admins),
                      timeout_seconds=route.get("timeout", default.timeout_seconds),
                      fallback=route.get("fallback", default.fallback))


def _meta_loc(doc: Document) -> Location:
    meta = doc.body.get("metadata")
    line = meta.line_of("id") if isinstance(meta, YMap) else doc.line
    return doc.loc(line)


def _pack(doc: Document, ctx: Ctx) -> Pack:
    meta = section(doc.body, "metadata", _metadata("category"), ctx)
    spec = section(doc.body, "spec", Obj(PACK_SPEC_FIELDS), ctx)
    raw_spec = doc.body.get("spec")
    rules: list[Rule] = []
    if isinstance(raw_spec, dict) and isinstance(raw_spec.get("rules"), list):
        rules_ctx = ctx.at(doc.body, "spec").at(raw_spec, "rules")
        raw_rules = raw_spec["rules"]
        for index, raw in enumerate(raw_rules):
            rule = _rule(raw, rules_ctx.at(raw_rules, index))
            if rule is not None:
                rules.append(rule)
        _report_duplicates([(r.id, r.loc) for r in rules], "rule", ctx.problems,
                           f" in pack {meta.get('id', '?')!r}")
    scope = spec.get("scope", "all")
    examples = _examples(doc, ctx, raw_spec)
    return Pack(
        id=meta.get("id", ""), name=meta.get("name", meta.get("id", "")),
        description=meta.get("description", ""), category=meta.get("category"),
        enforcement=spec.get("enforcement", "block"),
        # an invalid {agents: ...} was reported already; it must not crash the pass
        scope=scope.get("agents", "none") if isinstance(scope, dict) else scope,
        overridable=spec.get("overridable", True),
        rules=rules, examples=examples, loc=_meta_loc(doc),
    )


def _examples(doc: Document, ctx: Ctx, raw_spec: Any) -> list[PackExample]:
    """The pack's examples that are complete; each one's problems are reported at it."""
    if not isinstance(raw_spec, dict) or not isinstance(raw_spec.get("examples"), list):
        return []
    raw_examples = raw_spec["examples"]
    examples_ctx = ctx.at(doc.body, "spec").at(raw_spec, "examples")
    examples = []
    for index, raw in enumerate(raw_examples):
        checked = EXAMPLE(raw, examples_ctx.at(raw_examples, index))
        if checked is MISSING or not {"name", "input", "expect"} <= set(checked):
            continue
        examples.append(PackExample(checked["name"], checked["input"], checked["expect"],
                                    checked.get("violations"),
                                    doc.loc(line_of(raw_examples, index, doc.line)),
                                    shadow=checked.get("shadow")))
    return examples


def _rule(raw: Any, ctx: Ctx) -> Rule | None:
    if not isinstance(raw, dict):
        ctx.error(f"a rule must be a mapping, got {describe(raw)}")
        return None
    catalog = rule_types()
    type_name = raw.get("type")
    rule_type = catalog.get(type_name) if isinstance(type_name, str) else None
    if rule_type is None:
        if "type" not in raw:
            ctx.error("missing required key 'type'")
        else:
            ctx.at(raw, "type").error(f"unknown rule type {describe(type_name)}"
                                      + suggestion(type_name, catalog)
                                      + f"; types are {', '.join(sorted(catalog))}")
        return None
    fields = {**COMMON_RULE_FIELDS, **rule_type.params}
    checked = Obj(fields)(raw, ctx)
    if checked is MISSING or "id" not in checked:
        return None
    params = {k: v for k, v in checked.items() if k in rule_type.params}
    return Rule(id=checked["id"], type=str(type_name), params=params,
                enforcement=checked.get("enforcement"), message=checked.get("message"),
                key=checked.get("key"), loc=Location(ctx.loc().file, ctx.line))


def _agent(doc: Document, ctx: Ctx) -> Agent:
    meta = section(doc.body, "metadata", _metadata(), ctx)
    spec = section(doc.body, "spec", AGENT_SPEC, ctx)
    raw_spec = doc.body.get("spec")
    raw_packs = raw_spec.get("packs") if isinstance(raw_spec, dict) else None
    attachments = []
    for index, item in enumerate(spec.get("packs", [])):
        line = raw_packs.line_of(index) if isinstance(raw_packs, YSeq) else doc.line
        if isinstance(item, str):
            item = {"pack": item}
        attachments.append(Attachment(item["pack"], item.get("enforcement"), doc.loc(line)))
    _report_duplicates([(a.pack, a.loc) for a in attachments], "pack attachment",
                       ctx.problems, f" in agent {meta.get('id', '?')!r}")
    return Agent(id=meta.get("id", ""), name=meta.get("name", meta.get("id", "")),
                 precedence=spec.get("precedence"), packs=attachments, loc=_meta_loc(doc))


def _single_identity(found: list[Identity], root: Path, problems: Problems) -> Identity | None:
    if not found:
        problems.add(Location(display_path(root)),
                     "no Identity document: a repository needs exactly one `kind: Identity`")
        return None
    first = min(found, key=lambda i: i.loc)
    for extra in found:
        if extra is not first:
            problems.add(extra.loc, f"a repository has exactly one Identity; another is "
                         f"declared at {first.loc}")
    return first


def _unique(kind: str, items: list[Any], problems: Problems) -> dict[str, Any]:
    _report_duplicates([(i.id, i.loc) for i in items if i.id], kind, problems)
    index: dict[str, Any] = {}
    for item in sorted(items, key=lambda i: i.loc):
        if item.id:
            index.setdefault(item.id, item)
    return index


def _report_duplicates(entries: list[tuple[str, Location]], what: str, problems: Problems,
                       where: str = "") -> None:
    first: dict[str, Location] = {}
    for ident, loc in sorted(entries, key=lambda e: e[1]):
        if ident in first:
            problems.add(loc, f"duplicate {what} id {ident!r}{where} (first declared at "
                         f"{first[ident]})")
        else:
            first[ident] = loc


def _check_references(packs: dict[str, Pack], agents: dict[str, Agent],
                      problems: Problems) -> None:
    for agent in agents.values():
        for attachment in agent.packs:
            if attachment.pack not in packs:
                problems.add(attachment.loc, f"agent {agent.id!r} attaches unknown pack "
                             f"{attachment.pack!r}" + suggestion(attachment.pack, packs))
    for pack in packs.values():
        for example in pack.examples:
            for ref in [*(example.violations or []), *(example.shadow or [])]:
                pack_id, rule_id = ref.split("/")
                if pack_id == SYSTEM_PACK:
                    continue
                known = packs.get(pack_id)
                if known is None or rule_id not in {r.id for r in known.rules}:
                    problems.add(example.loc, f"example {example.name!r} expects a violation "
                                 f"of unknown rule {ref!r}")
                elif pack_id != pack.id:
                    warn(example.loc, f"example {example.name!r} of pack {pack.id!r} expects "
                         f"a violation of {ref!r}, a rule of another pack: a pack's examples "
                         "are judged by that pack alone, so it cannot pass; write it as a "
                         "case of a `kind: Test` document (docs/testing.md)")
        for rule in pack.rules:
            if rule.type == "escalation":
                _check_route_references(rule, packs, problems)


def _check_route_references(rule: Rule, packs: dict[str, Pack], problems: Problems) -> None:
    """An escalation route that names a pack or rule nobody declares never matches."""
    match = rule.params.get("match") or {}
    for ref in match.get("packs") or []:
        if ref not in packs:
            problems.add(rule.loc, f"escalation rule {rule.id!r} matches unknown pack {ref!r}"
                         + suggestion(ref, packs))
    every_rule = {r.id for p in packs.values() for r in p.rules}
    for ref in match.get("rules") or []:
        pack_id, _, rule_id = ref.rpartition("/")
        if pack_id:
            known = pack_id in packs and rule_id in {r.id for r in packs[pack_id].rules}
        else:
            known = rule_id in every_rule
        if not known:
            problems.add(rule.loc, f"escalation rule {rule.id!r} matches unknown rule {ref!r} "
                         "(write pack/rule or a rule id)")


def _tools(tools: list[Tool], packs: dict[str, Pack], problems: Problems,
           references: bool = True) -> dict[str, Tool]:
    """Tool bindings by tool name: ids and names are unique, examples name real rules
    (checked only when every file loaded: else a rule may be in a file that did not)."""
    by_id = _unique("Tool", tools, problems)
    index: dict[str, Tool] = {}
    for tool in sorted(by_id.values(), key=lambda t: t.loc):
        if tool.tool in index:
            problems.add(tool.loc, f"tool {tool.tool!r} is already bound at "
                         f"{index[tool.tool].loc}")
        elif tool.tool:
            index[tool.tool] = tool
        for example in tool.examples if references else []:
            for ref in example.violations or []:
                pack_id, rule_id = ref.split("/")
                known = pack_id == SYSTEM_PACK or (
                    pack_id in packs and rule_id in {r.id for r in packs[pack_id].rules})
                if not known:
                    problems.add(example.loc, f"example {example.name!r} expects a violation "
                                 f"of unknown rule {ref!r}")
    return index
