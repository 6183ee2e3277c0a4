"""Step 1 of the pipeline: read every YAML document of a policy repository, line-aware.

Mappings become :class:`YMap` and sequences :class:`YSeq`; both remember the line of
every key and item so that later steps can report ``FILE:LINE``. Scalars stay plain
Python values. Duplicate keys and YAML syntax errors are reported, not raised one by one.
"""

from __future__ import annotations

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
    """SafeLoader that builds YMap/YSeq and refuses duplicate keys."""


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> YMap:
    result = YMap()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in result:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> YSeq:
    result = YSeq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)
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
    """Parse one file's text; a syntax error is a problem, and the file yields nothing."""
    try:
        loader = _Loader(text)
        try:
            docs = []
            while loader.check_node():
                node = loader.get_node()
                body = loader.construct_document(node)
                docs.append(Document(shown, node.start_mark.line + 1, body))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        problems.add(Location(str(shown), line), f"YAML syntax error: {message}")
        return iter(())
    except yaml.YAMLError as exc:
        problems.add(Location(str(shown)), f"YAML error: {exc}")
        return iter(())
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
