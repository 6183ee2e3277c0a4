"""Running the real ``opa`` binary: finding the pinned version and calling its commands.

Everything that asks OPA something goes through here, so the version pin, the binary
lookup and the translation of OPA's failures into :class:`OpaError` live in one place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import OpaError

#: The source checkout this package runs from, if it does (an installed wheel has none).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
VERSION_LINE = re.compile(r"^Version:\s*v?(\S+)\s*$", re.M)
#: How every OPA this project starts or benchmarks holds its data. A sidecar answers
#: decisions all day and takes a new bundle rarely; the read-optimized store keeps data
#: as Rego values, so a decision stops converting the tables and rules it reads
#: (docs/benchmarks.md, run L). It costs memory and write speed, both measured there.
STORE_ARGS = ("--optimize-store-for-read-speed",)


@cache
def pinned_versions() -> dict[str, str]:
    """OPA_VERSION and REGAL_VERSION as pinned in compiler/tool_versions.env (the one pin)."""
    text = resources.files("policypacks").joinpath("tool_versions.env").read_text()
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line
             and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def in_source_checkout() -> bool:
    return (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "compiler").is_dir()


@cache
def reported_version(path: str) -> str | None:
    """The version a binary prints (``opa version``); None when it prints none."""
    try:
        out = subprocess.run([path, "version"], capture_output=True, text=True, timeout=20,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = VERSION_LINE.search(out)
    return match[1] if match and match[1] != "unknown" else None


def install_hint(name: str, version: str) -> str:
    module = {"opa": "github.com/open-policy-agent/opa", "regal": "github.com/styrainc/regal"}
    releases = {"opa": "https://github.com/open-policy-agent/opa/releases/tag/v",
                "regal": "https://github.com/StyraInc/regal/releases/tag/v"}
    steps = [f"download the {name} v{version} release ({releases[name]}{version})",
             f"or `go install {module[name]}@v{version}`",
             f"or your package manager's {name} {version} (e.g. `brew install {name}`)"]
    if in_source_checkout():
        steps.insert(0, "in this checkout: scripts/install-tools.sh (builds it into "
                        ".tools/bin)")
    return (f"; {'; '.join(steps)}; then put it on PATH or set "
            f"POLICYPACKS_{name.upper()}=/path/to/{name}")


@cache
def find_tool(name: str) -> str:
    """Path of ``opa`` or ``regal``, in order: ``$POLICYPACKS_OPA`` / ``$POLICYPACKS_REGAL``
    (taken as given), the binary on PATH when its version is the pin, then the
    project's ``.tools/bin`` when running from a source checkout."""
    override = os.environ.get(f"POLICYPACKS_{name.upper()}")
    if override:
        return override
    wanted = pinned_versions()[f"{name.upper()}_VERSION"]
    on_path = shutil.which(name)
    seen = None
    if on_path:
        seen = reported_version(on_path)
        # Regal builds from the module proxy print no version; take them as they are.
        if seen == wanted or (seen is None and name == "regal"):
            return on_path
    local = PROJECT_ROOT / ".tools" / "bin" / name
    if in_source_checkout() and local.exists():
        return str(local)
    found = (f"`{name}` on PATH ({on_path}) is version {seen or 'unknown'}, not the pinned "
             f"{wanted}" if on_path else f"`{name}` {wanted} not found")
    raise OpaError(found + install_hint(name, wanted))


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


def eval_json(query: str, *, bundle: Path | None = None, data: tuple[Path, ...] | list[Path] = (),
              input_doc: Any = None, timeout: float = 300, raw: bool = False) -> Any:
    """Evaluate ``query`` and return the value of its single result (``None`` if undefined).

    The input travels through stdin, so any size and any string is safe. ``raw``: OPA
    prints the value alone, as compact JSON (a fifth of the wrapped result's size, for big
    values), and an undefined result is a failure.
    """
    args = ["eval", "--format", "raw", "--fail"] if raw else ["eval", "--format", "json"]
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
    if raw:
        return answer
    results = answer.get("result") or []
    if not results:
        return None
    return results[0]["expressions"][0]["value"]
