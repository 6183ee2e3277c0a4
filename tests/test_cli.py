"""The command line as a script sees it: output, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import agent, identity, pack, write_repo

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "policypacks.cli"]

RULES = [{"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}]
OVER_CAP = {"agent": "bot", "action": {"type": "spend", "amount": 50},
            "usage": {"spend": {"day": 90}}}


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def good_repo(root: Path, examples: list[dict] | None = None) -> Path:
    caps = pack("caps", "require_approval", RULES, examples=examples or [])
    return write_repo(root, [identity(), caps, agent("bot")])


def test_validate_ok(tmp_path: Path) -> None:
    proc = cli("validate", str(good_repo(tmp_path)))
    assert proc.returncode == 0 and "ok: identity acme, 1 packs, 1 rules" in proc.stdout


def test_validate_reports_located_errors_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: policypacks/v1\nkind: PolicyPack\nmetadata: {id: Bad_Id}\n"
        "spec:\n  enforcment: block\n")
    proc = cli("validate", str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert any(line.endswith("bad.yaml:3: metadata.id: \"Bad_Id\" is not valid: ids are "
                             "lowercase letters, digits and '-', starting with a letter, at "
                             "most 63 characters") for line in lines), lines
    assert any("bad.yaml:5: spec.enforcment: unknown key 'enforcment' (did you mean "
               "'enforcement'?)" in line for line in lines), lines
    assert any("no Identity document" in line for line in lines)
    assert "Traceback" not in proc.stderr


def test_build_writes_nothing_on_error(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "x.yaml").write_text("kind: [\n")
    out = tmp_path / "bundle.tar.gz"
    proc = cli("build", str(tmp_path / "repo"), "-o", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert "x.yaml:2: YAML syntax error" in proc.stderr


def test_build_is_reproducible(tmp_path: Path) -> None:
    repo = good_repo(tmp_path / "repo")
    first = cli("build", str(repo), "-o", str(tmp_path / "a.tar.gz"), "--revision", "v1",
                "--json")
    second = cli("build", str(repo), "-o", str(tmp_path / "b.tar.gz"), "--revision", "v1",
                 "--json")
    assert first.returncode == second.returncode == 0
    assert json.loads(first.stdout)["sha256"] == json.loads(second.stdout)["sha256"]


def test_test_command_passes_and_fails_with_expected_and_actual(tmp_path: Path) -> None:
    passing = [{"name": "over the cap", "input": OVER_CAP, "expect": "require_approval",
                "violations": ["caps/daily"]}]
    proc = cli("test", str(good_repo(tmp_path / "ok", passing)))
    assert proc.returncode == 0, proc.stderr
    assert "1 passed, 0 failed" in proc.stdout
    failing = [{"name": "wrongly expected", "input": OVER_CAP, "expect": "allow"}]
    proc = cli("test", str(good_repo(tmp_path / "bad", failing)))
    assert proc.returncode == 1
    assert "pack caps, example 'wrongly expected'" in proc.stderr
    assert "expected: allow" in proc.stderr
    assert "actual:   require_approval with violations ['caps/daily']" in proc.stderr


def test_eval_reads_stdin_and_prints_the_decision(tmp_path: Path) -> None:
    proc = cli("eval", str(good_repo(tmp_path)), "--input", "-", stdin=json.dumps(OVER_CAP))
    assert proc.returncode == 0, proc.stderr
    decision = json.loads(proc.stdout)
    assert decision["decision"] == "require_approval"
    assert decision["approval"]["route"] == "identity"


def test_eval_fail_on_sets_the_exit_code(tmp_path: Path) -> None:
    repo = str(good_repo(tmp_path))
    assert cli("eval", repo, "-i", "-", "--fail-on", "block",
               stdin=json.dumps(OVER_CAP)).returncode == 0
    assert cli("eval", repo, "-i", "-", "--fail-on", "require_approval",
               stdin=json.dumps(OVER_CAP)).returncode == 1


def test_eval_bad_input_is_exit_2(tmp_path: Path) -> None:
    proc = cli("eval", str(good_repo(tmp_path)), "--input", "-", stdin="{\n  nope")
    assert proc.returncode == 2 and "<stdin>:2: input is not valid JSON" in proc.stderr


def test_effective_and_conflicts(tmp_path: Path) -> None:
    repo = str(good_repo(tmp_path))
    view = json.loads(cli("effective", repo, "--agent", "bot", "--json").stdout)
    assert view["packs"][0]["pack"] == "caps" and view["packs"][0]["level"] == "identity"
    text = cli("effective", repo, "--agent", "bot").stdout
    assert "caps/daily" in text and "precedence identity_overrides" in text
    unknown = cli("effective", repo, "--agent", "ghost")
    assert unknown.returncode == 2 and "no Agent 'ghost'" in unknown.stderr
    assert json.loads(cli("conflicts", repo, "--json").stdout) == {"bot": []}
    assert "no conflicts" in cli("conflicts", repo).stdout


@pytest.mark.parametrize("command", ["validate", "build", "test", "eval", "effective",
                                     "conflicts"])
def test_every_command_has_help(command: str) -> None:
    proc = cli(command, "--help")
    assert proc.returncode == 0 and "Usage:" in proc.stdout


def test_example_repository_passes_its_own_tests() -> None:
    """packs/ is tested by `policypacks test` itself."""
    proc = cli("test", "packs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
