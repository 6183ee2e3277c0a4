"""Line-aware values from YAML text, built from the parser's events under fixed limits.

libyaml (PyYAML's C parser) turns the text into events; this module builds the values
itself, one event at a time and without recursion, so that it can

- remember the line of every mapping key and sequence item (:class:`YMap`, :class:`YSeq`)
  for ``FILE:LINE`` messages;
- resolve plain scalars by the YAML 1.2 core schema, with the few rules of
  docs/repository.md ("Numbers and other plain values"): ``0100`` is an error, not 64;
  ``1:40`` is a string, not 100; only ``true``/``false`` are booleans;
- keep a hostile file cheap: nesting depth, values per file, alias references and the
  values aliases expand to are counted while building, and the first one over its limit
  ends the file with an error, long before an alias bomb could expand.

Without libyaml (a PyYAML built without it) the pure-Python parser produces the same
events, only slower.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

# libyaml's parser, in PyPI's PyYAML wheels (yaml.__with_libyaml__); None without it.
_CParser: Any = getattr(yaml, "CParser", None) or getattr(
    getattr(yaml, "cyaml", None), "CParser", None)

MAX_DEPTH = 64  # nested mappings and sequences
MAX_VALUES = 500_000  # values (scalars, mappings, sequences, documents) written in one file
MAX_REPOSITORY_VALUES = 2_000_000  # ... in all the files of a repository
MAX_ALIASES = 10_000  # alias references (*name, <<: *name) in one file
MAX_ALIAS_VALUES = 100_000  # values that those references add, counted expanded
MAX_INT_DIGITS = 100


class YMap(dict[str, Any]):
    """A YAML mapping with the line of the mapping and of each key."""

    __slots__ = ("line", "key_lines")
    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YSeq(list[Any]):
    """A YAML sequence with the line of the sequence and of each item."""

    __slots__ = ("line", "item_lines")
    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def line_of(container: Any, key: Any, default: int) -> int:
    """Line of ``key`` inside ``container`` when it is a YAML node, else ``default``.
    (Called for every field validation looks at: kept cheap.)"""
    kind = container.__class__
    if kind is YMap:
        return container.key_lines.get(key, container.line)
    if kind is YSeq and key.__class__ is int:
        return container.line_of(key)
    if isinstance(container, YMap):
        return container.line_of(key)
    if isinstance(container, YSeq) and isinstance(key, int):
        return container.line_of(key)
    return default


@dataclass
class ParsedDocument:
    line: int  # where the document's top value starts
    body: Any
    errors: list[tuple[int, str]] = field(default_factory=list)  # the document is unusable
    notes: list[tuple[int, str]] = field(default_factory=list)  # reported; body still used


@dataclass
class ParsedFile:
    documents: list[ParsedDocument]  # the complete documents, in order (empty ones left out)
    failure: tuple[int, str] | None = None  # (line, message) where reading stopped
    values: int = 0  # values written in the file (what MAX_VALUES counts)


class _Stop(Exception):
    """Ends the file: a syntax error or a limit."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


# --- scalars ---------------------------------------------------------------------------

_WORDS: dict[str, Any] = {
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
    "null": None, "Null": None, "NULL": None, "~": None, "": None,
}
_NUMBER_START = frozenset("0123456789+-.")
_NUMBER = re.compile(r"""
    (?P<int>[-+]?(?:0|[1-9][0-9_]*))
  | (?P<zero>[-+]?0[0-9_]+)
  | (?P<hex>[-+]?0x_*[0-9a-fA-F][0-9a-fA-F_]*)
  | (?P<oct>[-+]?0o_*[0-7][0-7_]*)
  | (?P<bin>[-+]?0b_*[01][01_]*)
  | (?P<float>[-+]?(?:(?:\.[0-9][0-9_]*|[0-9][0-9_]*\.[0-9_]*)(?:[eE][-+]?[0-9]+)?
                     |[0-9][0-9_]*[eE][-+]?[0-9]+))
  | (?P<special>[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))
""", re.VERBOSE)
_BASES = {"int": 10, "hex": 16, "oct": 8, "bin": 2}
_SURROGATE = re.compile("[\ud800-\udfff]")
_TAG = "tag:yaml.org,2002:"
_UNSUPPORTED = ("binary", "timestamp", "set", "omap", "pairs")


class _BadValue(Exception):
    """A value JSON cannot carry or YAML 1.1 and 1.2 read differently: the document is
    unusable, but the rest of the file is still read."""


def plain_scalar(text: str) -> Any:
    """The value of an untagged plain scalar (docs/repository.md)."""
    if text in _WORDS:
        return _WORDS[text]
    if text[0] not in _NUMBER_START:
        return text
    match = _NUMBER.fullmatch(text)
    return text if match is None else _number(text, match.lastgroup or "")


