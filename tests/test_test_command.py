"""``policypacks test`` as a script sees it: --pack, --test, --watch, failure output that
names FILE:LINE with expected and actual, --json on failure, exit codes 0 / 1 / 2."""

# Tables, one case per line: they stay long.
# ruff: noqa: E501
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import agent, identity, pack, write_repo

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "policypacks.cli"]
API = "policypacks/v1"
DAILY = {"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}
NO_REFUNDS = {"id": "no-refunds", "type": "condition",
              "when": {"field": "action.type", "equals": "refund"}}
SPEND = {"agent": "bot", "action": {"type": "spend", "amount": 150}}
REFUND = {"agent": "clerk", "action": {"type": "refund", "amount": 5}}


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def suite(test_id: str, cases: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Test", "metadata": {"id": test_id},
            "spec": {"cases": cases}}


def documents(caps_expect: str = "require_approval") -> list[dict[str, Any]]:
    return [
        identity(),
        pack("caps", "require_approval", [DAILY], examples=[
            {"name": "over the cap", "input": SPEND, "expect": caps_expect,
             "violations": ["caps/daily"]}]),
        pack("refunds", "block", [NO_REFUNDS], scope="none", examples=[
            {"name": "no refunds", "input": REFUND, "expect": "block",
             "violations": ["refunds/no-refunds"]}]),
        agent("bot"), agent("clerk", ["refunds"]),
        suite("bot", [{"name": "bot over the cap", "input": SPEND,
                          "expect": "require_approval", "approval": {"route": "identity"}}]),
        suite("clerk", [{"name": "clerk refunds", "input": REFUND, "expect": "block",
                            "violations": ["refunds/no-refunds"], "approval": None}]),
    ]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_repo(tmp_path_factory.mktemp("repo"), documents())


# arguments                         exit  the cases that run (kind: owner: name)
SELECTIONS = [
    ([],                             0, {"example: caps: over the cap", "example: refunds: no refunds",
                                         "test: bot: bot over the cap", "test: clerk: clerk refunds"}),
    (["--pack", "refunds"],          0, {"example: refunds: no refunds", "test: clerk: clerk refunds"}),
    (["--pack", "caps"],             0, {"example: caps: over the cap", "test: bot: bot over the cap",
                                         "test: clerk: clerk refunds"}),
    (["--test", "bot"],              0, {"test: bot: bot over the cap"}),
    (["--test", "bot", "--pack", "refunds"],
                                     0, {"example: refunds: no refunds", "test: clerk: clerk refunds",
                                         "test: bot: bot over the cap"}),
]


@pytest.mark.parametrize("args, exit_code, ran", SELECTIONS, ids=lambda v: str(v)[:40])
def test_pack_and_test_select_the_cases(repo: Path, args: list[str], exit_code: int,
                                        ran: set[str]) -> None:
    proc = cli("test", str(repo), *args, "--json")
    assert proc.returncode == exit_code, proc.stderr
    result = json.loads(proc.stdout)
    owner = {"example": "pack", "tool": "tool", "test": "test"}
    assert {f"{c['kind']}: {c[owner[c['kind']]]}: {c['name']}" for c in result["cases"]} == ran


# arguments                    the message on stderr
UNKNOWN = [
    (["--pack", "nope"],       "--pack 'nope': no PolicyPack with that id (known: caps, refunds)"),
    (["--test", "nope"],       "--test 'nope': no Test with that id (known: bot, clerk)"),
    (["--pack", "caps", "--pack", "cap"], "--pack 'cap': no PolicyPack with that id"),
]


@pytest.mark.parametrize("args, message", UNKNOWN, ids=lambda v: str(v)[:40])
def test_an_unknown_id_is_exit_2(repo: Path, args: list[str], message: str) -> None:
    proc = cli("test", str(repo), *args)
    assert proc.returncode == 2 and message in proc.stderr and proc.stdout == ""
    answer = json.loads(cli("test", str(repo), *args, "--json").stdout)
    assert answer["ok"] is False and answer["exit_code"] == 2 and message in answer["error"]


def test_a_failure_names_its_place_with_expected_and_actual(tmp_path: Path) -> None:
    docs = documents(caps_expect="allow")
    docs[-2]["spec"]["cases"][0]["approval"] = {"route": "caps/daily"}  # not a route
    root = write_repo(tmp_path / "bad-ref", docs)
    proc = cli("test", str(root))
    assert proc.returncode == 2 and "expects approval route 'caps/daily'" in proc.stderr
    docs[-2]["spec"]["cases"][0]["approval"] = {"route": "identity", "approvers": ["x"]}
    root = write_repo(tmp_path / "failing", docs)
    lines = (root / "repo.yaml").read_text().splitlines()
    example_line = next(i for i, line in enumerate(lines, 1) if 'name: "over the cap"' in line)
    case_line = next(i for i, line in enumerate(lines, 1) if 'name: "bot over the cap"' in line)
    proc = cli("test", str(root))
    assert proc.returncode == 1
    err = proc.stderr
    assert f"repo.yaml:{example_line}: pack caps, example 'over the cap' (judged by pack caps " \
           "alone)\n  expected: allow with violations ['caps/daily']\n  actual:   " \
           "require_approval with violations ['caps/daily']" in err
    assert f"repo.yaml:{case_line}: test bot, case 'bot over the cap'\n  expected: " \
           "require_approval\n  actual:   require_approval with violations ['caps/daily']\n" \
           '  approval: expected at least {"approvers": ["x"], "route": "identity"}, got ' \
           '{"approvers": [], "fallback": "block", "route": "identity", ' \
           '"timeout_seconds": 86400}' in err
    assert "2 passed, 2 failed (2 pack examples, 2 test cases)" in proc.stdout
    result = json.loads(cli("test", str(root), "--json").stdout)
    assert result["ok"] is False and result["failed"] == 2
    failed = {c["name"]: c for c in result["cases"] if not c["passed"]}
    assert failed["over the cap"]["line"] == example_line
    assert failed["over the cap"]["failed"] == [
        {"field": "decision", "how": "equals", "expected": "allow",
         "actual": "require_approval"}]
    assert failed["bot over the cap"]["file"].endswith("repo.yaml")
    assert [f["field"] for f in failed["bot over the cap"]["failed"]] == ["approval"]


def test_an_example_naming_another_packs_rule_warns(tmp_path: Path) -> None:
    """It cannot pass (examples are judged by their own pack): validate says so at its
    line, and --strict refuses the repository."""
    docs = documents()
    docs[2]["spec"]["examples"][0]["violations"] = ["refunds/no-refunds", "caps/daily"]
    root = write_repo(tmp_path, docs)
    line = next(i for i, text in enumerate((root / "repo.yaml").read_text().splitlines(), 1)
                if 'name: "no refunds"' in text)
    answer = json.loads(cli("validate", str(root), "--json").stdout)
    assert [(w["line"], w["message"][:60]) for w in answer["warnings"]] == [
        (line, "example 'no refunds' of pack 'refunds' expects a violation o")]
    assert "a rule of another pack" in answer["warnings"][0]["message"]
    assert cli("test", str(root), "--strict").returncode == 2
    failed = cli("test", str(root), "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["warnings"] == answer["warnings"]


def test_a_bad_repository_is_exit_2_with_json(tmp_path: Path) -> None:
    docs = documents()
    docs[-1]["spec"]["cases"][0]["expect"] = "deny"
    proc = cli("test", str(write_repo(tmp_path, docs)), "--json")
    assert proc.returncode == 2
    answer = json.loads(proc.stdout)
    assert answer["valid"] is False
    assert [e["field"] for e in answer["errors"]] == ["spec.cases[0].expect"]


class Lines:
    """A child's merged output, line by line, read by a thread (never blocking the test)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.read = 0  # lines already matched by wait_for
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=lambda: [self.queue.put(line) for line in stream],
                         daemon=True).start()

    def wait_for(self, text: str, timeout: float = 120) -> list[str]:
        """The lines up to the next one (after those matched before) holding ``text``."""
        deadline = time.monotonic() + timeout
        start = self.read
        while True:
            hit = next((i for i in range(self.read, len(self.seen)) if text in self.seen[i]),
                       None)
            if hit is not None:
                self.read = hit + 1
                return self.seen[start:hit + 1]
            self.read = len(self.seen)
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in:\n{''.join(self.seen)}"
            try:
                self.seen.append(self.queue.get(timeout=left))
            except queue.Empty:
                continue


# The CLI as a process that inherited SIGINT ignored (what some shells and test runners
# hand their jobs): Ctrl-C must stop the watch all the same.
IGNORING_SIGINT = [sys.executable, "-c", "import runpy, signal; "
                   "signal.signal(signal.SIGINT, signal.SIG_IGN); "
                   "runpy.run_module('policypacks.cli', run_name='__main__')"]


@pytest.mark.parametrize("launcher", [CLI, IGNORING_SIGINT], ids=["plain", "sigint-ignored"])
def test_watch_runs_again_on_a_change_and_stops_cleanly_on_ctrl_c(tmp_path: Path,
                                                                  launcher: list[str]) -> None:
    root = write_repo(tmp_path / "repo", documents())
    # faulthandler: a watcher that outlives Ctrl-C is aborted below and shows its stacks
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen([*launcher, "test", str(root), "--watch", "--interval", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT, env=env)
    try:
        out = Lines(proc)
        first = out.wait_for("---- passed; watching")
        assert any("==== policypacks test: run 1, " in line and " UTC ====" in line
                   for line in first)
        # A new file is a change too: a Test whose one case fails.
        failing = suite("extra", [{"name": "wrong", "input": SPEND, "expect": "allow"}])
        (root / "extra.yaml").write_text(yaml.safe_dump(failing))
        second = out.wait_for("---- failed; watching")
        assert any("==== policypacks test: run 2, " in line for line in second)
        assert any("extra.yaml:" in line and "case 'wrong'" in line for line in second)
        (root / "extra.yaml").write_text("apiVersion: policypacks/v1\nkind: Tset\n")
        third = out.wait_for("---- failed; watching")  # a bad repository: still watching
        assert any("==== policypacks test: run 3, " in line for line in third)
        assert any("extra.yaml:2: kind: kind must be one of" in line for line in third)
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=30)
            time.sleep(1)
            while not out.queue.empty():
                out.seen.append(out.queue.get())
            raise AssertionError("still watching 60 s after Ctrl-C:\n" + "".join(out.seen)) from None
        out.wait_for("stopped watching")
        assert not any("Traceback" in line for line in out.seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
