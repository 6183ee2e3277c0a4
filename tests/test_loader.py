"""The YAML loader's values and lines (docs/repository.md, "Numbers and other plain
values"), through libyaml and through the pure-Python fallback parser alike."""

# The corpus is a table, one case per line: its lines stay long.
# ruff: noqa: E501

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policypacks import yaml_values
from policypacks.errors import Problems
from policypacks.load import Document, YMap, YSeq, parse_text

PARSERS = ["libyaml", "python"]


def load(text: str, parser: str = "libyaml") -> tuple[list[Document], list[str]]:
    """The documents of one file and its problems as `LINE: message`."""
    problems = Problems()
    docs: list[Document] = []
    parse_text(text, Path("f.yaml"), problems, docs, pure_python=parser == "python")
    return docs, [f"{p.location.line}: {p.message}" for p in problems.items]


def value_of(scalar: str, parser: str = "libyaml") -> Any:
    docs, errors = load(f"apiVersion: policypacks/v1\nv: {scalar}\n", parser)
    if errors:
        return ("error", errors[0])
    return docs[0].body["v"]


def test_libyaml_is_there() -> None:
    # PyPI's PyYAML wheels ship libyaml; the fast path depends on it.
    assert yaml.__with_libyaml__ and yaml_values._CParser is not None


ERROR = object()


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("written", "value"), [
    ("100", 100),
    ("-7", -7),
    ("+1", 1),
    ("0", 0),
    ("-0", 0),
    ("0100", ERROR),         # YAML 1.1: 64, YAML 1.2: 100 -- ambiguous, so an error
    ("007", ERROR),
    ("-012", ERROR),
    ("0o17", 15),            # YAML 1.2 octal
    ("0x1F", 31),
    ("-0x1F", -31),
    ("0b101", 5),            # YAML 1.1 binary, kept
    ("1_000", 1000),         # digit separators, kept from YAML 1.1
    ("1:40", "1:40"),        # YAML 1.1 base 60 (100) is gone: a string
    ("1:40:30.5", "1:40:30.5"),
    ("1.5", 1.5),
    (".5", 0.5),
    ("-.5", -0.5),
    ("1.", 1.0),
    ("00.5", 0.5),
    ("1e3", 1000.0),         # YAML 1.2 (1.1 read a string)
    ("1.5E-2", 0.015),
    (".inf", ERROR),         # JSON has no infinity or NaN
    ("-.Inf", ERROR),
    (".nan", ERROR),
    ("1e400", ERROR),
    ("1" * 101, ERROR),      # more than 100 digits
    ("1" * 100, int("1" * 100)),
    ("0x", "0x"),
    ("0x_", "0x_"),
    ("1_", 1),
    ("true", True),
    ("False", False),
    ("TRUE", True),
    ("yes", "yes"),          # YAML 1.1 booleans are strings
    ("NO", "NO"),
    ("on", "on"),
    ("null", None),
    ("~", None),
    ("", None),
    ("2024-01-01", "2024-01-01"),  # no timestamps
    ("=", "="),
    ("<<", "<<"),            # only a key merges
    ("'0100'", "0100"),
    ('"1:40"', "1:40"),
    ("!!str 0100", "0100"),
    ("!!int 0x10", 16),
    ("!!int 0100", ERROR),
    ("!!int abc", ERROR),
    ("!!float 1", 1.0),
    ("!!float .nan", ERROR),
    ("!!bool yes", ERROR),
    ("!!bool true", True),
    ("!!null ''", None),
    ("! 12", "12"),
    ("!!binary aGk=", ERROR),
    ("!!timestamp 2024-01-01", ERROR),
    ("!Ref x", ERROR),
    ("!!python/object/apply:os.system [echo]", ERROR),
    ("١٢", "١٢"),            # digits, but not ASCII ones
    ("1١", "1١"),
])
def test_plain_values(written: str, value: Any, parser: str) -> None:
    got = value_of(written, parser)
    if value is ERROR:
        assert isinstance(got, tuple) and got[0] == "error", got
        assert got[1].startswith("2: unsupported YAML value: "), got
    else:
        assert got == value and type(got) is type(value)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("written", "message"), [
    ("0100", "0100 is ambiguous: YAML 1.1 reads a leading 0 as octal, YAML 1.2 as decimal; "
             "write 100 (or 0o100 for octal), or put it in quotes ('0100') if it is text"),
    (".inf", "'.inf' is not a finite number (JSON has no infinity or NaN)"),
    ("!!timestamp 2024-01-01", "!!timestamp values are not supported: policy documents hold "
                               "JSON data"),
    ("!Ref x", "the tag !Ref is not supported"),
    ("{<<: 1}", "YAML: `<<` merges a mapping or a list of mappings"),
    ("!!set {a: null}", "!!set values are not supported"),
])
def test_value_messages(written: str, message: str, parser: str) -> None:
    got = value_of(written, parser)
    assert isinstance(got, tuple) and message in got[1]


