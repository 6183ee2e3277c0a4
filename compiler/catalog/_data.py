"""Pieces the data-governance rule types share: class scopes and destination globs."""

from __future__ import annotations

import json
from typing import Any

from ..schema import MISSING, Check, Ctx, Field, ListOf, Str

CLASSES = Field(ListOf(Str(non_empty=True)))

# The docs of every data-governance type start from this.
FAIL_CLOSED_NOTE = (
    "Data-governance rules fail closed: a field the rule needs that the action does not "
    "carry counts as a violation. Data classes, purposes and regions compare exactly as "
    "written (SPEC names no case folding for them)."
)


def classes_key(classes: list[str] | None) -> str:
    """``CLASSES`` of a conflict key: the sorted classes joined by ``,``, or
    ``*`` for a rule that covers every class."""
    return "*" if classes is None else ",".join(sorted(set(classes)))


def glob_problem(pattern: str) -> str | None:
    """Why OPA's ``glob.match`` (gobwas/glob) would refuse a pattern, or None.

    At least as strict as OPA: an unclosed ``[`` or ``{``, an empty or reversed character
    class, a trailing lone backslash. ``*`` and ``?`` are wildcards, ``[a-z]``/``[!ab]``
    classes and ``{a,b}`` alternatives; ``\\`` escapes the next character.
    """
    depth, i, n = 0, 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 == n:
                return "ends with a lone backslash"
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i + 1)
            if i < 0:
                return "has an unclosed, empty or reversed character class [...]"
        elif char == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        i += 1
    return "has an unclosed {" if depth else None


def _class_end(pattern: str, i: int) -> int:
    """The index of the ``]`` closing a character class that starts at ``i``, or -1."""
    n = len(pattern)
    if i < n and pattern[i] == "!":
        i += 1
    if i + 2 < n and pattern[i + 1] == "-":  # a range lo-hi
        ok = pattern[i] <= pattern[i + 2] and i + 3 < n and pattern[i + 3] == "]"
        return i + 3 if ok else -1
    start = i
    while i < n and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i if start < i < n else -1


class Glob(Check):
    """A destination pattern for ``glob.match`` without delimiters (``*`` spans ``/``)."""

    label = "a glob pattern (string)"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            return self.fail(value, ctx)
        problem = "is empty" if not value else glob_problem(value)
        if problem:
            ctx.error(f"invalid glob pattern {json.dumps(value, ensure_ascii=False)}: it "
                      f"{problem}")
            return MISSING
        return value