def _number(text: str, kind: str) -> int | float:
    if kind == "zero":
        digits = text.lstrip("+-").lstrip("0_") or "0"
        raise _BadValue(f"{text} is ambiguous: YAML 1.1 reads a leading 0 as octal, YAML 1.2 "
                        f"as decimal; write {digits} (or 0o{digits} for octal), or put it in "
                        f"quotes ('{text}') if it is text")
    if kind in _BASES:
        digits = text.replace("_", "")
        if len(digits) > MAX_INT_DIGITS:
            raise _BadValue(f"integer {text[:20]}... has more than {MAX_INT_DIGITS} digits")
        sign = -1 if digits[0] == "-" else 1
        digits = digits.lstrip("+-")
        if kind != "int":
            digits = digits[2:]  # 0x, 0o, 0b
        return sign * int(digits, _BASES[kind])
    if kind == "special":
        raise _BadValue(f"{text!r} is not a finite number (JSON has no infinity or NaN)")
    value = float(text.replace("_", ""))
    if not math.isfinite(value):
        raise _BadValue(f"{text!r} is not a finite number (JSON has no infinity or NaN)")
    return value


def _tagged_scalar(tag: str, text: str) -> Any:
    """A scalar with an explicit tag such as ``!!str`` or ``!!int``."""
    name = tag[len(_TAG):] if tag.startswith(_TAG) else ""
    if tag == "!" or name == "str":
        return text
    if name in ("int", "float"):
        match = _NUMBER.fullmatch(text)
        kinds = ("int", "zero", "hex", "oct", "bin") if name == "int" else tuple(_BASES) + (
            "zero", "float", "special")
        if match is None or match.lastgroup not in kinds:
            wanted = "an integer" if name == "int" else "a number"
            raise _BadValue(f"!!{name} {text!r} is not {wanted}")
        value = _number(text, match.lastgroup or "")
        return float(value) if name == "float" else value
    if name in ("bool", "null"):
        value = _WORDS.get(text, ...)
        if value is ... or (value is None) != (name == "null"):
            wanted = "true or false" if name == "bool" else "null"
            raise _BadValue(f"!!{name} {text!r} is not {wanted}")
        return value
    raise _BadValue(_unsupported_tag(tag))


def _unsupported_tag(tag: str) -> str:
    name = tag[len(_TAG):] if tag.startswith(_TAG) else ""
    shown = f"!!{name} values are" if name in _UNSUPPORTED else f"the tag {tag} is"
    return (f"{shown} not supported: policy documents hold JSON data (strings, numbers, "
            "booleans, null, lists and mappings)")


# --- building ----------------------------------------------------------------------------

_MERGE: Any = object()  # the key of a `<<: *defaults` merge
_SLOW: Any = object()  # "not the fast path"
_NO_KEY: Any = object()


class _Open:
    """A mapping or sequence whose end event has not come yet."""

    __slots__ = ("value", "mapping", "lines", "line", "anchor", "size", "key", "key_line",
                 "merges")

    def __init__(self, value: Any, line: int, anchor: str | None):
        self.value = value
        self.mapping = isinstance(value, YMap)
        self.lines: Any = value.key_lines if self.mapping else value.item_lines
        self.line = line
        self.anchor = anchor
        self.size = 1
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.merges: list[tuple[int, Any]] | None = None