def test_a_lone_surrogate_is_an_error_with_its_line() -> None:
    # libyaml refuses the escape; the pure-Python parser builds the string, which is
    # then refused: never a string that cannot be encoded.
    text = 'apiVersion: policypacks/v1\nmetadata:\n  name: "x\\ud800"\n'
    for parser in PARSERS:
        docs, errors = load(text, parser)
        assert not docs and len(errors) == 1 and errors[0].startswith("3: "), errors
        assert "surrogate" in errors[0]


LINES = """\
apiVersion: policypacks/v1
kind: PolicyPack
metadata: {id: caps,
  name: Caps}
spec:
  rules:
    - id: a
      max: 1
    -
      id: b
    - {id: c}
  list: [x,
    y, z]
  block: |
    text
  after: 1
"""


@pytest.mark.parametrize("parser", PARSERS)
def test_lines_of_keys_and_items(parser: str) -> None:
    docs, errors = load(LINES, parser)
    assert not errors
    body = docs[0].body
    assert docs[0].line == 1 and isinstance(body, YMap) and body.line == 1
    assert [body.line_of(k) for k in body] == [1, 2, 3, 5]
    assert body["metadata"].line == 3 and body["metadata"].line_of("name") == 4
    rules = body["spec"]["rules"]
    assert isinstance(rules, YSeq) and rules.line == 7 and rules.item_lines == [7, 10, 11]
    assert rules[0].line_of("max") == 8 and rules[1].line == 10
    assert body["spec"]["list"].item_lines == [12, 13, 13]
    assert body["spec"].line_of("after") == 16 and body["spec"]["block"] == "text\n"
    assert body.line_of("nope") == 1 and rules.line_of(9) == 7


MERGES = """\
apiVersion: policypacks/v1
base: &base
  a: 1
  b: 2
other: &other {b: 20, c: 30}
one:
  <<: *base
  b: 3
many:
  d: 4
  <<: [*other, *base]
inline:
  <<: {x: 1}
  x: 2
  x: 3
listed: [*base, *base]
"""


@pytest.mark.parametrize("parser", PARSERS)
def test_merge_keys_and_aliases(parser: str) -> None:
    docs, errors = load(MERGES, parser)
    assert errors == ["15: YAML: duplicate key 'x' (first at line 14)"]
    body = docs[0].body
    assert body["one"] == {"a": 1, "b": 3} and list(body["one"]) == ["a", "b"]
    assert body["one"].key_lines == {"a": 3, "b": 8}
    # the first of several merged mappings wins, own keys win over all of them
    assert body["many"] == {"b": 20, "c": 30, "a": 1, "d": 4}
    assert list(body["many"]) == ["a", "b", "c", "d"]  # as PyYAML orders them
    assert body["many"].key_lines == {"a": 3, "b": 5, "c": 5, "d": 10}
    assert body["inline"] == {"x": 2}
    # an alias item has the line of the value it names (where its anchor is)
    assert body["listed"].item_lines == [2, 2] and body["listed"][0] is body["base"]


@pytest.mark.parametrize("parser", PARSERS)
def test_keys_are_strings_and_duplicates_keep_the_first(parser: str) -> None:
    docs, errors = load("apiVersion: policypacks/v1\n1: a\ntrue: b\n~: c\n1.5: d\n"
                        "a: 1\na: 2\n", parser)
    assert docs[0].body == {"apiVersion": "policypacks/v1", "1": "a", "True": "b",
                            "None": "c", "1.5": "d", "a": 1}
    assert errors == ["7: YAML: duplicate key 'a' (first at line 6)"]


