"""Pieces several rule types share: parameter checks and pattern building."""

from __future__ import annotations

import re
from typing import Any

from ..schema import Field, ListOf, Number, Str

# RE2's metacharacters (Go's regexp.QuoteMeta escapes exactly these).
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")

ACTION_TYPE = Str(non_empty=True)


def quote_meta(literal: str) -> str:
    """Escape a literal so RE2 matches it character for character."""
    return _RE2_SPECIAL.sub(r"\\\1", literal)


def word_pattern(literal: str) -> str:
    """Whole-word, case-insensitive RE2 pattern for a literal keyword or term (SPEC 4)."""
    return rf"(?i)\b{quote_meta(literal)}\b"


def words_pattern(literals: list[str]) -> str:
    """One whole-word, case-insensitive RE2 pattern matching any of the literals: a
    keyword list costs one regex evaluation, not one per keyword."""
    return rf"(?i)\b(?:{'|'.join(quote_meta(literal) for literal in literals)})\b"


def any_of(patterns: list[str]) -> str:
    """One RE2 pattern that matches where any of ``patterns`` matches. Each keeps its
    own flags: ``(?i)`` inside a group applies to that group only."""
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def condition_action_types(dnf: list[list[dict[str, Any]]]) -> list[Any] | None:
    """The action types for which a condition in disjunctive normal form can hold: every
    term must pin ``action.type`` with a plain ``equals`` or ``in`` leaf; otherwise
    None (any type). Lets a decision skip the condition with one membership test."""
    found: set[str] = set()
    for term in dnf:
        allowed: set[Any] | None = None
        for leaf in term:
            if leaf["field"] != ["action", "type"] or leaf["negate"]:
                continue
            if leaf["op"] == "equals" and isinstance(leaf["value"], str):
                values = {leaf["value"]}
            elif leaf["op"] == "in" and isinstance(leaf["value"], list) and all(
                    isinstance(v, str) for v in leaf["value"]):
                values = set(leaf["value"])
            else:
                continue
            allowed = values if allowed is None else allowed & values
        if allowed is None:
            return None
        found |= allowed
    return sorted(found)


def actions_field(default: list[str] | None = None) -> Field:
    """``actions``: the action types a rule applies to (absent: the type's default)."""
    return Field(ListOf(ACTION_TYPE), default=default)



def domains(values: list[str] | None) -> list[str] | None:
    return None if values is None else [v.lower().strip(".") for v in values]


NON_NEGATIVE = Number(minimum=0)
COUNT = Number(minimum=0, integer=True)
