"""The pipeline in one call: load -> validate -> compile (-> bundle), for the CLI,
the test runner and library users."""

from __future__ import annotations

from pathlib import Path

from .bundle import content_revision, git_revision
from .compile import CompiledPolicy, compile_repository
from .model import Repository
from .validate import validate_repository


def compile_path(repo_root: Path, revision: str | None = None,
                 strict: bool = False) -> tuple[Repository, CompiledPolicy]:
    """Validate the repository at ``repo_root`` and compile it.

    The revision is, in order: the one given, the git commit (``-dirty`` when the tree
    has changes), or a digest of the compiled content. ``strict``: warnings fail the
    validation (``--strict``).
    """
    repo = validate_repository(repo_root, strict=strict)
    chosen = revision or git_revision(repo_root)
    compiled = compile_repository(repo, chosen or "pending")
    if not chosen:
        compiled = compile_repository(repo, content_revision(compiled))
    return repo, compiled