@pytest.mark.parametrize("parser", PARSERS)
def test_documents_and_their_lines(parser: str) -> None:
    text = "# comment\napiVersion: policypacks/v1\n---\n---\n\n- apiVersion: x\n...\n"
    docs, errors = load(text, parser)
    assert not errors
    assert [(d.line, type(d.body).__name__) for d in docs] == [(2, "YMap"), (6, "YSeq")]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("text", "line", "message"), [
    ("a: " + "[" * 65 + "]" * 65, 1, "YAML limit: nested deeper than 64 levels"),
    ("".join(f"{'  ' * i}k:\n" for i in range(70)), 65, "YAML limit: nested deeper than 64"),
    ("a: &a [x]\nb: [" + ", ".join(["*a"] * 10_001) + "]", 2, "YAML limit: aliases"),
    ("a: &a [*a]", 1, "alias *a is used inside the value it names"),
    ("a: *b", 1, "found undefined alias 'b'"),
    ("a: &x 1\nb: &x 2", 2, "found duplicate anchor 'x' (first at line 3)"),
])
def test_limits_and_alias_errors(text: str, line: int, message: str, parser: str) -> None:
    docs, errors = load("apiVersion: policypacks/v1\n---\n" + text + "\n", parser)
    assert len(errors) == 1 and errors[0].startswith(f"{line + 2}: "), errors
    assert message in errors[0]


def test_an_alias_bomb_stops_early() -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 9):
        prev, name = chr(96 + index), chr(97 + index)
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    docs, errors = load("apiVersion: policypacks/v1\n" + "\n".join(levels) + "\n")
    assert not docs and len(errors) == 1 and "YAML limit: aliases" in errors[0]
    # 9 + 81 + ... values: the limit (100,000 expanded values) is passed on level 6
    assert errors[0].startswith("7: ")


def test_too_many_values() -> None:
    text = "apiVersion: policypacks/v1\nv: [" + "1," * yaml_values.MAX_VALUES + "1]\n"
    docs, errors = load(text)
    assert errors == ["2: YAML limit: more than 500,000 values in one file; split it into "
                      "several files"]
    problems = Problems()
    used = parse_text("apiVersion: policypacks/v1\nv: [1, 2, 3]\n", Path("f.yaml"), problems,
                      [], values_left=3)
    assert used == (4, False)  # the value over the budget counts too
    assert "the repository's files hold more than" in str(problems.items[0])


def test_the_pure_python_parser_reads_what_libyaml_reads() -> None:
    for path in sorted(Path(__file__).parent.parent.joinpath("packs").rglob("*.yaml")):
        text = path.read_text()
        c_docs, c_errors = load(text, "libyaml")
        py_docs, py_errors = load(text, "python")
        assert c_errors == py_errors == []
        assert [(d.line, d.body) for d in c_docs] == [(d.line, d.body) for d in py_docs]
        assert lines_of(c_docs) == lines_of(py_docs)


def lines_of(value: Any) -> Any:
    """Every line mark in a loaded value, as nested plain data."""
    if isinstance(value, list) and value and isinstance(value[0], Document):
        return [(d.line, lines_of(d.body)) for d in value]
    if isinstance(value, YMap):
        return (value.line, value.key_lines, {k: lines_of(v) for k, v in value.items()})
    if isinstance(value, YSeq):
        return (value.line, value.item_lines, [lines_of(v) for v in value])
    return None


@pytest.mark.parametrize("parser", PARSERS)
def test_control_characters_are_reported_on_their_line(parser: str) -> None:
    # libyaml counts bytes, PyYAML characters: both must land on the same line.
    text = "apiVersion: policypacks/v1\nname: " + "é" * 40 + "\nb: €\nc: x\x1b[2J\n"
    docs, errors = load(text, parser)
    assert not docs and errors == ["4: YAML error: the character #x001b is not allowed in "
                                   "YAML (control characters are not text: is this a binary "
                                   "file?)"]
