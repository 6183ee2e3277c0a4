"""Step 1 of the pipeline: read every policy document of a repository, line-aware.

Which files: every ``*.yaml`` / ``*.yml`` below the root, dot-directories skipped.
A pull request may be hostile to CI, so reading is bounded (docs/repository.md, "Limits"):
symbolic links must stay inside the repository (a link that leaves it is reported by its
own name and never opened), only regular files are read, each at most
:data:`MAX_FILE_BYTES` and all together at most :data:`MAX_REPOSITORY_BYTES`, and the YAML
itself is built under the limits of :mod:`.yaml_values`.

Which documents: a file none of whose documents looks like a policy document (a
docker-compose.yaml, a CI workflow) is skipped with a note. Everything else is
reported as ``FILE:LINE`` problems; a file that failed to load marks the load incomplete,
so that validation does not add errors that only follow from the missing documents.
"""

from __future__ import annotations

import difflib
import heapq
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import Location, Problems, display_path
from .vocabulary import API_VERSION
from .yaml_values import MAX_REPOSITORY_VALUES, YMap, YSeq, line_of, parse_yaml

__all__ = ["Document", "Loaded", "YMap", "YSeq", "line_of", "load_repository",
           "parse_text", "repository_files"]

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_REPOSITORY_BYTES = 32 * 1024 * 1024
MAX_FILES = 100_000
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Document:
    """One YAML document of the repository."""

    path: Path  # as the user should see it
    line: int  # line where the document starts
    body: Any

    def loc(self, line: int | None = None, field: str = "") -> Location:
        return Location(str(self.path), line if line is not None else self.line, field)


@dataclass
class Loaded:
    documents: list[Document]
    complete: bool  # False: some file (or part of one) could not be read


def load_repository(root: Path, problems: Problems) -> Loaded:
    """All policy documents of the repository at ``root``."""
    files, complete = repository_files(root, problems)
    documents: list[Document] = []
    budget = MAX_REPOSITORY_BYTES
    values_left = MAX_REPOSITORY_VALUES
    for real, shown in files:
        data = _read(real, shown, budget, problems)
        if data is None or isinstance(data, _OverBudget):
            complete = False
            if isinstance(data, _OverBudget):
                break
            continue
        budget -= len(data)
        text = _decode(data, shown, problems)
        if text is None:
            complete = False
            continue
        values, usable = parse_text(text, shown, problems, documents, data,
                                    values_left=values_left)
        values_left -= values
        complete = complete and usable
    return Loaded(documents, complete)


def parse_text(text: str, shown: Path, problems: Problems, into: list[Document],
               data: bytes | None = None, pure_python: bool = False,
               values_left: int = MAX_REPOSITORY_VALUES) -> tuple[int, bool]:
    """Add the policy documents of one file's text to ``into`` and report its problems.
    Returns the number of values read (for the repository's budget) and whether the
    whole file could be used (not: a syntax error, a limit, a value refused)."""
    parsed = parse_yaml(text, text.encode("utf-8") if data is None else data, pure_python,
                        values_left)
    where = str(shown)
    if not any(_is_policy_document(d.body) for d in parsed.documents):
        # Not a policy file (or nothing in it before a syntax error says it is one): its
        # values are not ours to judge; only a failure to read it is reported.
        if parsed.failure is not None:
            problems.add(Location(where, parsed.failure[0]), parsed.failure[1])
            return parsed.values, False
        first = next((d for d in parsed.documents if d.body is not None), None)
        if first is not None:
            problems.note(Location(where, first.line), f"skipped: no document in this file has "
                 f"apiVersion: {API_VERSION}, so it is not a policy file")
        return parsed.values, True
    usable = True
    for doc in parsed.documents:
        for line, message in doc.errors + doc.notes:
            problems.add(Location(where, line), message)
        if doc.errors:
            usable = False
        elif doc.body is not None:
            into.append(Document(shown, doc.line, doc.body))
    if parsed.failure is not None:
        line, message = parsed.failure
        problems.add(Location(where, line), message)
        usable = False
    return parsed.values, usable


def _is_policy_document(body: Any) -> bool:
    """Does this document mean to be a policy document? An apiVersion that names
    policypacks (even misspelt: ``policypack/v1`` is an error, not skipped), or no
    apiVersion but a kind with metadata or spec."""
    if not isinstance(body, dict):
        return False
    api = body.get("apiVersion")
    if isinstance(api, str):
        folded = api.strip().lower()
        return ("policypack" in folded
                or difflib.SequenceMatcher(None, folded, API_VERSION).ratio() >= 0.8)
    return "kind" in body and ("metadata" in body or "spec" in body)


# --- files -------------------------------------------------------------------------------

