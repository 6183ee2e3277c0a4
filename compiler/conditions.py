"""The condition language (``when:``): its schema, and its compilation to data.

A condition is a tree of ``all`` / ``any`` / ``not`` over leaves
``{field: PATH, OP: VALUE}``. Rego has no recursion, so instead of walking the tree in
Rego the compiler rewrites it into disjunctive normal form -- a list of terms, each a
list of (possibly negated) leaves -- and one fixed Rego function evaluates any such list
(``lib/conditions``). A leaf is false when its field is missing (except ``exists``), and
a negated leaf is simply its negation, so the rewrite keeps the meaning exactly.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from .errors import Problems
from .input_contract import FIELDS, TYPE_TEXT
from .load import Document
from .schema import MISSING, Ctx, describe, regex_warnings, suggestion

FIELD_PATH = re.compile(r"^[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*$")
OPERATORS = ("equals", "not_equals", "gt", "gte", "lt", "lte", "in", "not_in", "contains",
             "matches", "starts_with", "ends_with", "exists")
MAX_TERMS = 256

Literal = dict[str, Any]  # {"field": [segments], "op": str, "value": Any, "negate": bool}
Dnf = list[list[Literal]]

# One term of no leaves: the condition that holds for every input (a rule type ships it
# for an absent `when`, so its Rego calls conditions.holds without a test for null).
ALWAYS: Dnf = [[]]


def check_condition(value: Any, ctx: Ctx) -> Any:
    """Validate a condition; return it as written (plain data), or MISSING."""
    tree = _check_node(value, ctx)
    if tree is MISSING:
        return MISSING
    terms = len(_to_dnf(tree, negate=False))
    if terms > MAX_TERMS:
        ctx.error(f"condition is too complex: {terms} alternatives once expanded "
                  f"(at most {MAX_TERMS}); split it into several rules")
        return MISSING
    return json.loads(json.dumps(value))


def condition_dnf(value: Any) -> Dnf:
    """The DNF of a condition that ``check_condition`` accepted."""
    problems = Problems()
    doc = Document(Path("<condition>"), 0, value)
    tree = _check_node(value, Ctx(doc, problems, [], 0))
    if tree is MISSING or problems:
        raise ValueError(f"condition was not validated: {problems.items}")
    return _to_dnf(tree, negate=False)


def _check_node(value: Any, ctx: Ctx) -> Any:
    if not isinstance(value, dict) or not value:
        ctx.error(f"expected a condition ({{all: [...]}}, {{any: [...]}}, {{not: ...}} or "
                  f"{{field: PATH, OP: VALUE}}), got {describe(value)}")
        return MISSING
    keys = set(value)
    for combinator in ("all", "any"):
        if combinator in keys:
            if keys != {combinator}:
                ctx.error(f"'{combinator}' cannot be combined with other keys: "
                          f"{', '.join(sorted(keys - {combinator}))}")
                return MISSING
            items = value[combinator]
            sub = ctx.at(value, combinator)
            if not isinstance(items, list):
                sub.error(f"expected a list of conditions, got {describe(items)}")
                return MISSING
            children = [_check_node(item, sub.at(items, i)) for i, item in enumerate(items)]
            return MISSING if MISSING in children else (combinator, children)
    if "not" in keys:
        if keys != {"not"}:
            ctx.error("'not' cannot be combined with other keys")
            return MISSING
        child = _check_node(value["not"], ctx.at(value, "not"))
        return MISSING if child is MISSING else ("not", child)
    return _check_leaf(value, ctx)


def _check_leaf(value: dict, ctx: Ctx) -> Any:
    ok = True
    path = value.get("field", MISSING)
    if path is MISSING:
        ctx.error("a condition needs 'field' (or one of all, any, not)")
        ok = False
    elif not isinstance(path, str) or not FIELD_PATH.fullmatch(path):
        ctx.at(value, "field").error(
            f"field path {describe(path)} is not valid: use dot-separated names of letters, "
            "digits and '_' under input, such as action.amount")
        ok = False
    ops = [k for k in value if k != "field"]
    unknown = [k for k in ops if k not in OPERATORS]
    for key in unknown:
        ctx.at(value, key).error(f"unknown condition operator {key!r}"
                                 + suggestion(key, OPERATORS)
                                 + f"; operators are {', '.join(OPERATORS)}")
    known = [k for k in ops if k in OPERATORS]
    if not unknown and len(known) != 1:
        ctx.error("a condition leaf needs exactly one operator besides 'field', got "
                  + (", ".join(known) if known else "none"))
        return MISSING
    # The operand is checked even when the path or another key is wrong: all errors at once.
    op = known[0] if len(known) == 1 else None
    operand = _check_operand(op, value[op], ctx.at(value, op)) if op else MISSING
    if unknown or not ok or operand is MISSING:
        return MISSING
    assert op is not None
    if not _check_kinds(path, op, operand, ctx.at(value, op)):
        return MISSING
    return ("leaf", {"field": path.split("."), "op": op, "value": operand})


#: JSON type of each documented input field a condition can name (docs/input.md), with
#: ``*`` for any one segment (``usage.actions.*.day``); list members have no path.
_DOCUMENTED = {tuple(f.path.split(".")): f.type for f in FIELDS if "[]" not in f.path}
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ORDER_OPS = ("gt", "gte", "lt", "lte")
_SCALAR_OPS = ("equals", "not_equals", *_ORDER_OPS)
_STRING_OPS = ("matches", "starts_with", "ends_with")


def documented_type(path: str) -> str | None:
    """The JSON type the input contract gives the field at ``path``, or None."""
    segments = path.split(".")
    for documented, kind in _DOCUMENTED.items():
        if len(documented) == len(segments) and all(
                d in ("*", s) for d, s in zip(documented, segments, strict=True)):
            return kind
    return None


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else None


def _unquoted(operand: Any) -> str:
    """``; write 10 without quotes`` for a string that reads as a number or boolean."""
    text = operand.strip() if isinstance(operand, str) else ""
    if text.lower() in ("true", "false"):
        return f"; write {text.lower()} without quotes"
    return f"; write {text} without quotes" if _NUMBER_TEXT.fullmatch(text) else ""


def _check_kinds(path: str, op: str, operand: Any, ctx: Ctx) -> bool:
    """A comparison that can never hold (or never fail) for the field's type. When the
    input contract documents the field: ``gt``/``gte``/``lt``/``lte`` against the wrong
    type is an error (``action.amount`` with ``gt: "100"``), ``equals``, ``not_equals``
    and the string operators a warning. For an undocumented field, a string that reads as
    a number (ordering) or a boolean (``equals``) is a warning. False: an error was
    reported."""
    field_type = documented_type(path)
    if field_type in ("number", "string", "boolean"):
        operand_type = "string" if op in _STRING_OPS else _json_type(operand)
        if op in _SCALAR_OPS + _STRING_OPS and operand_type and operand_type != field_type:
            outcome = "always holds" if op == "not_equals" else "never holds"
            message = (f"{path} is {TYPE_TEXT[field_type]} (docs/input.md), so {op!r} "
                       f"{'' if op in _STRING_OPS else f'with {describe(operand)} '}{outcome}"
                       + _unquoted(operand))
            if op in _ORDER_OPS:
                ctx.error(message)
                return False
            ctx.warn(message)
        return True
    if not isinstance(operand, str):
        return True
    text = operand.strip()
    if op in _ORDER_OPS and _NUMBER_TEXT.fullmatch(text):
        ctx.warn(f"{op!r} with the string {json.dumps(operand)} compares text: it never holds "
                 f"for a field that is a number (a number and a string do not compare), and "
                 f"text compares by character (\"9\" is after \"10\"){_unquoted(operand)}")
    elif op in ("equals", "not_equals") and text.lower() in ("true", "false"):
        ctx.warn(f"{op!r} compares with the string {json.dumps(operand)}: a field that is true "
                 f"or false never equals it{_unquoted(operand)}")
    return True


def _check_operand(op: str, operand: Any, ctx: Ctx) -> Any:
    is_number = isinstance(operand, int | float) and not isinstance(operand, bool)
    if op == "exists":
        if not isinstance(operand, bool):
            ctx.error(f"'exists' takes true or false, got {describe(operand)}")
            return MISSING
    elif op in ("in", "not_in"):
        if not isinstance(operand, list):
            ctx.error(f"'{op}' takes a list, got {describe(operand)}")
            return MISSING
    elif op in ("gt", "gte", "lt", "lte"):
        if not (is_number or isinstance(operand, str)):
            ctx.error(f"'{op}' takes a number (or a string), got {describe(operand)}")
            return MISSING
    elif op in ("matches", "starts_with", "ends_with"):
        if not isinstance(operand, str):
            ctx.error(f"'{op}' takes a string, got {describe(operand)}")
            return MISSING
        if op == "matches":
            ctx.regexes.append((ctx.loc(), operand))
            regex_warnings(operand, ctx)
    return operand


def _to_dnf(node: Any, negate: bool) -> Dnf:
    kind = node[0]
    if kind == "leaf":
        return [[{**node[1], "negate": negate}]]
    if kind == "not":
        return _to_dnf(node[1], not negate)
    children = [_to_dnf(child, negate) for child in node[1]]
    # De Morgan: a negated `all` is an `any` of negations, and the reverse.
    conjunctive = (kind == "all") != negate
    if not conjunctive:
        return [term for child in children for term in child]
    terms: Dnf = [[]]
    for child in children:
        terms = [left + right for left, right in itertools.product(terms, child)]
        if len(terms) > MAX_TERMS:
            return terms
    return terms
