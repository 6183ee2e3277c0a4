"""``kind: Test``: whole-agent scenarios (called by ``validate``; run by ``policypacks test``).

A pack's ``examples:`` are judged by that pack alone (docs/testing.md); a Test document
holds the cases that are about an agent as a whole: an input, and what the full decision
(every pack of the agent, the tool bindings, the waivers) must say about it.

What a case may assert is one table, :data:`EXPECTATIONS`: a case key, the decision field
it reads and the way it compares. The validator's schema, the editor schema, the Rego
that judges a case (``rego_templates/tests/generated_test.rego.j2``: ``holds``) and the
failure report all read that table, so asserting another decision field is one line
there (and a line of docs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import Problems
from .load import Document, YMap, line_of
from .model import Pack, Scenario, Scenarios
from .schema import (
    MISSING,
    AnyValue,
    Check,
    Ctx,
    Enum,
    Field,
    Id,
    ListOf,
    Number,
    Obj,
    OneOf,
    Str,
    section,
)
from .vocabulary import DECISIONS, FALLBACKS, SYSTEM_PACK
from .waivers import Timestamp

RULE_REF = re.compile(r"^(?:_system|[a-z][a-z0-9-]{0,62})/[a-z][a-z0-9-]{0,62}$")
VIOLATION_ID = Str(RULE_REF, "write violations as pack/rule")


def _mapping(label: str) -> Check:
    return OneOf([(lambda v: isinstance(v, dict), AnyValue())], label=label)


@dataclass(frozen=True)
class Matcher:
    """How one kind of expectation is written (``check``) and compared (``how``: a
    matcher of ``holds`` in the generated test module; with ``parts``, a mapping
    ``{include: [...], exclude: [...]}`` asserts ``how_include`` / ``how_exclude``)."""

    how: str
    check: Check
    description: str
    parts: bool = False


#: An exact set of "pack/rule" ids, or {include: [...], exclude: [...]}.
IDS = Matcher(
    "ids",
    OneOf([
        (lambda v: isinstance(v, list), ListOf(VIOLATION_ID)),
        (lambda v: isinstance(v, dict), Obj({"include": Field(ListOf(VIOLATION_ID)),
                                             "exclude": Field(ListOf(VIOLATION_ID))})),
    ], label="a list of pack/rule ids, or {include: [...], exclude: [...]}"),
    "exactly these pack/rule ids (a list), or {include: [...], exclude: [...]}",
    parts=True)

#: An exact list of objects (in any order), or {include: [...], exclude: [...]} of
#: partial objects (each one's keys must equal those of some element / of none).
OBJECTS = Matcher(
    "objects",
    OneOf([
        (lambda v: isinstance(v, list), ListOf(_mapping("a mapping (an obligation)"))),
        (lambda v: isinstance(v, dict), Obj({
            "include": Field(ListOf(_mapping("a mapping (part of an obligation)"))),
            "exclude": Field(ListOf(_mapping("a mapping (part of an obligation)")))})),
    ], label="a list of obligations, or {include: [...], exclude: [...]}"),
    "exactly these obligations in any order (a list), or {include: [...], exclude: [...]}"
    " of partial obligations", parts=True)

APPROVAL_KEYS = Obj({
    "route": Field(Str(non_empty=True)),
    "approvers": Field(ListOf(Str(non_empty=True))),
    "admins": Field(ListOf(Str(non_empty=True))),
    "timeout_seconds": Field(Number(minimum=0, integer=True)),
    "fallback": Field(Enum(FALLBACKS)),
})

#: null (no approval), or the keys of the approval object that must be as written.
SUBSET = Matcher(
    "subset",
    OneOf([(lambda v: v is None, AnyValue()),
           (lambda v: isinstance(v, dict), APPROVAL_KEYS)],
          label="null or {route, approvers, timeout_seconds, fallback}"),
    "null (no approval) or the keys the approval must have, as written")

DECISION = Matcher("equals", Enum(DECISIONS), "the decision")


@dataclass(frozen=True)
class Expectation:
    field: str  # the decision field it reads
    matcher: Matcher
    required: bool = False


#: case key -> what it asserts. One line per decision field a case may assert.
EXPECTATIONS: dict[str, Expectation] = {
    "expect": Expectation("decision", DECISION, required=True),
    "violations": Expectation("violations", IDS),
    "approval": Expectation("approval", SUBSET),
    "obligations": Expectation("obligations", OBJECTS),
    "shadow": Expectation("shadow", IDS),
    "waived": Expectation("waived", IDS),
}

CASE = Obj({
    "name": Field(Str(non_empty=True), required=True),
    "description": Field(Str()),
    "input": Field(_mapping("a mapping (the input document)"), required=True),
    # decide as OPA would at this moment (RFC 3339): which waivers are in force then
    "at": Field(Timestamp()),
    **{key: Field(e.matcher.check, required=e.required) for key, e in EXPECTATIONS.items()},
})

METADATA = Obj({"id": Field(Id(), required=True), "name": Field(Str()),
                "description": Field(Str())})

SPEC = Obj({"cases": Field(ListOf(AnyValue()), required=True)})  # each case checked below


def assertions(expected: dict[str, Any]) -> list[list[Any]]:
    """What the generated Rego checks for a case's expectations: ``[how, field, value]``
    triples (``holds`` in rego_templates/tests/generated_test.rego.j2)."""
    out: list[list[Any]] = []
    for key, value in expected.items():
        field, matcher = EXPECTATIONS[key].field, EXPECTATIONS[key].matcher
        if matcher.parts and isinstance(value, dict):
            out += [[f"{matcher.how}_{part}", field, value[part]]
                    for part in ("include", "exclude") if part in value]
        else:
            out.append([matcher.how, field, value])
    return out


def check_test(doc: Document, ctx: Ctx) -> Scenarios:
    """The Test document's cases that are complete; each problem is reported at its line."""
    body = doc.body
    meta = section(body, "metadata", METADATA, ctx)
    section(body, "spec", SPEC, ctx)
    raw_spec = body.get("spec")
    cases: list[Scenario] = []
    if isinstance(raw_spec, dict) and isinstance(raw_spec.get("cases"), list):
        raw_cases = raw_spec["cases"]
        cases_ctx = ctx.at(body, "spec").at(raw_spec, "cases")
        if not raw_cases:
            cases_ctx.error("a Test needs at least one case")
        for index, raw in enumerate(raw_cases):
            case_ctx = cases_ctx.at(raw_cases, index)
            checked = CASE(raw, case_ctx)
            if checked is MISSING or not {"name", "input", "expect"} <= set(checked):
                continue
            expected = {key: checked[key] for key in EXPECTATIONS if key in checked}
            cases.append(Scenario(checked["name"], checked["input"], expected,
                                  doc.loc(line_of(raw_cases, index, doc.line)),
                                  at=checked.get("at")))
    raw_meta = body.get("metadata")
    line = raw_meta.line_of("id") if isinstance(raw_meta, YMap) else doc.line
    return Scenarios(id=meta.get("id", ""), name=meta.get("name", meta.get("id", "")),
                     cases=cases, loc=doc.loc(line))


