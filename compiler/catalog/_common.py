"""Pieces several rule types share: parameter checks and pattern building."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..schema import MISSING, Ctx, Field, ListOf, Number, Str, control_character_warning

# RE2's metacharacters (Go's regexp.QuoteMeta escapes exactly these).
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")

ACTION_TYPE = Str(non_empty=True)


def quote_meta(literal: str) -> str:
    """Escape a literal so RE2 matches it character for character."""
    return _RE2_SPECIAL.sub(r"\\\1", literal)


#: RE2's word characters (``\w``, and what ``\b`` looks for): ASCII only.
WORD_CHARACTER = re.compile(r"[A-Za-z0-9_]")


def _edges(literal: str) -> tuple[str, str]:
    """The boundaries of a whole-word match for ``literal``: the term must not touch a
    word character on either side. At an edge that is a word character that is RE2's
    ``\b`` (SPEC 4); at an edge that is not (``C++``, ``$100``, ``.NET``), ``\b`` would
    demand a word character *next to* the term, so the boundary is the start or end of
    the text or a non-word character instead (an extension of SPEC, docs/validation.md;
    RE2 has no look-arounds, so it consumes that character, which only ``regex.match``
    reads)."""
    left = r"\b" if WORD_CHARACTER.match(literal[:1]) else r"(?:^|\W)"
    right = r"\b" if WORD_CHARACTER.match(literal[-1:]) else r"(?:\W|$)"
    return left, right


def word_pattern(literal: str) -> str:
    """Whole-word, case-insensitive RE2 pattern for a literal keyword or term (SPEC 4)."""
    left, right = _edges(literal)
    return f"(?i){left}{quote_meta(literal)}{right}"


def words_pattern(literals: list[str]) -> str:
    """One whole-word, case-insensitive RE2 pattern matching any of the literals: a
    keyword list costs one regex evaluation, not one per keyword. Literals are grouped
    by their edges (:func:`_edges`); the usual list, every term starting and ending with
    a word character, is one ``\b(?:a|b)\b``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for literal in literals:
        groups.setdefault(_edges(literal), []).append(quote_meta(literal))
    parts = [f"{left}(?:{'|'.join(quoted)}){right}"
             for (left, right), quoted in sorted(groups.items(), key=_plain_first)]
    return "(?i)" + (parts[0] if len(parts) == 1 else f"(?:{'|'.join(parts)})")


def _plain_first(item: tuple[tuple[str, str], list[str]]) -> tuple[bool, str, str]:
    (left, right), _ = item
    return (left != r"\b" or right != r"\b", left, right)


NON_BLANK = re.compile(r"[\s\S]*\S[\s\S]*")


@dataclass
class Term(Str):
    """A literal word or phrase matched whole (a terminology term, a topic keyword).

    Blank is an error: ``""`` or ``" "`` would match at nearly every word boundary, so a
    rule with one would fire on every text. Control characters and whitespace at the
    ends are warnings: the term can only match text that has them."""

    what: str = "term"

    def __post_init__(self) -> None:
        self.pattern, self.non_empty = NON_BLANK, True
        self.hint = "a word or phrase, not blank"
        self.label = f"a {self.what} (a literal word or phrase)"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            return self.fail(value, ctx)
        if not value.strip():
            ctx.error(f"a blank {self.what} ({json.dumps(value)}) would match almost every "
                      f"text: write a word or phrase, or remove it")
            return MISSING
        warning = control_character_warning(value, self.what, literal=True)
        if warning:
            ctx.warn(warning)
        if value != value.strip():
            ctx.warn(f"{self.what} {json.dumps(value)} starts or ends with whitespace, which is "
                     f"part of the {self.what}: it matches only where the text has that "
                     f"whitespace too; remove it")
        return value


def any_of(patterns: list[str]) -> str:
    """One RE2 pattern that matches where any of ``patterns`` matches. Each keeps its
    own flags: ``(?i)`` inside a group applies to that group only."""
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def one_of(patterns: list[str]) -> str | None:
    """:func:`any_of`, the pattern itself for one, None for none."""
    return any_of(patterns) if len(patterns) > 1 else patterns[0] if patterns else None


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
