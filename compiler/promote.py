"""``policypacks promote``: take a pack out of shadow mode by editing its YAML in place.

Shadow mode (docs/shadow.md) can sit in three places: the pack's ``spec.enforcement``, a
rule's own ``enforcement``, and an agent's attachment of the pack. Promoting a pack moves
every one of them that says ``shadow`` to the new level; ``rule`` or ``agent`` narrows
that to one rule or one agent's attachment.

The files are edited with ruamel.yaml's round-trip mode, so comments, key order, quotes
and flow mappings stay as the author wrote them; a file the library would re-lay out is
refused rather than rewritten. Nothing is written unless every edit could be made, and
each file is replaced atomically.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from .errors import UsageError
from .model import Repository
from .vocabulary import ENFORCEMENTS, SHADOW

#: Indentation styles tried, in order, to re-emit a file exactly as it was written.
STYLES = [(2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4)]


@dataclass(frozen=True)
class Change:
    file: str
    line: int
    where: str  # what changed, in words: "pack claims-review", "rule claims-review/x"
    old: str | None
    new: str

    def __str__(self) -> str:
        was = self.old if self.old is not None else "(the pack's shadow)"
        return f"{self.file}:{self.line}: {self.where}: enforcement {was} -> {self.new}"


@dataclass
class _File:
    path: Path
    text: str
    yaml: YAML
    documents: list[Any]


def promote(repo: Repository, pack_id: str, level: str, rule_id: str | None = None,
            agent_id: str | None = None, write: bool = True) -> list[Change]:
    """The changes that take ``pack_id`` (or one rule / one agent's attachment) from
    shadow to ``level``, made in the files unless ``write`` is false."""
    if level not in ENFORCEMENTS:
        raise UsageError(f"--to {level}: one of {', '.join(ENFORCEMENTS)}")
    pack = repo.packs.get(pack_id)
    if pack is None:
        raise UsageError(f"no pack {pack_id!r} in the repository")
    files: dict[str, _File] = {}
    changes: list[Change] = []

    def edit(file: str, kind: str, ident: str) -> CommentedMap:
        if file not in files:
            files[file] = _open(Path(file))
        return _document(files[file], kind, ident)

    if agent_id is None:
        spec = edit(pack.loc.file, "PolicyPack", pack_id)["spec"]
        for raw in spec.get("rules") or []:
            rule = next((r for r in pack.rules if r.id == raw.get("id")), None)
            if rule is None or (rule_id is not None and rule.id != rule_id):
                continue
            if rule.enforcement == SHADOW or (rule_id and rule.enforcement is None
                                              and pack.enforcement == SHADOW):
                changes.append(_set(raw, "enforcement", level, pack.loc.file,
                                    f"rule {pack_id}/{rule.id}"))
        if rule_id is None and pack.enforcement == SHADOW:
            changes.append(_set(spec, "enforcement", level, pack.loc.file, f"pack {pack_id}"))
        if rule_id is not None and rule_id not in {r.id for r in pack.rules}:
            raise UsageError(f"pack {pack_id!r} has no rule {rule_id!r}")
    if rule_id is None:
        for agent in sorted(repo.agents.values(), key=lambda a: a.id):
            if agent_id is not None and agent.id != agent_id:
                continue
            attachment = next((a for a in agent.packs if a.pack == pack_id), None)
            if attachment is None or attachment.enforcement != SHADOW:
                continue
            items = edit(agent.loc.file, "Agent", agent.id)["spec"]["packs"]
            raw = next(i for i in items if isinstance(i, CommentedMap) and i.get("pack") == pack_id)
            changes.append(_set(raw, "enforcement", level, agent.loc.file,
                                f"agent {agent.id}'s attachment of {pack_id}"))
        if agent_id is not None and agent_id not in repo.agents:
            raise UsageError(f"no agent {agent_id!r} in the repository")
    if not changes:
        what = (f"rule {pack_id}/{rule_id}" if rule_id else
                f"agent {agent_id}'s attachment of {pack_id}" if agent_id else f"pack {pack_id!r}")
        raise UsageError(f"{what} has nothing in shadow mode to promote")
    if write:
        texts = {name: _dump(f) for name, f in files.items()}
        for name, text in texts.items():
            _replace(files[name].path, text)
    return sorted(changes, key=lambda c: (c.file, c.line))


def _open(path: Path) -> _File:
    text = path.read_text(encoding="utf-8")
    for mapping, sequence, offset in STYLES:
        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        documents = list(yaml.load_all(text))
        out = io.StringIO()
        yaml.dump_all(documents, out)
        if out.getvalue() == text:
            return _File(path, text, yaml, documents)
    raise UsageError(f"{path}: cannot edit this file without changing its layout; make the "
                     "change by hand")


def _document(file: _File, kind: str, ident: str) -> CommentedMap:
    for doc in file.documents:
        if isinstance(doc, CommentedMap) and doc.get("kind") == kind \
                and (doc.get("metadata") or {}).get("id") == ident:
            return doc
    raise UsageError(f"{file.path}: no {kind} {ident!r} found to edit")


def _set(mapping: CommentedMap, key: str, value: str, file: str, where: str) -> Change:
    old = mapping.get(key)
    if key in mapping:
        line = mapping.lc.value(key)[0] + 1
        mapping[key] = value
    else:  # a rule that took the pack's shadow: give it its own level, after its id
        position = list(mapping).index("id") + 1 if "id" in mapping else len(mapping)
        mapping.insert(position, key, value)
        line = mapping.lc.line + 1 + position
    return Change(file, line, where, old, value)


def _dump(file: _File) -> str:
    out = io.StringIO()
    file.yaml.dump_all(file.documents, out)
    return out.getvalue()


def _replace(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` atomically: a reader sees the old file or the new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["Change", "promote"]