def referenced_ids(case: Scenario) -> list[str]:
    """Every pack/rule id a case's expectations name."""
    refs: list[str] = []
    for key, value in case.expected.items():
        if EXPECTATIONS[key].matcher.how != IDS.how:
            continue
        if isinstance(value, list):
            refs += value
        else:
            refs += [*value.get("include", []), *value.get("exclude", [])]
    return refs


def check_tests(suites: list[Scenarios], packs: dict[str, Pack], problems: Problems,
                references: bool = True) -> dict[str, Scenarios]:
    """Index by id (ids unique); the rules and routes cases name must exist. References
    are checked only when every file loaded (``references``). An undeclared agent is
    fine: what unknownAgents does with it is worth a test."""
    index: dict[str, Scenarios] = {}
    for suite in sorted(suites, key=lambda s: s.loc):
        if not suite.id:
            continue
        if suite.id in index:
            problems.add(suite.loc, f"duplicate Test id {suite.id!r} (first declared at "
                         f"{index[suite.id].loc})")
            continue
        index[suite.id] = suite
        for case in suite.cases if references else []:
            _check_case_references(case, packs, problems)
    return index


def _check_case_references(case: Scenario, packs: dict[str, Pack], problems: Problems) -> None:
    for ref in referenced_ids(case):
        pack_id, rule_id = ref.split("/")
        if pack_id == SYSTEM_PACK:
            continue
        known = packs.get(pack_id)
        if known is None or rule_id not in {r.id for r in known.rules}:
            problems.add(case.loc, f"case {case.name!r} names unknown rule {ref!r}")
    approval = case.expected.get("approval")
    route = approval.get("route") if isinstance(approval, dict) else None
    if route is not None and route != "identity":
        pack_id, _, rule_id = route.partition("/")
        known = packs.get(pack_id)
        if known is None or not any(r.id == rule_id and r.type == "escalation"
                                    for r in known.rules):
            problems.add(case.loc, f"case {case.name!r} expects approval route {route!r}, "
                         "which is no escalation rule (write pack/rule, or identity for the "
                         "identity's default route)")