class _Builder:
    """Turns one file's events into documents.

    The loop is written for speed (it runs once per scalar of a repository): the common
    case, a plain scalar without tag or anchor going into a mapping or sequence, is
    handled inline; everything rarer goes through :meth:`_add` and friends."""

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self.values = self._values = 0
        self.aliases = 0
        self.alias_values = 0
        self.documents: list[ParsedDocument] = []
        self.stack: list[_Open] = []  # the open mappings and sequences, outermost first

    def too_many(self, line: int) -> _Stop:
        if self.max_values < MAX_VALUES:
            return _Stop(line, f"YAML limit: the repository's files hold more than "
                         f"{MAX_REPOSITORY_VALUES:,} values together")
        return _Stop(line, f"YAML limit: more than {MAX_VALUES:,} values in one file; split "
                     "it into several files")

    def run(self, parser: Any) -> None:
        try:
            self._run(parser)
        finally:
            self.values = self._values

    def _run(self, parser: Any) -> None:
        get_event = parser.get_event
        stack: list[_Open] = self.stack
        top: _Open | None = None  # stack[-1]
        anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, line, size)
        anchor_lines: dict[str, int] = {}
        document = ParsedDocument(0, None)
        words = _WORDS
        number_start = _NUMBER_START
        max_values = self.max_values
        values = self._values = 0
        while True:
            event = get_event()
            kind = event.__class__
            if kind is ScalarEvent:
                values += 1
                if values > max_values:
                    self._values = values
                    raise self.too_many(event.start_mark.line + 1)
                text = event.value
                if (top is not None and event.tag is None and event.anchor is None
                        and event.implicit[0]):
                    # A plain scalar without tag or anchor: by far the most common value.
                    if text in words:
                        value = words[text]
                    elif text[0] not in number_start:
                        value = text
                    elif (text.isdigit() and text.isascii() and len(text) <= 18
                          and (text[0] != "0" or len(text) == 1)):
                        value = int(text)
                    else:
                        value = _SLOW
                    if value is not _SLOW:
                        line = event.start_mark.line + 1
                        top.size += 1
                        if not top.mapping:
                            top.value.append(value)
                            top.lines.append(line)
                            continue
                        key = top.key
                        if key is _NO_KEY:
                            if text == "<<":
                                top.key = _MERGE
                            else:
                                top.key = value if value.__class__ is str else str(value)
                            top.key_line = line
                            continue
                        if key is not _MERGE and key not in top.value:
                            top.key = _NO_KEY
                            top.value[key] = value
                            top.lines[key] = top.key_line
                            continue
                        self._add(top, value, line, 0, document)
                        continue
                self._scalar(event, top, anchors, anchor_lines, document)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                values += 1
                line = event.start_mark.line + 1
                if values > max_values:
                    self._values = values
                    raise self.too_many(line)
                if len(stack) >= MAX_DEPTH:
                    raise _Stop(line, f"YAML limit: nested deeper than {MAX_DEPTH} levels")
                container: Any
                if kind is MappingStartEvent:
                    container = YMap()
                    container.key_lines = {}
                else:
                    container = YSeq()
                    container.item_lines = []
                container.line = line
                if event.tag is not None:
                    self._check_collection_tag(event.tag, kind is MappingStartEvent, line,
                                               document)
                if event.anchor is not None:
                    self._anchor(event.anchor, line, anchor_lines)
                top = _Open(container, line, event.anchor)
                stack.append(top)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                done = stack.pop()
                top = stack[-1] if stack else None
                if done.merges is not None:
                    self._merge(done, document)
                if done.anchor is not None:
                    anchors[done.anchor] = (done.value, done.line, done.size)
                if top is not None:
                    self._add(top, done.value, done.line, done.size, document)
                else:
                    document.line, document.body = done.line, done.value
            elif kind is AliasEvent:
                self._alias(event, top, anchors, anchor_lines, document)
            elif kind is DocumentStartEvent:
                values += 1
                if values > max_values:
                    self._values = values
                    raise self.too_many(event.start_mark.line + 1)
                document = ParsedDocument(0, None)
                anchors.clear()
                anchor_lines.clear()
            elif kind is DocumentEndEvent:
                self._values = values  # counted even if a later document fails
                if document.body is not None or document.errors or document.notes:
                    self.documents.append(document)
            elif kind is StreamEndEvent:
                self._values = values
                return
            elif kind is not StreamStartEvent:  # pragma: no cover - PyYAML's events
                raise _Stop(event.start_mark.line + 1, f"YAML: unexpected {kind.__name__}")

    def _scalar(self, event: Any, top: _Open | None, anchors: dict[str, tuple[Any, int, int]],
                anchor_lines: dict[str, int], document: ParsedDocument) -> None:
        line = event.start_mark.line + 1
        text = event.value
        tag = event.tag
        try:
            if tag is None:
                value = plain_scalar(text) if event.implicit[0] else text
            else:
                value = _tagged_scalar(tag, text)
            if event.style == '"' and _SURROGATE.search(text):
                raise _BadValue(_surrogate_message(text))
        except _BadValue as bad:
            document.errors.append((line, f"unsupported YAML value: {bad}"))
            value = text
        if event.anchor is not None:
            self._anchor(event.anchor, line, anchor_lines)
            anchors[event.anchor] = (value, line, 1)
        if top is not None:
            self._add(top, value, line, 1, document,
                      merge_key=text == "<<" and tag is None and event.implicit[0])
        else:
            document.line, document.body = line, value

    def _alias(self, event: Any, top: _Open | None, anchors: dict[str, tuple[Any, int, int]],
               anchor_lines: dict[str, int], document: ParsedDocument) -> None:
        line = event.start_mark.line + 1
        name = event.anchor
        if name not in anchors:
            if name in anchor_lines:
                raise _Stop(line, f"YAML syntax error: alias *{name} is used inside the value "
                            f"it names (line {anchor_lines[name]}): a recursive structure "
                            "JSON cannot hold")
            raise _Stop(line, f"YAML syntax error: found undefined alias {name!r}: *{name} "
                        f"needs an anchor &{name} earlier in the same document")
        value, anchor_line, size = anchors[name]
        self.aliases += 1
        self.alias_values += size
        if self.aliases > MAX_ALIASES or self.alias_values > MAX_ALIAS_VALUES:
            raise _Stop(line, f"YAML limit: aliases in this file are used more than "
                        f"{MAX_ALIASES:,} times or expand to more than {MAX_ALIAS_VALUES:,} "
                        "values (an alias bomb?)")
        if top is not None:
            self._add(top, value, anchor_line, size, document)
        else:  # pragma: no cover - an alias cannot start a document: no anchor yet
            document.line, document.body = anchor_line, value

    def _add(self, parent: _Open, value: Any, line: int, size: int,
             document: ParsedDocument, merge_key: bool = False) -> None:
        """Put a finished value into its mapping or sequence."""
        parent.size += size
        container = parent.value
        if not parent.mapping:
            container.append(value)
            parent.lines.append(line)
            return
        key = parent.key
        if key is _NO_KEY:
            if merge_key:
                parent.key = _MERGE
            else:
                parent.key = value if isinstance(value, str) else str(value)
            parent.key_line = line
            return
        parent.key = _NO_KEY
        if key is _MERGE:
            if parent.merges is None:
                parent.merges = []
            parent.merges.append((line, value))
        elif key in container:
            # Keep the first value and go on, so the rest of the file is still checked.
            document.notes.append((parent.key_line, f"YAML: duplicate key {key!r} "
                                   f"(first at line {container.key_lines[key]})"))
        else:
            container[key] = value
            container.key_lines[key] = parent.key_line

    def _merge(self, done: _Open, document: ParsedDocument) -> None:
        """``<<: *defaults`` (or a list of mappings): the merged pairs come first and the
        mapping's own keys override them; the first of several merged mappings wins."""
        own: YMap = done.value
        inherited: list[YMap] = []
        for line, value in done.merges or []:
            sources = list(reversed(value)) if isinstance(value, YSeq) else [value]
            if not all(isinstance(source, YMap) for source in sources):
                document.errors.append((line, "YAML: `<<` merges a mapping or a list of "
                                        "mappings"))
                return
            inherited.extend(sources)
        pairs = list(own.items())
        lines = own.key_lines
        merged_lines: dict[str, int] = {}
        own.clear()
        for source in inherited:
            for key, value in source.items():
                own[key] = value
                merged_lines[key] = source.key_lines.get(key, source.line)
        for key, value in pairs:
            own[key] = value
        own.key_lines = {**merged_lines, **lines}

    def _check_collection_tag(self, tag: str | None, mapping: bool, line: int,
                              document: ParsedDocument) -> None:
        if tag is None or tag == "!" or tag == _TAG + ("map" if mapping else "seq"):
            return
        document.errors.append((line, f"unsupported YAML value: {_unsupported_tag(tag)}"))

    def _anchor(self, name: str, line: int, seen: dict[str, int]) -> None:
        if name in seen:
            raise _Stop(line, f"YAML syntax error: found duplicate anchor {name!r} (first at "
                        f"line {seen[name]}); give each anchor its own name")
        seen[name] = line


