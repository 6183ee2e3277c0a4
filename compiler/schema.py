"""A small schema language for pack documents, with precise, located messages.

Each check validates a YAML value and returns its normalised Python value; problems go
to the :class:`Ctx`, so one pass reports every mistake in a document. Regular
expressions are only collected here: they are checked in one batch with OPA's own RE2
(see ``regex_check``), because Python's ``re`` accepts things OPA refuses.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import Location, Problems
from .load import Document, line_of
from .vocabulary import ID_PATTERN

MISSING: Any = object()
DURATION_PATTERN = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(slots=True)  # one per field checked: slots make that cheap
class Ctx:
    """Where a value sits (document, line, field path) and where problems go."""

    doc: Document
    problems: Problems
    regexes: list[tuple[Location, str]]
    line: int
    # The field path is spelt out only when a message needs it (most fields are fine):
    # a Ctx holds its parent and its key.
    parent: Ctx | None = None
    key: str | int = ""

    @property
    def path(self) -> str:
        if self.parent is None:
            return ""
        above = self.parent.path
        if isinstance(self.key, int):
            return f"{above}[{self.key}]"
        return f"{above}.{self.key}" if above else self.key

    def at(self, container: Any, key: str | int) -> Ctx:
        return Ctx(self.doc, self.problems, self.regexes, line_of(container, key, self.line),
                   self, key)

    def loc(self) -> Location:
        return self.doc.loc(self.line, self.path)

    def error(self, message: str) -> None:
        self.problems.add(self.loc(), message)

    def warn(self, message: str) -> None:
        """A warning at this value's place (docs/validation.md): printed as
        ``FILE:LINE: warning: field: message``, never changes the exit code unless
        ``--strict``."""
        self.problems.warn(self.loc(), message)


def describe(value: Any) -> str:
    """A value as the message shows it, with its YAML type."""
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string",
             type(None): "null", dict: "mapping", list: "list"}
    kind = next((name for cls, name in kinds.items() if isinstance(value, cls)), "value")
    if isinstance(value, dict | list):
        return kind
    return f"{kind} {json.dumps(value, ensure_ascii=False, default=str)}"


class Check:
    """Base: validate ``value`` at ``ctx``; return the normalised value or MISSING."""

    label = "value"

    def __call__(self, value: Any, ctx: Ctx) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def fail(self, value: Any, ctx: Ctx) -> Any:
        ctx.error(f"expected {self.label}, got {describe(value)}")
        return MISSING


@dataclass
class Str(Check):
    pattern: re.Pattern[str] | None = None
    hint: str = ""
    non_empty: bool = False
    label: str = "a string"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            return self.fail(value, ctx)
        if self.non_empty and not value:
            ctx.error("must not be empty")
            return MISSING
        # fullmatch: `$` alone would accept a trailing newline ("acme\n" as an id)
        if self.pattern and not self.pattern.fullmatch(value):
            ctx.error(f"{json.dumps(value, ensure_ascii=False)} is not valid: {self.hint}")
            return MISSING
        return value


def Id() -> Str:  # noqa: N802 - reads like a type in schemas
    return Str(ID_PATTERN, "ids are lowercase letters, digits and '-', starting with a letter,"
               " at most 63 characters", label="an id")


@dataclass
class Number(Check):
    minimum: float | None = None
    integer: bool = False

    @property
    def label(self) -> str:  # type: ignore[override]
        return "an integer" if self.integer else "a number"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        ok = isinstance(value, int) if self.integer else isinstance(value, int | float)
        if isinstance(value, bool) or not ok:
            return self.fail(value, ctx)
        if self.minimum is not None and value < self.minimum:
            ctx.error(f"must be at least {self.minimum:g}, got {value}")
            return MISSING
        return value


@dataclass
class Bool(Check):
    label: str = "true or false"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        return value if isinstance(value, bool) else self.fail(value, ctx)


@dataclass
class Enum(Check):
    choices: tuple[str, ...]
    casefold: bool = False

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        probe = value.lower() if self.casefold and isinstance(value, str) else value
        if isinstance(probe, str) and probe in self.choices:
            return probe
        ctx.error(f"must be one of {', '.join(self.choices)}; got {describe(value)}"
                  + suggestion(value, self.choices))
        return MISSING


#: Control characters YAML's double-quoted escapes produce, by name and escape.
CONTROL_NAMES = {"\0": ("NUL", "\\0"), "\a": ("bell", "\\a"), "\b": ("backspace", "\\b"),
                 "\v": ("vertical tab", "\\v"), "\f": ("form feed", "\\f"),
                 "\x1b": ("escape", "\\e")}


def control_characters(value: str) -> list[str]:
    """The control characters in ``value`` other than tab, newline and carriage return,
    each once, in order: what a backslash escape in YAML double quotes (``"\\b"``) made."""
    found: list[str] = []
    for char in value:
        if char not in "\t\n\r" and unicodedata.category(char) == "Cc" and char not in found:
            found.append(char)
    return found


def control_character_warning(value: str, what: str, literal: bool = False) -> str | None:
    """The warning for a pattern (or a literal term, ``literal``) that holds control
    characters, or None: which ones, and how to write what was probably meant."""
    found = control_characters(value)
    if not found:
        return None
    chars = ", ".join(f"U+{ord(c):04X}" + (f" ({CONTROL_NAMES[c][0]})" if c in CONTROL_NAMES
                                           else "") for c in found)
    plural = "s" if len(found) > 1 else ""
    message = f"{what} contains the control character{plural} {chars}"
    if "\b" in found and not literal:  # the usual one: "\bword\b" meant as boundaries
        return (f"{message}: in YAML double quotes \"\\b\" becomes a backspace, not RE2's "
                "word boundary \\b; write the pattern in single quotes ('\\bword\\b') or as "
                "\"\\\\b\"")
    return (f"{message}, which text almost never holds: a backslash escape in YAML double "
            f"quotes made {'them' if plural else 'it'}; write the {what} in single quotes")


def regex_warnings(value: str, ctx: Ctx) -> None:
    """What is worth saying about a valid-looking pattern (docs/validation.md)."""
    warning = control_character_warning(value, "pattern")
    if warning:
        ctx.warn(warning)
    if value == "":
        ctx.warn("an empty pattern matches every text")


@dataclass
class Regex(Check):
    """An RE2 pattern; its validity is checked later in one batch through OPA."""

    label: str = "a regular expression (string)"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, str):
            return self.fail(value, ctx)
        ctx.regexes.append((ctx.loc(), value))
        regex_warnings(value, ctx)
        return value


@dataclass
class Duration(Check):
    """``24h``, ``90m``, ``1d12h``, ``30s`` or a number of seconds; normalised to seconds."""

    label: str = "a duration such as 24h, 30m or 1d"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        match = DURATION_PATTERN.fullmatch(value) if isinstance(value, str) and value else None
        if not match:
            return self.fail(value, ctx)
        weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        days += 7 * weeks
        return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


@dataclass
class ListOf(Check):
    item: Check

    @property
    def label(self) -> str:  # type: ignore[override]
        return "a list"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, list):
            return self.fail(value, ctx)
        out = []
        for index, item in enumerate(value):
            checked = self.item(item, ctx.at(value, index))
            if checked is not MISSING:
                out.append(checked)
        return out


@dataclass
class MapOf(Check):
    value: Check
    key: Check = field(default_factory=lambda: Str(non_empty=True))

    label: str = "a mapping"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, dict):
            return self.fail(value, ctx)
        out = {}
        for key, item in value.items():
            sub = ctx.at(value, key)
            if self.key(key, sub) is not MISSING:
                checked = self.value(item, sub)
                if checked is not MISSING:
                    out[key] = checked
        return out


@dataclass
class Field:
    check: Check
    required: bool = False
    default: Any = MISSING


@dataclass
class Obj(Check):
    """A mapping with known keys; unknown keys are errors (with a did-you-mean)."""

    fields: Mapping[str, Field]
    label: str = "a mapping"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, dict):
            return self.fail(value, ctx)
        out: dict[str, Any] = {}
        for key in value:
            if key not in self.fields:
                ctx.at(value, key).error(f"unknown key {key!r}" + suggestion(key, self.fields))
        for name, spec in self.fields.items():
            if name in value:
                checked = spec.check(value[name], ctx.at(value, name))
                if checked is not MISSING:
                    out[name] = checked
            elif spec.required:
                ctx.error(f"missing required key {name!r}")
            elif spec.default is not MISSING:
                out[name] = spec.default
        return out


@dataclass
class OneOf(Check):
    """The first check whose ``accepts`` says the value has its shape."""

    options: list[tuple[Callable[[Any], bool], Check]]
    label: str = "a value"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        for accepts, check in self.options:
            if accepts(value):
                return check(value, ctx)
        return self.fail(value, ctx)


@dataclass
class AnyValue(Check):
    label: str = "any value"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        return value


def section(body: Any, key: str, check: Check, ctx: Ctx) -> dict[str, Any]:
    """A document's ``metadata`` or ``spec`` as ``check`` normalises it; ``{}`` when it
    is absent (reported by the envelope check) or invalid (reported by ``check``)."""
    if key not in body:
        return {}
    value = check(body[key], ctx.at(body, key))
    return value if value is not MISSING and isinstance(value, dict) else {}


def suggestion(word: Any, choices: Any) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
