"""``--json`` on failure, and colour only where a person reads it."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from support import agent, identity, pack, write_repo

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "policypacks.cli"]
RULES = [{"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}]
INVALID_PACK = ("apiVersion: policypacks/v1\nkind: PolicyPack\nmetadata: {id: Bad_Id}\n"
                "spec:\n  enforcment: block\n")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("repos")
    bad = base / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text(INVALID_PACK)
    good = write_repo(base / "good", [identity(), pack("caps", "block", RULES), agent("bot")])
    bundle = base / "good.tar.gz"
    assert cli("build", str(good), "-o", str(bundle)).returncode == 0
    action = base / "input.json"
    action.write_text(json.dumps({"agent": "bot", "action": {"type": "spend", "amount": 5}}))
    return {"bad": bad, "good": good, "out": base / "out.tar.gz", "bundle": bundle,
            "store": "sqlite:////nonexistent/s.db", "input": action}


def test_validate_json_lists_every_problem_with_its_place(repos: dict[str, Path]) -> None:
    proc = cli("validate", str(repos["bad"]), "--json")
    assert proc.returncode == 2
    result = json.loads(proc.stdout)
    assert result["valid"] is False and result["ok"] is False and result["exit_code"] == 2
    by_field = {e["field"]: e for e in result["errors"]}
    assert by_field["metadata.id"]["line"] == 3
    assert by_field["metadata.id"]["file"].endswith("x.yaml")
    assert by_field["spec.enforcment"]["message"] == ("unknown key 'enforcment' (did you mean "
                                                      "'enforcement'?)")
    assert by_field[None]["message"].startswith("no Identity document")
    # the same problems still reach a person on stderr
    assert "x.yaml:5: spec.enforcment: unknown key" in proc.stderr


# command line (every command that takes --json)                 exit  error contains
FAILURES = [
    (["validate", "{bad}", "--json"],                              2, "problem(s)"),
    (["validate", "{bad}", "--strict", "--json"],                  2, "problem(s)"),
    (["build", "{bad}", "-o", "{out}", "--json"],                  2, "problem(s)"),
    (["test", "{bad}", "--json"],                                  2, "problem(s)"),
    (["eval", "{bad}", "--input", "{input}", "--json"],            2, "problem(s)"),
    (["eval", "{good}", "--input", "{out}.missing", "--json"],     2, "cannot read input"),
    (["effective", "{good}", "--agent", "ghost", "--json"],        2, "no Agent 'ghost'"),
    (["effective", "{bad}", "--agent", "bot", "--json"],           2, "problem(s)"),
    (["conflicts", "{bad}", "--json"],                             2, "problem(s)"),
    (["violations", "list", "--store", "{store}", "--json"],       2, "no store at"),
    (["violations", "stats", "--store", "{store}", "--json"],      2, "no store at"),
    (["approvals", "list", "--store", "{store}", "--json"],        2, "no store at"),
    (["approvals", "approve", "1", "--by", "x", "--store", "{store}", "--json"], 2, "no store at"),
    (["approvals", "deny", "1", "--by", "x", "--store", "{store}", "--json"], 2, "no store at"),
    (["report", "--store", "{store}", "--json"],                   2, "no store at"),
    (["publish", "{out}", "--json"],                               2, "give --opa URL"),
    (["publish", "{bundle}", "--opa", "http://127.0.0.1:9", "--timeout", "2", "--json"], 1,
     "cannot reach OPA"),
    (["doctor", "--opa", "http://127.0.0.1:9", "--json"],          1, "cannot reach OPA"),
    (["replay", "--json"],                                         2, "Missing option"),
    (["violations", "list", "--bogus", "--json"],                  2, "No such option"),
    (["init", "{bad}/new", "--identity", "Bad", "--json"],         2, "--identity 'Bad'"),
    (["schema", "--kind", "Bogus", "--json"],                      2, "--kind Bogus"),
    (["promote", "caps", "{bad}", "--to", "block", "--json"],      2, "problem(s)"),
]


@pytest.mark.parametrize("args, exit_code, error", FAILURES, ids=lambda v: str(v)[:40])
def test_every_json_command_prints_its_failure_as_json(repos: dict[str, Path], args: list[str],
                                                       exit_code: int, error: str) -> None:
    if "{out}" in args and args[0] == "publish":
        repos["out"].write_bytes(b"")  # exists, so click accepts the path
    proc = cli(*(a.format(**{k: str(v) for k, v in repos.items()}) for a in args))
    assert proc.returncode == exit_code, proc.stderr
    result = json.loads(proc.stdout)
    assert "Traceback" not in proc.stderr
    if args[0] == "doctor":  # its report is the result: every check, failed ones with a fix
        assert result["ok"] is False
        assert any(error in check["detail"] for check in result["checks"])
        return
    assert result["ok"] is False and result["exit_code"] == exit_code
    assert error in result["error"] or any(error in e["message"]
                                           for e in result.get("errors", []))
    if "Missing option" not in error and "No such option" not in error:  # click's own
        assert result["warnings"] == [] and result["notes"] == []


def test_a_failed_build_json_writes_no_bundle(repos: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    proc = cli("build", str(repos["bad"]), "-o", str(out), "--json")
    assert proc.returncode == 2 and json.loads(proc.stdout)["valid"] is False
    assert not out.exists()


def test_without_json_stdout_stays_empty_on_failure(repos: dict[str, Path]) -> None:
    proc = cli("validate", str(repos["bad"]))
    assert proc.returncode == 2 and proc.stdout == ""


def in_terminal(*args: str, env: dict[str, str] | None = None) -> str:
    """What a person sees: the command's output read from a pseudo-terminal."""
    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen([*CLI, *args], stdout=follower, stderr=follower, cwd=ROOT,
                            env={**environment, **(env or {})})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode()


