"""``policypacks init``: a new repository that validates and tests green, whose files
point editors at schemas that are there offline; and the pre-commit hooks and CI
workflow the docs hand out run commands that exist."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from policypacks.scaffold import slug

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "policypacks.cli"]
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("new") / "Acme Support"
    proc = cli("init", str(target))
    assert proc.returncode == 0, proc.stderr
    return target


def test_it_validates_right_away(scaffolded: Path) -> None:
    proc = cli("validate", str(scaffolded), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"valid": True, "identity": "acme-support", "packs": 1,
                                       "agents": 1, "rules": 3, "waivers": 0,
                                       "warnings": [], "notes": []}


def test_its_examples_pass_through_opa(scaffolded: Path) -> None:
    proc = cli("test", str(scaffolded), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] and len(result["examples"]) == 4
    assert {e["expect"] for e in result["examples"]} == {"allow", "block"}
    cases = [c for c in result["cases"] if c["kind"] == "test"]
    assert len(cases) == 2 and all(c["passed"] for c in cases)


def test_every_yaml_file_names_a_schema_that_is_there_and_accepts_it(scaffolded: Path) -> None:
    files = sorted(scaffolded.rglob("*.yaml"))
    assert {f.relative_to(scaffolded).as_posix() for f in files} == {
        "identity.yaml", "packs/house-rules.yaml", "agents/assistant.yaml",
        "tests/assistant.yaml"}
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        match = MODELINE.match(first)
        assert match, f"{path}: first line {first!r}"
        schema_file = (path.parent / match[1]).resolve()
        assert schema_file.is_file() and ".policypacks/schema" in schema_file.as_posix()
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert schema["title"] == f"policypacks {document['kind']}"
        assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)) == []


def test_it_refuses_to_overwrite_and_changes_nothing(scaffolded: Path) -> None:
    pack = scaffolded / "packs" / "house-rules.yaml"
    before = pack.read_text(encoding="utf-8")
    proc = cli("init", str(scaffolded))
    assert proc.returncode == 2 and "not overwriting" in proc.stderr
    assert str(pack) in proc.stderr and pack.read_text(encoding="utf-8") == before


# --identity / --agent values      accepted
IDS = [("acme", True), ("Acme", False), ("9lives", False), ("a" * 64, False), ("my-org", True)]


@pytest.mark.parametrize("value, ok", IDS)
def test_ids_given_on_the_command_line_are_checked(tmp_path: Path, value: str,
                                                   ok: bool) -> None:
    proc = cli("init", str(tmp_path / "r"), "--identity", value, "--agent", "bot")
    assert (proc.returncode == 0) is ok, proc.stderr
    assert ok or not (tmp_path / "r").exists()


# directory name        identity id
SLUGS = [("Acme Support", "acme-support"), ("policies", "policies"), ("42", "example"),
         ("__My__Org__", "my-org"), ("2024-acme", "acme")]


@pytest.mark.parametrize("name, expected", SLUGS)
def test_the_identity_id_is_made_from_the_directory_name(name: str, expected: str) -> None:
    assert slug(name, "example") == expected


def test_pre_commit_hooks_run_policypacks_commands() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {hook["id"]: hook for hook in hooks}
    assert set(by_id) == {"policypacks-validate", "policypacks-test"}
    for hook_id, hook in by_id.items():
        assert hook["entry"] == f"policypacks {hook_id.split('-', 1)[1]}"
        assert hook["pass_filenames"] is False and hook["language"] == "python"


def workflow_commands() -> list[list[str]]:
    """Every `policypacks ...` command line of the CI workflow's run steps."""
    workflow = yaml.safe_load((ROOT / "docs" / "ci" / "github-actions.yml").read_text())
    commands = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            for line in script.splitlines():
                if line.strip().startswith("policypacks "):
                    commands.append(shlex.split(line.strip())[1:])
    return commands


def test_the_ci_workflow_runs_and_its_commands_work(scaffolded: Path, tmp_path: Path) -> None:
    """The workflow's own command lines, run in order against a new repository: the
    variables GitHub would set point at a local signing key and a bundle directory."""
    commands = workflow_commands()
    assert [c[0] for c in commands] == ["validate", "test", "build", "publish"]
    key = tmp_path / "signing.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(key),
                    "-pkeyopt", "rsa_keygen_bits:2048"], check=True, capture_output=True)
    values = {"POLICY_REPO": str(scaffolded), "SIGNING_KEY_FILE": str(key),
              "BUNDLE_DIR": str(tmp_path / "bundles"), "GITHUB_SHA": "0123abc"}
    for command in commands:
        args = [re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m[1], m[0]), a) for a in command]
        args = [a for a in args if "$" not in a]  # options fed by secrets in CI only
        proc = cli(*args, cwd=tmp_path)
        assert proc.returncode == 0, f"{args}: {proc.stderr}"
    bundles = list((tmp_path / "bundles").glob("*.tar.gz"))
    assert [b.name for b in bundles] == ["acme-support.tar.gz"]
