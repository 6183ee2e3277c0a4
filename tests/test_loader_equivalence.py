"""The event-built loader reads valid YAML exactly as the loader it replaced: the same
values, the same line of every key and item, the same duplicate-key reports, the same
merge keys. The only differences are the documented YAML 1.2 number rules.

The reference below is the previous loader (PyYAML's pure-Python SafeLoader with line
marks), kept here verbatim in substance as the oracle.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policypacks.errors import Problems
from policypacks.load import Document, YMap, YSeq, parse_text

ROOT = Path(__file__).resolve().parent.parent


class OldMap(dict):  # type: ignore[type-arg]
    line: int
    key_lines: dict[str, int]


class OldSeq(list):  # type: ignore[type-arg]
    line: int
    item_lines: list[int]


class OldLoader(yaml.SafeLoader):
    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []


_MERGE = "tag:yaml.org,2002:merge"


def _old_map(loader: OldLoader, node: yaml.MappingNode) -> OldMap:
    result = OldMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    own = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE)
    loader.flatten_mapping(node)
    inherited = len(node.value) - own
    written: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if index >= inherited and key in written:
            loader.duplicates.append((key_node.start_mark.line + 1, f"duplicate key {key!r} "
                                      f"(first at line {result.key_lines[key]})"))
            continue
        if index >= inherited:
            written.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _old_seq(loader: OldLoader, node: yaml.SequenceNode) -> OldSeq:
    result = OldSeq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


OldLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _old_map)
OldLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _old_seq)
_BOOL = "tag:yaml.org,2002:bool"
OldLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", _BOOL)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
OldLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def old_load(text: str) -> tuple[list[tuple[int, Any]], list[str]]:
    loader = OldLoader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            assert node is not None
            docs.append((node.start_mark.line + 1, loader.construct_document(node)))
    finally:
        loader.dispose()
    notes = [f"{line}: YAML: {message}" for line, message in loader.duplicates]
    return [(line, body) for line, body in docs if body is not None], notes


def new_load(text: str, parser: str) -> tuple[list[tuple[int, Any]], list[str]]:
    problems = Problems()
    docs: list[Document] = []
    parse_text(text, Path("f.yaml"), problems, docs, pure_python=parser == "python")
    return ([(d.line, d.body) for d in docs],
            [f"{p.location.line}: {p.message}" for p in problems.items])


def marks(value: Any) -> Any:
    """Values and every line mark, as plain data that compares exactly (types too)."""
    if isinstance(value, YMap | OldMap):
        return ("map", value.line, [(k, value.key_lines[k], marks(v)) for k, v in value.items()])
    if isinstance(value, YSeq | OldSeq):
        return ("seq", value.line, [(line, marks(v)) for line, v in
                                    zip(value.item_lines, value, strict=True)])
    if isinstance(value, float) and math.isnan(value):  # pragma: no cover - refused anyway
        return ("nan",)
    return (type(value).__name__, value)


# Plain spellings YAML 1.1 read as strings and YAML 1.2 reads as numbers
# (docs/repository.md): the only values allowed to differ.
YAML12_ONLY = re.compile(r"[-+]?(?:0o[0-7_]+|[0-9][0-9_]*[eE][-+]?[0-9]+|\.[0-9][0-9_]*[eE][-+]?"
                         r"[0-9]+|[0-9][0-9_]*\.[0-9_]*[eE][0-9]+|[-+]\.[0-9][0-9_]*)")


def same(old: Any, new: Any) -> bool:
    if old == new:
        return True
    if old[0] == "str" and new[0] in ("int", "float") and YAML12_ONLY.fullmatch(old[1]):
        return True
    if old[0] != new[0] or old[0] not in ("map", "seq") or old[1] != new[1]:
        return False
    if len(old[2]) != len(new[2]):
        return False
    for a, b in zip(old[2], new[2], strict=True):
        if old[0] == "map" and a[0] != b[0]:  # a key spelt as a YAML 1.2 number
            if not (YAML12_ONLY.fullmatch(a[0]) and a[1] == b[1]):
                return False
        elif a[:-1] != b[:-1]:
            return False
        if not same(a[-1], b[-1]):
            return False
    return True


def assert_equivalent(text: str) -> None:
    old_docs, old_notes = old_load(text)
    for parser in ("libyaml", "python"):
        new_docs, new_notes = new_load(text, parser)
        assert new_notes == old_notes, parser
        assert [line for line, _ in new_docs] == [line for line, _ in old_docs]
        for (_, old), (_, new) in zip(old_docs, new_docs, strict=True):
            assert same(marks(old), marks(new)), (parser, marks(old), marks(new))


def repository_texts() -> list[Path]:
    return sorted(ROOT.joinpath("packs").rglob("*.yaml"))


@pytest.mark.parametrize("path", repository_texts(), ids=lambda p: p.name)
def test_the_example_repository_loads_as_before(path: Path) -> None:
    assert_equivalent(path.read_text())


HANDWRITTEN = [
    # merge keys in every form, overriding, nested merges
    "apiVersion: policypacks/v1\nb: &b {a: 1, b: 2}\nc: &c {<<: *b, c: 3}\n"
    "d: {<<: [*c, *b], a: 9}\ne:\n  <<: *c\n  <<: {z: 1}\n  c: 4\n",
    # duplicates next to merges
    "apiVersion: policypacks/v1\nb: &b {a: 1}\nx: {<<: *b, a: 2, a: 3}\ny: {k: 1, k: 2, k: 3}\n",
    # anchors on scalars, sequences and documents; aliases as keys
    "apiVersion: policypacks/v1\ns: &s word\nl: &l [1, *s]\nm: {*s : 1, k: *l}\n",
    # several documents, comments, explicit ends, empty documents
    "%YAML 1.1\n---\napiVersion: policypacks/v1\n...\n---\n# nothing\n---\n"
    "apiVersion: policypacks/v1\nk: [a,\n  b]\n",
    # block scalars, folded, quoted multi-line, complex keys
    "apiVersion: policypacks/v1\na: |\n  x\n   y\nb: >-\n  p\n  q\n"
    "c: \"multi\n  line\"\n? [k, 1]\n: complex\n? {m: 1}\n: too\n",
    # flow collections across lines, empty values, nulls
    "apiVersion: policypacks/v1\na: {x: 1,\n  y: [\n   2,\n   3]}\nb:\nc: ~\nd: []\ne: {}\n",
    # indentless sequences and nested block sequences
    "apiVersion: policypacks/v1\nk:\n- a\n- - b\n  - c\n-\n  d: 1\n",
    # booleans and plain words of YAML 1.1 that are strings now
    "apiVersion: policypacks/v1\n[yes, no, on, off, y, n, True, false, NO, Null, ~]: 1\n"
    "v: [yes, no, on, off, y, n, True, false, NO, Null, ~]\n",
    # numbers both versions read alike
    "apiVersion: policypacks/v1\nv: [1, -2, +3, 0, 0x1F, 1_000, 1.5, -.5, 1., 6.02e+23, 0b11]\n",
]


@pytest.mark.parametrize("text", HANDWRITTEN)
def test_handwritten_yaml_loads_as_before(text: str) -> None:
    assert_equivalent(text)


scalars = (st.none() | st.booleans() | st.integers(-10**20, 10**20)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
           | st.sampled_from(["1e3", "0o17", "on", "NO", "1:40", "2024-01-01", "<<", "=",
                              "a: b", "- x", "#c", "'q'", '"dq"', "", " lead", "trail "]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=25)


@st.composite
def documents(draw: st.DrawFn) -> str:
    value = draw(values)
    shared = draw(st.lists(values, max_size=2))  # dumped once with an anchor, then aliased
    body = {"apiVersion": "policypacks/v1", "v": value,
            **{f"s{i}": item for i, item in enumerate(shared)},
            **{f"again{i}": item for i, item in enumerate(shared)}}
    return yaml.safe_dump_all(
        [body] * draw(st.integers(1, 2)), sort_keys=False,
        default_flow_style=draw(st.sampled_from([False, True, None])),
        default_style=draw(st.sampled_from([None, None, '"', "'"])),
        allow_unicode=draw(st.booleans()), width=draw(st.sampled_from([20, 80, 1000])),
        indent=draw(st.sampled_from([2, 4])), explicit_start=draw(st.booleans()))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_yaml_loads_as_before(text: str) -> None:
    assert_equivalent(text)
