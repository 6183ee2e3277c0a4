"""Generated Rego is `opa check --strict` clean, `opa fmt` clean and Regal clean, for
ordinary and awkward identity ids; golden files pin what the templates render."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support import agent, identity, pack, write_repo

from policypacks.bundle import write_tree
from policypacks.opa.binary import find_tool
from policypacks.opa.testing import TEST_FILE, all_cases, write_tests
from policypacks.pipeline import compile_path
from policypacks.render import regal_config

GOLDEN = Path(__file__).parent / "golden"


def docs(identity_id: str) -> list[dict]:
    rules = [{"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}]
    over = {"agent": "bot", "action": {"type": "spend", "amount": 150}}
    example = {"name": "over", "input": over, "expect": "block", "violations": ["caps/daily"]}
    scenario = {"apiVersion": "policypacks/v1", "kind": "Test", "metadata": {"id": "bot"},
                "spec": {"cases": [{**example, "approval": None}]}}
    return [identity(identity_id), pack("caps", "block", rules, examples=[example]),
            agent("bot", ["caps"]), scenario]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("identity_id", ["acme", "acme-corp", "in", "default", "with-x1"])
def test_generated_rego_is_clean(identity_id: str, tmp_path: Path) -> None:
    """The bundle's modules and the generated test module (policypacks test) with its
    cases, side by side as `policypacks test` lays them out."""
    repo, compiled = compile_path(write_repo(tmp_path / "repo", docs(identity_id)), "r")
    write_tree(compiled, tmp_path / "bundle")
    write_tests(compiled, all_cases(repo), tmp_path / "tests")
    test = run(find_tool("opa"), "test", "bundle", "tests", cwd=tmp_path)
    assert test.returncode == 0 and "PASS: 5/5" in test.stdout, test.stdout + test.stderr
    for what in (["--bundle", "bundle"], ["bundle", "tests"]):
        check = run(find_tool("opa"), "check", "--strict", *what, cwd=tmp_path)
        assert check.returncode == 0, check.stderr
    fmt = run(find_tool("opa"), "fmt", "--list", "bundle", "tests", cwd=tmp_path)
    assert fmt.returncode == 0 and fmt.stdout.strip() == "", f"not opa fmt clean: {fmt.stdout}"
    config = tmp_path / "regal.yaml"
    config.write_text(regal_config(compiled.identity))
    lint = run(find_tool("regal"), "lint", "--config-file", str(config), "--format",
               "compact", "bundle", "tests", cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_golden_files(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The rendered modules for identity `acme`; refresh with `pytest --update-golden`."""
    repo, compiled = compile_path(write_repo(tmp_path / "repo", docs("acme")), "golden")
    write_tests(compiled, all_cases(repo), tmp_path / "tests")
    modules = {**compiled.modules, f"tests/policypacks/acme/{TEST_FILE}":
               (tmp_path / "tests" / "policypacks" / "acme" / TEST_FILE).read_text()}
    update = request.config.getoption("--update-golden")
    expected_files = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*.rego")}
    if update:
        for old in GOLDEN.rglob("*.rego"):
            old.unlink()
    mismatched = []
    for path, source in modules.items():
        target = GOLDEN / path
        if update:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source)
        elif not target.exists() or target.read_text() != source:
            mismatched.append(path)
    if not update:
        assert expected_files == set(modules), "modules added or removed"
        assert not mismatched, f"golden files differ (review, then --update-golden): {mismatched}"
