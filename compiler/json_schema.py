"""JSON Schemas (draft 2020-12) of the repository's documents, for editors and CI.

They are generated from the checks the validator itself runs (:mod:`.schema`, the kinds'
objects in :mod:`.validate`, every rule type's parameters in :mod:`.catalog` and the
condition language), so an editor that reads them flags what ``policypacks validate``
would, as the author types. The validator stays the judge: a schema cannot check RE2
syntax, references between documents or duplicate ids, so it accepts a little more than
the validator and never less.

``policypacks schema`` prints or writes them; ``policypacks init`` copies them into a new
repository; the package ships them under ``policypacks/schemas/`` and ``docs/schema/``
holds the same files (``tests/test_schema_files.py`` regenerates and compares).
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import conditions, scenarios, schema, tool_bindings, validate, waivers
from .catalog import rule_types
from .catalog.condition import ConditionCheck
from .vocabulary import API_VERSION

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://policypacks.dev/schema/v1/"  # an identifier, never fetched
#: file stem -> kind; "policypacks" is any document (dispatch on `kind`).
KIND_FILES = {"identity": "Identity", "policypack": "PolicyPack", "agent": "Agent"}
ANY_DOCUMENT = "policypacks"
REF = re.compile(r'"\$ref": "#/\$defs/([^"]+)"')
# One probe value per JSON type, to learn which types a OneOf branch's test accepts.
PROBES: list[tuple[str, Any]] = [("string", ""), ("integer", 0), ("number", 0.5),
                                 ("boolean", True), ("null", None), ("object", {}),
                                 ("array", [])]


def check_schema(check: schema.Check) -> dict[str, Any]:
    """The JSON Schema of one validator check."""
    if isinstance(check, schema.Obj):
        return _object(check.fields)
    if isinstance(check, schema.Str):
        out: dict[str, Any] = {"type": "string"}
        if check.non_empty:
            out["minLength"] = 1
        if check.pattern is not None:
            out["pattern"] = _anchored(check.pattern.pattern)
        if check.hint:
            out["description"] = check.hint
        return out
    if isinstance(check, schema.Number):
        out = {"type": "integer" if check.integer else "number"}
        if check.minimum is not None:
            out["minimum"] = check.minimum
        return out
    if isinstance(check, schema.Bool):
        return {"type": "boolean"}
    if isinstance(check, schema.Enum):
        if not check.casefold:
            return {"enum": list(check.choices)}
        return {"type": "string", "pattern": "^(?:" + "|".join(
            "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in choice)
            for choice in check.choices) + ")$"}
    if isinstance(check, schema.Regex):
        return {"type": "string", "description": "an RE2 regular expression (Go syntax, as "
                "OPA evaluates it: no look-arounds, no backreferences)"}
    if isinstance(check, schema.Duration):
        return {"anyOf": [
            {"type": "integer", "minimum": 0, "description": "seconds"},
            {"type": "string", "minLength": 1,
             "pattern": schema.DURATION_PATTERN.pattern,
             "description": "a duration such as 24h, 30m, 1d12h or 2w"}]}
    if isinstance(check, schema.ListOf):
        return {"type": "array", "items": check_schema(check.item)}
    if isinstance(check, schema.MapOf):
        return {"type": "object", "propertyNames": check_schema(check.key),
                "additionalProperties": check_schema(check.value)}
    if isinstance(check, schema.OneOf):
        return {"anyOf": [_branch(accepts, inner) for accepts, inner in check.options],
                "description": check.label}
    if isinstance(check, waivers.Timestamp):
        return {"type": "string", "format": "date-time", "pattern": waivers.RFC3339.pattern,
                "description": check.label}
    if isinstance(check, ConditionCheck):
        return {"$ref": "#/$defs/condition"}
    if isinstance(check, schema.AnyValue):
        return {}
    # A check this generator does not know (a new rule type's own): accept what the
    # check's label names, loosely, and leave the judgement to the validator.
    loose: dict[str, Any] = {"description": check.label}
    if "string" in check.label:
        loose["type"] = "string"
    return loose


def _anchored(pattern: str) -> str:
    """The validator full-matches; a JSON Schema pattern only searches."""
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern
    return f"^(?:{pattern})$"


def _branch(accepts: Any, inner: schema.Check) -> dict[str, Any]:
    """A OneOf branch: the inner check, limited to the JSON types its test accepts."""
    types = [name for name, probe in PROBES if _safe(accepts, probe)]
    if "number" in types and "integer" not in types:
        types.insert(types.index("number"), "integer")
    if "integer" in types and "number" in types:
        types.remove("integer")
    body = check_schema(inner)
    if not types:
        return body
    limit = {"type": types[0] if len(types) == 1 else types}
    if not body:
        return limit
    return body if body.get("type") == limit["type"] else {"allOf": [limit, body]}


def _safe(accepts: Any, probe: Any) -> bool:
    try:
        return bool(accepts(probe))
    except Exception:  # noqa: BLE001 - a test that fails on a probe does not accept it
        return False


def _object(fields: Any) -> dict[str, Any]:
    properties = {}
    for name, spec in fields.items():
        prop = check_schema(spec.check)
        if spec.default is not schema.MISSING and _jsonable(spec.default):
            prop = {**prop, "default": spec.default}
        properties[name] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    required = [name for name, spec in fields.items() if spec.required]
    if required:
        out["required"] = required
    return out


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def condition_schema() -> dict[str, Any]:
    """``when:``: all / any / not, or a leaf ``{field: PATH, OP: VALUE}`` with one OP."""
    operand: dict[str, dict[str, Any]] = {
        "exists": {"type": "boolean"},
        "in": {"type": "array"}, "not_in": {"type": "array"},
        "gt": {"type": ["number", "string"]}, "gte": {"type": ["number", "string"]},
        "lt": {"type": ["number", "string"]}, "lte": {"type": ["number", "string"]},
        "matches": {"type": "string"}, "starts_with": {"type": "string"},
        "ends_with": {"type": "string"},
    }
    ops = {op: operand.get(op, {}) for op in conditions.OPERATORS}
    leaf = {
        "type": "object",
        "properties": {"field": {"type": "string",
                                 "pattern": conditions.FIELD_PATH.pattern,
                                 "description": "a dotted path under input, such as "
                                 "action.amount"}, **ops},
        "required": ["field"], "minProperties": 2, "maxProperties": 2,
        "additionalProperties": False,
    }
    combinator = {"type": "array", "items": {"$ref": "#/$defs/condition"}}
    return {"description": "a condition: {all: [...]}, {any: [...]}, {not: ...} or "
            "{field: PATH, OP: VALUE}",
            "oneOf": [
                {"type": "object", "properties": {"all": combinator}, "required": ["all"],
                 "additionalProperties": False},
                {"type": "object", "properties": {"any": combinator}, "required": ["any"],
                 "additionalProperties": False},
                {"type": "object", "properties": {"not": {"$ref": "#/$defs/condition"}},
                 "required": ["not"], "additionalProperties": False},
                leaf]}


def _rule_defs() -> dict[str, Any]:
    """One definition per rule type (the common keys and that type's parameters), and
    ``rule``, which picks the definition by ``type``."""
    defs: dict[str, Any] = {}
    catalog = rule_types()
    for name, rule_type in sorted(catalog.items()):
        fields = {**validate.COMMON_RULE_FIELDS, **rule_type.params}
        body = _object(fields)
        body["properties"]["type"] = {"const": name}
        body["description"] = f"{name}: {rule_type.summary}"
        defs[f"rule.{name}"] = body
    defs["rule"] = {
        "type": "object",
        "required": ["id", "type"],
        "properties": {"type": {"enum": sorted(catalog),
                                "description": "the rule type (docs/rules/<type>.md)"}},
        "allOf": [{"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                   "then": {"$ref": f"#/$defs/rule.{name}"}} for name in sorted(catalog)],
    }
    return defs


def _envelope(kind: str, metadata: schema.Obj | None, spec: dict[str, Any]) -> dict[str, Any]:
    meta = check_schema(metadata) if metadata else {"type": "object", "required": ["id"]}
    return {
        "type": "object",
        "properties": {"apiVersion": {"const": API_VERSION},
                       "kind": {"const": kind}, "metadata": meta, "spec": spec},
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }


def _tool_spec() -> dict[str, Any]:
    spec = _object(tool_bindings.SPEC.fields)
    source = check_schema(tool_bindings.Source.SHAPE)
    source["oneOf"] = [{"required": ["from"]}, {"required": ["value"]}]
    spec["properties"]["fields"] = {"type": "object",
                                    "propertyNames": check_schema(tool_bindings.PATH),
                                    "additionalProperties": source}
    spec["properties"]["examples"] = {"type": "array",
                                      "items": check_schema(tool_bindings.EXAMPLE)}
    return spec


def _test_spec() -> dict[str, Any]:
    spec = _object(scenarios.SPEC.fields)
    case = check_schema(scenarios.CASE)
    for key, expectation in scenarios.EXPECTATIONS.items():
        case["properties"][key]["description"] = (
            f"asserts the decision's `{expectation.field}`: {expectation.matcher.description}")
    spec["properties"]["cases"] = {"type": "array", "minItems": 1, "items": case}
    return spec


def _kind_bodies() -> dict[str, dict[str, Any]]:
    pack_spec = _object(validate.PACK_SPEC_FIELDS)
    pack_spec["properties"]["rules"] = {"type": "array", "items": {"$ref": "#/$defs/rule"}}
    pack_spec["properties"]["examples"] = {"type": "array",
                                           "items": check_schema(validate.EXAMPLE)}
    known = {
        "Identity": _envelope("Identity", validate._metadata(),
                              check_schema(validate.IDENTITY_SPEC)),
        "PolicyPack": _envelope("PolicyPack", validate._metadata("category"), pack_spec),
        "Agent": _envelope("Agent", validate._metadata(), check_schema(validate.AGENT_SPEC)),
        "Tool": _envelope("Tool", tool_bindings.METADATA, _tool_spec()),
        "Waiver": _envelope("Waiver", waivers.METADATA, check_schema(waivers.SPEC)),
        "Test": _envelope("Test", scenarios.METADATA, _test_spec()),
    }
    # A kind the validator knows and this module does not yet: the envelope only, loose
    # inside, so that the schema never refuses what the validator accepts.
    for kind in validate.KINDS:
        known.setdefault(kind, _envelope(kind, None, {"type": "object"}))
    return known


def _defs() -> dict[str, Any]:
    return {"condition": condition_schema(), **_rule_defs(),
            **{f"kind.{kind}": body for kind, body in _kind_bodies().items()}}


def document_schemas() -> dict[str, dict[str, Any]]:
    """File stem -> schema: one per kind, and ``policypacks`` for any document."""
    defs = _defs()
    out: dict[str, dict[str, Any]] = {}
    kinds = {stem: kind for stem, kind in KIND_FILES.items()}
    for kind in validate.KINDS:
        kinds.setdefault(kind.lower(), kind)
    for stem, kind in kinds.items():
        out[stem] = {"$schema": DRAFT, "$id": f"{BASE_ID}{stem}.schema.json",
                     "title": f"policypacks {kind}",
                     "description": f"A `kind: {kind}` document of a policypacks repository.",
                     "$ref": f"#/$defs/kind.{kind}",
                     "$defs": _reachable(defs, f"kind.{kind}")}
    out[ANY_DOCUMENT] = {
        "$schema": DRAFT, "$id": f"{BASE_ID}{ANY_DOCUMENT}.schema.json",
        "title": "policypacks document",
        "description": "Any document of a policypacks repository, checked by its kind.",
        "type": "object", "required": ["apiVersion", "kind"],
        "properties": {"apiVersion": {"const": API_VERSION},
                       "kind": {"enum": list(validate.KINDS)}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                   "then": {"$ref": f"#/$defs/kind.{kind}"}} for kind in validate.KINDS],
        "$defs": defs,
    }
    return out


def _reachable(defs: dict[str, Any], start: str) -> dict[str, Any]:
    """The definitions ``start`` refers to, directly or not (and itself)."""
    seen: set[str] = set()
    pending = [start]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += REF.findall(json.dumps(defs[name]))
    return {name: defs[name] for name in sorted(seen)}


def file_name(stem: str) -> str:
    return f"{stem}.schema.json"


def rendered() -> dict[str, str]:
    """File name -> text, exactly as shipped (sorted keys, two-space indent, newline)."""
    return {file_name(stem): json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False)
            + "\n" for stem, body in document_schemas().items()}