def repository_files(root: Path, problems: Problems) -> tuple[list[tuple[str, Path]], bool]:
    """(real path, shown path) of every YAML file below ``root``, sorted by shown path,
    and whether the walk was complete.

    Directory and file links are followed only when they resolve inside the repository;
    every directory and every file is read once (a link to something the walk reaches
    anyway adds nothing, and a directory link cannot loop), under its own path when the
    walk reaches it without links."""
    base = os.path.realpath(root)
    shown_root = Path(display_path(root))
    found: dict[str, PurePosixPath] = {}  # real path -> path below root
    walked = {base}
    directories: list[tuple[str, PurePosixPath]] = [(base, PurePosixPath())]
    links: list[tuple[str, str]] = []  # heap of (path below root, path of the link)
    complete = True

    def shown(rel: PurePosixPath) -> Path:
        return shown_root / rel

    while directories or links:
        if len(found) > MAX_FILES:
            problems.add(Location(str(shown_root)), f"more than {MAX_FILES:,} YAML files: "
                         "not a policy repository a build should read")
            return [], False
        if directories:
            real, rel = directories.pop()
            try:
                with os.scandir(real) as entries:
                    listing = list(entries)
            except OSError as exc:
                problems.add(Location(str(shown(rel)), 1), f"cannot read directory: "
                             f"{exc.strerror or exc.__class__.__name__}")
                complete = False
                continue
            for entry in listing:
                name = entry.name
                if entry.is_symlink():
                    heapq.heappush(links, ((rel / name).as_posix(), entry.path))
                elif entry.is_dir(follow_symlinks=False):
                    if not name.startswith(".") and entry.path not in walked:
                        walked.add(entry.path)
                        directories.append((entry.path, rel / name))
                elif name.endswith(YAML_SUFFIXES):
                    found.setdefault(entry.path, rel / name)
            continue
        rel_text, link = heapq.heappop(links)
        rel = PurePosixPath(rel_text)
        is_yaml = rel.name.endswith(YAML_SUFFIXES)
        if rel.name.startswith(".") and not is_yaml:
            continue  # a dot-directory (or a file that is not YAML) either way
        target = os.path.realpath(link)
        inside = target == base or target.startswith(base.rstrip(os.sep) + os.sep)
        is_dir = os.path.isdir(link)
        if not (is_yaml or is_dir):
            continue  # not something the walk would read
        if not inside:
            problems.add(Location(str(shown(rel)), 1), "symbolic link to a place outside "
                         "the repository: not read (links must stay inside the repository)")
            complete = False
        elif is_dir:
            if target not in walked:
                walked.add(target)
                directories.append((target, rel))
        elif not os.path.exists(link):
            problems.add(Location(str(shown(rel)), 1), "broken symbolic link (its target "
                         "does not exist, or links loop)")
            complete = False
        else:
            found.setdefault(target, rel)
    ordered = sorted(found.items(), key=lambda item: item[1].as_posix())
    return [(real, shown(rel)) for real, rel in ordered], complete


_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0))


class _OverBudget:
    """The repository's files passed MAX_REPOSITORY_BYTES: stop reading."""


def _read(real: str, shown: Path, budget: int,
          problems: Problems) -> bytes | _OverBudget | None:
    """The file's bytes, or None with a problem reported. Never blocks on a FIFO and
    never reads more than the limits allow."""
    where = Location(str(shown), 1)
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        problems.add(where, f"cannot read file: {exc.strerror or exc.__class__.__name__}")
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            problems.add(where, "not a regular file (a FIFO, socket or device): not read")
            return None
        limit = min(MAX_FILE_BYTES, budget)
        if info.st_size > MAX_FILE_BYTES:
            problems.add(where, f"file too large: {info.st_size:,} bytes, over the limit of "
                         f"{MAX_FILE_BYTES // (1024 * 1024)} MiB per file")
            return None
        if info.st_size > budget:
            problems.add(where, f"the repository's YAML files pass the limit of "
                         f"{MAX_REPOSITORY_BYTES // (1024 * 1024)} MiB in total here; "
                         "later files are not read")
            return _OverBudget()
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while we read it
            problems.add(where, "file too large (it grew while being read): not read")
            return None
        return b"".join(chunks)
    except OSError as exc:
        problems.add(where, f"cannot read file: {exc.strerror or exc.__class__.__name__}")
        return None
    finally:
        os.close(fd)


def _decode(data: bytes, shown: Path, problems: Problems) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.add(Location(str(shown), line), f"not UTF-8 text: byte 0x{data[exc.start]:02x}"
                     " cannot be decoded (save the file as UTF-8; is it a binary file?)")
        return None
