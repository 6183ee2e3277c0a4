"""Running the real ``opa`` binary: finding the pinned version and calling its commands.

Everything that asks OPA something goes through here, so the version pin, the binary
lookup and the translation of OPA's failures into :class:`OpaError` live in one place.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import OpaError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@cache
def pinned_versions() -> dict[str, str]:
    """OPA_VERSION and REGAL_VERSION from compiler/tool_versions.env (the one pin)."""
    text = resources.files("compiler").joinpath("tool_versions.env").read_text()
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line
             and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def find_tool(name: str) -> str:
    """Path of ``opa`` or ``regal``: $POLICYPACKS_OPA / $POLICYPACKS_REGAL, the project's
    .tools/bin (where scripts/install-tools.sh puts the pinned build), then PATH."""
    override = os.environ.get(f"POLICYPACKS_{name.upper()}")
    if override:
        return override
    local = PROJECT_ROOT / ".tools" / "bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise OpaError(f"`{name}` not found: run scripts/install-tools.sh (installs the pinned "
                   f"version into .tools/bin) or set POLICYPACKS_{name.upper()}")


def opa_binary() -> str:
    return find_tool("opa")


def run(args: list[str], *, stdin: str | None = None, timeout: float = 300,
        tool: str = "opa", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool and return the finished process; never raises on a non-zero exit."""
    command = [find_tool(tool), *args]
    try:
        return subprocess.run(command, input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        raise OpaError(f"`{' '.join(command[:2])}` did not finish in {timeout:g}s") from exc
    except OSError as exc:
        raise OpaError(f"cannot run {command[0]}: {exc}") from exc


def eval_json(query: str, *, bundle: Path | None = None, data: list[Path] = (),
              input_doc: Any = None, timeout: float = 300) -> Any:
    """Evaluate ``query`` and return the value of its single result (``None`` if undefined).

    The input travels through stdin, so any size and any string is safe.
    """
    args = ["eval", "--format", "json"]
    if bundle is not None:
        args += ["--bundle", str(bundle)]
    for path in data:
        args += ["--data", str(path)]
    stdin = None
    if input_doc is not None:
        args += ["--stdin-input"]
        stdin = json.dumps(input_doc)
    args.append(query)
    proc = run(args, stdin=stdin, timeout=timeout)
    if proc.returncode != 0:
        raise OpaError(f"opa eval failed:\n{(proc.stderr or proc.stdout).strip()}")
    try:
        answer = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise OpaError(f"opa eval printed something that is not JSON: {proc.stdout[:200]}") from exc
    results = answer.get("result") or []
    if not results:
        return None
    return results[0]["expressions"][0]["value"]
