"""Step 1 of the pipeline: read every YAML document of a policy repository, line-aware.

Mappings become :class:`YMap` and sequences :class:`YSeq`; both remember the line of
every key and item so that later steps can report ``FILE:LINE``. Scalars stay plain
Python values. Duplicate keys and YAML syntax errors are reported, not raised one by one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import Location, Problems, display_path


class YMap(dict):
    """A YAML mapping with the line of the mapping and of each key."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class YSeq(list):
    """A YAML sequence with the line of the sequence and of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def line_of(container: Any, key: Any, default: int) -> int:
    """Line of ``key`` inside ``container`` when it is a YAML node, else ``default``."""
    if isinstance(container, YMap):
        return container.line_of(key)
    if isinstance(container, YSeq) and isinstance(key, int):
        return container.line_of(key)
    return default


@dataclass(frozen=True)
class Document:
    """One YAML document of the repository."""

    path: Path  # as the user should see it
    line: int  # line where the document starts
    body: Any

    def loc(self, line: int | None = None, field: str = "") -> Location:
        return Location(str(self.path), line if line is not None else self.line, field)


class _Loader(yaml.SafeLoader):
    """SafeLoader that builds YMap/YSeq, reports duplicate keys and refuses values JSON
    cannot carry (the bundle's data is JSON)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []  # (line, message): reported, not fatal


_MERGE = "tag:yaml.org,2002:merge"


class _NotJson(yaml.MarkedYAMLError):
    """A YAML value with no JSON equivalent (.inf, .nan, !!binary, !!timestamp, !!set)."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> YMap:
    result = YMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    # Merge keys (`<<: *defaults`): the merged pairs come first, and the mapping's own
    # keys override them; only a key written twice in the mapping itself is a duplicate.
    own = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE)
    loader.flatten_mapping(node)
    inherited = len(node.value) - own
    written: set[str] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if index >= inherited and key in written:
            # Keep the first value and go on, so the rest of the file is still checked.
            loader.duplicates.append((key_node.start_mark.line + 1, f"duplicate key {key!r} "
                                      f"(first at line {result.key_lines[key]})"))
            continue
        if index >= inherited:
            written.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    value = loader.construct_yaml_float(node)
    if not math.isfinite(value):
        raise _NotJson(problem=f"{node.value!r} is not a finite number (JSON has no "
                       "infinity or NaN)", problem_mark=node.start_mark)
    return value


def _refuse(loader: _Loader, node: yaml.Node) -> Any:
    name = node.tag.rsplit(":", 1)[-1]
    raise _NotJson(problem=f"!!{name} values are not supported: policy documents hold JSON "
                   "data (strings, numbers, booleans, null, lists and mappings)",
                   problem_mark=node.start_mark)


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> YSeq:
    result = YSeq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
for _tag in ("binary", "timestamp", "set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)
# YAML 1.2 scalars: timestamps stay strings, and only true/false are booleans, so that
# `allowed_regions: [NO, SE]` means Norway, not False.
_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", _BOOL)
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def repository_files(root: Path) -> list[Path]:
    """Every *.yaml / *.yml below root, dot-directories skipped, in a stable order."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts[:-1]):
            continue
        if path.suffix in (".yaml", ".yml") and path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def parse_documents(text: str, shown: Path, problems: Problems) -> Iterator[Document]:
    """Parse one file's text. Duplicate keys are reported and the first value kept; a
    syntax error (or a value JSON cannot carry) is reported, and the file yields only the
    documents before it."""
    docs: list[Document] = []
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # refuses non-printable characters right away
        while loader.check_node():
            node = loader.get_node()
            assert node is not None  # check_node() said there is one
            body = loader.construct_document(node)
            docs.append(Document(shown, node.start_mark.line + 1, body))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = ": ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        kind = "unsupported YAML value" if isinstance(exc, _NotJson) else "YAML syntax error"
        problems.add(Location(str(shown), line), f"{kind}: {message}")
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        problems.add(Location(str(shown), line), f"YAML error: character #x{exc.character:04x}"
                     f" is not allowed: {exc.reason}")
    except yaml.YAMLError as exc:
        problems.add(Location(str(shown)), f"YAML error: {exc}")
    finally:
        if loader is not None:
            loader.dispose()
    for line, message in loader.duplicates if loader is not None else []:
        problems.add(Location(str(shown), line), f"YAML: {message}")
    return iter(d for d in docs if d.body is not None)


def load_repository(root: Path, problems: Problems) -> list[Document]:
    """All documents of the repository at ``root``."""
    documents: list[Document] = []
    for path in repository_files(root):
        shown = Path(display_path(path))
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.add(Location(str(shown)), f"cannot read file: {exc}")
            continue
        documents.extend(parse_documents(text, shown, problems))
    return documents