def _surrogate_message(text: str) -> str:
    found = _SURROGATE.search(text)
    code = f"\\u{ord(found.group()):04x}" if found else "\\ud800"
    return (f"{code} is half of a UTF-16 surrogate pair, not a "
            "character; write the character itself (or \\U0001f600 for characters beyond "
            "\\uffff)")


class _PurePythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own parser, for a PyYAML built without libyaml."""

    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


def parse_yaml(text: str, data: bytes, pure_python: bool = False,
               values_left: int = MAX_VALUES) -> ParsedFile:
    """Every document of one file. ``data`` is ``text`` encoded as UTF-8 (libyaml reads
    the bytes). A syntax error or a limit ends the file; the documents before it stay.
    ``values_left``: what the repository's budget (MAX_REPOSITORY_VALUES) still allows."""
    from .yaml_errors import explain  # only needed when something is wrong

    builder = _Builder(min(MAX_VALUES, values_left))
    use_c = _CParser is not None and not pure_python
    parser: Any = None
    failure = None
    try:
        # PyYAML's Reader checks the text as it is built: inside the try.
        parser = _CParser(data) if use_c else _PurePythonParser(text)
        builder.run(parser)
    except _Stop as stop:
        failure = (stop.line, stop.message)
    except yaml.YAMLError as exc:
        innermost = builder.stack[-1].line if builder.stack else None
        failure = explain(exc, text, data if use_c else None, innermost)
    finally:
        if parser is not None:
            parser.dispose()
    return ParsedFile(builder.documents, failure, builder.values)