ESC = "\x1b["


# where the output goes               colour expected
COLOUR = [
    ("terminal",                       True),
    ("terminal with NO_COLOR=1",       False),
    ("pipe",                           False),
]


@pytest.mark.parametrize("where, coloured", COLOUR)
def test_colour_only_on_a_terminal_and_never_with_no_color(repos: dict[str, Path], where: str,
                                                           coloured: bool) -> None:
    if where == "pipe":
        proc = cli("validate", str(repos["bad"]), env={"NO_COLOR": ""})
        seen = proc.stdout + proc.stderr
    else:
        seen = in_terminal("validate", str(repos["bad"]),
                           env={"NO_COLOR": "1"} if "NO_COLOR" in where else None)
    assert "spec.enforcment: unknown key" in seen
    assert (ESC in seen) is coloured


class Screen:
    """A stream that says it is (or is not) a terminal and keeps what was written."""

    def __init__(self, terminal: bool) -> None:
        self.terminal, self.text = terminal, ""

    def isatty(self) -> bool:
        return self.terminal

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("terminal", [True, False])
def test_waiting_shows_the_time_only_on_a_terminal(terminal: bool) -> None:
    import time

    from policypacks.cli.console import Waiting

    screen = Screen(terminal)
    with Waiting("waiting for OPA", stream=screen, interval=0.05):  # type: ignore[arg-type]
        time.sleep(0.3)
    if terminal:
        assert "waiting for OPA... 0." in screen.text and screen.text.endswith("\r\x1b[K")
    else:
        assert screen.text == ""


# terminal  forced  shown
PROGRESS = [(True, False, True), (False, False, False), (False, True, True)]


@pytest.mark.parametrize("terminal, forced, shown", PROGRESS)
def test_progress_on_a_terminal_or_when_asked(terminal: bool, forced: bool,
                                              shown: bool) -> None:
    from policypacks.cli.console import Progress

    screen = Screen(terminal)
    meter = Progress("replaying", 200, force=forced, stream=screen)  # type: ignore[arg-type]
    meter.update(200)
    meter.close()
    assert ("replaying: 200/200 (100%)" in screen.text) is shown
    assert ("\r" in screen.text) is (terminal and shown)
