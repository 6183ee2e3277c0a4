"""The package as a user installs it: a wheel in a fresh virtualenv, and the import cost
an agent process pays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from policypacks.opa.binary import find_tool

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout (and its dependencies)."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(work / "dist"),
                    str(ROOT)], check=True, capture_output=True)
    [wheel] = (work / "dist").glob("policypacks-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", str(wheel)], check=True, capture_output=True)
    return env_dir


def run_in(env_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Only the venv's bin and the pinned opa: nothing from this checkout is importable.
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(cwd),
           "POLICYPACKS_OPA": find_tool("opa")}
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)


def test_the_wheel_builds_the_example_packs(installed: Path, tmp_path: Path) -> None:
    result = run_in(installed, "policypacks", "build", str(ROOT / "packs"), "-o",
                    str(tmp_path / "bundle.tar.gz"), "--revision", "wheel", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "bundle.tar.gz").stat().st_size > 0


def test_the_wheel_imports_as_policypacks_only(installed: Path, tmp_path: Path) -> None:
    code = ("import importlib.util, json, policypacks\n"
            "from policypacks import PolicyClient\n"
            "print(json.dumps({'client': PolicyClient.__name__,"
            " 'compiler': importlib.util.find_spec('compiler') is not None,"
            " 'typed': (__import__('pathlib').Path(policypacks.__file__).parent"
            " / 'py.typed').exists()}))")
    result = run_in(installed, str(installed / "bin" / "python"), "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"client": "PolicyClient", "compiler": False,
                                         "typed": True}


def test_without_opa_the_message_says_how_to_get_it(installed: Path, tmp_path: Path) -> None:
    env = {"PATH": f"{installed / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(["policypacks", "validate", str(ROOT / "packs")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for hint in ("go install github.com/open-policy-agent/opa@v", "POLICYPACKS_OPA",
                 "releases"):
        assert hint in result.stderr


def test_an_agent_process_loads_no_compiler_or_cli_code() -> None:
    code = ("import sys, json\nimport policypacks.runtime\n"
            "print(json.dumps(sorted(m for m in ('jinja2', 'yaml', 'click')"
            " if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONPATH": ""})
    assert json.loads(result.stdout) == []


def test_the_top_level_client_import_is_as_light() -> None:
    code = ("import sys, json\nfrom policypacks import PolicyClient\n"
            "print(json.dumps(sorted(m for m in ('jinja2', 'yaml', 'click')"
            " if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert json.loads(result.stdout) == []
