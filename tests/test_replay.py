"""``policypacks replay``: decision logs written by a real OPA (console plugin, decision
log service, mask policy), decided again by real OPA under a new bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support import agent, identity, pack, write_repo

from policypacks.bundle import write_bundle
from policypacks.deploy.decision_log import read_decision_log
from policypacks.deploy.publish import read_bundle
from policypacks.deploy.replay import SUMMARY, replay, truncated
from policypacks.deploy.sidecar import LocalOpa
from policypacks.opa import evaluate
from policypacks.pipeline import compile_path
from policypacks.runtime.store import open_store

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "policypacks.cli"]
DECISION = "policypacks/acme/decision"
LONG_TEXT = "Regarding the lawsuit: " + "the details follow. " * 20


def repo(tmp: Path, name: str, cap: int, topics_enforcement: str) -> Path:
    caps = pack("ops-caps", "block", [
        {"id": "daily-spend", "type": "spending_limit", "max": cap, "period": "day"}],
        category="operational")
    topics = pack("topics", topics_enforcement, [
        {"id": "legal", "type": "prohibited_topics", "topics": {"legal": ["lawsuit"]}}])
    root = write_repo(tmp / name, [identity(), caps, topics, agent("sales-bot")])
    out = tmp / f"{name}.tar.gz"
    write_bundle(compile_path(root, name)[1], out)
    return out


def spend(amount: int) -> dict[str, Any]:
    return {"agent": "sales-bot", "action": {"type": "spend", "amount": amount}}


# input                                                      old      new
INPUTS = [
    (spend(40),                                              "allow", "block"),
    (spend(40),                                              "allow", "block"),  # same again
    (spend(5),                                               "allow", "allow"),
    (spend(200),                                             "block", "block"),
    ({"agent": "sales-bot", "action": {"type": "send_message",
                                       "content": {"text": LONG_TEXT}}}, "block", "warn"),
    ({"agent": "ghost", "action": {"type": "spend", "amount": 1}}, "block", "block"),
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Old and new bundles, and the console decision log of a real OPA that decided
    every input of INPUTS with the old bundle (plus one query of another path)."""
    tmp = tmp_path_factory.mktemp("replay")
    old = repo(tmp, "old", cap=100, topics_enforcement="block")
    new = repo(tmp, "new", cap=10, topics_enforcement="warn")
    config = tmp / "opa.yaml"
    config.write_text(yaml.safe_dump({"decision_logs": {"console": True}}))
    log = tmp / "opa.log"
    with LocalOpa(bundles=[old], config_file=config, log_file=log, log_level="info") as opa:
        for item, expected, _ in INPUTS:
            answer = requests.post(f"{opa.url}/v1/data/{DECISION}", json={"input": item},
                                   timeout=10).json()
            assert answer["result"]["decision"] == expected
        requests.post(f"{opa.url}/v1/data/policypacks/acme/effective",
                      json={"input": "sales-bot"}, timeout=10)
    return {"old": old, "new": new, "log": log, "tmp": tmp}


def run_replay(world: dict[str, Path], baseline: bool) -> dict[str, Any]:
    source = read_decision_log(world["log"], DECISION)
    return replay(source, read_bundle(world["new"]),
                  read_bundle(world["old"]) if baseline else None).as_dict()


@pytest.mark.parametrize("baseline", [False, True], ids=["recorded", "baseline bundle"])
def test_replay_finds_every_change_per_decision_and_rule(world: dict[str, Path],
                                                         baseline: bool) -> None:
    result = run_replay(world, baseline)
    assert result["replayed"] == len(INPUTS) and result["distinct_inputs"] == len(INPUTS) - 1
    assert result["skipped"] == {"other path (policypacks/acme/effective)": 1}
    expected_changes = sum(old != new for _, old, new in INPUTS)
    assert result["changed"] == expected_changes
    assert {(t["before"], t["after"]): t["count"] for t in result["transitions"]} == {
        ("allow", "block"): 2, ("block", "warn"): 1}
    rules = {f"{r['pack']}/{r['rule']}": r for r in result["rules"]}
    assert set(rules) == {"ops-caps/daily-spend", "topics/legal"}
    cap, legal = rules["ops-caps/daily-spend"], rules["topics/legal"]
    assert (cap["newly_violated"], cap["allowed_to_refused"], cap["no_longer_violated"]) == \
        (2, 2, 0)
    assert (legal["enforcement_changed"], legal["refused_to_allowed"]) == (1, 1)
    assert result["packs"] == {
        "ops-caps": {"inputs_changed": 2, "allowed_to_refused": 2, "refused_to_allowed": 0},
        "topics": {"inputs_changed": 1, "allowed_to_refused": 0, "refused_to_allowed": 1}}
    # the log was recorded by the baseline's very build: each decision is taken as recorded
    # (and the undeclared agent's, blocked by both, is decided by neither: reach.py)
    assert result["baseline"] == ({"bundle": str(world["old"]), "revision": "old",
                                   "recorded_reused": len(INPUTS) - 1, "unaffected": 1}
                                  if baseline else {"recorded": True, "revisions": ["old"]})


def test_deciding_every_input_with_both_bundles_reports_the_same(
        world: dict[str, Path]) -> None:
    """--decide-all: no recorded decision reused, no input left undecided as unaffected."""
    bundles = read_bundle(world["new"]), read_bundle(world["old"])
    source = read_decision_log(world["log"], DECISION)
    shortcut = replay(source, *bundles).as_dict()
    every = replay(read_decision_log(world["log"], DECISION), *bundles, reuse=False).as_dict()
    assert (shortcut["baseline"].pop("unaffected"), every["baseline"].pop("unaffected")) == (1, 0)
    assert (shortcut["baseline"].pop("recorded_reused"),
            every["baseline"].pop("recorded_reused")) == (len(INPUTS) - 1, 0)
    assert shortcut == every


def test_recorded_decisions_of_the_baseline_build_report_as_deciding_them_again(
        world: dict[str, Path], tmp_path: Path) -> None:
    """The same log with each recorded decision's digest taken out: every input is
    decided by the baseline's OPA, and the report is the same."""
    log = tmp_path / "no-digest.log"
    with log.open("w") as out:
        for line in world["log"].read_text().splitlines():
            event = json.loads(line)
            if isinstance(event.get("result"), dict):
                event["result"].pop("digest", None)
            out.write(json.dumps(event) + "\n")
    bundles = read_bundle(world["new"]), read_bundle(world["old"])
    reused = replay(read_decision_log(world["log"], DECISION), *bundles).as_dict()
    decided = replay(read_decision_log(log, DECISION), *bundles).as_dict()
    assert (reused["baseline"].pop("recorded_reused"), decided["baseline"].pop("recorded_reused")) \
        == (len(INPUTS) - 1, 0)
    drop = {"source", "rules", "transitions"}  # their examples name the log file
    assert {k: v for k, v in reused.items() if k not in drop} == \
        {k: v for k, v in decided.items() if k not in drop}
    assert [(r["pack"], r["rule"], r["newly_violated"]) for r in reused["rules"]] == \
        [(r["pack"], r["rule"], r["newly_violated"]) for r in decided["rules"]]


# what differs from a decision the baseline build recorded         reused
REUSE = [
    ({},                                                             True),
    ({"digest": "sha256:another-build"},                             False),
    ({"digest": None},                                               False),
    ({"waived": [{"pack": "ops-caps", "rule": "daily-spend"}]},      False),  # may expire
    ({"waived": None},                                               False),
    ({"opa_version": "0.70.0"},                                      False),
    ({"opa_version": None},                                          False),
    ({"masked": True},                                               False),
]


@pytest.mark.parametrize("change, reused", REUSE)
def test_which_recorded_decisions_are_the_baselines_own(world: dict[str, Path],
                                                        change: dict[str, Any],
                                                        reused: bool) -> None:
    from policypacks.deploy.decision_log import Logged
    from policypacks.deploy.replay import baseline_reuse
    from policypacks.opa.binary import opa_binary, reported_version

    baseline = read_bundle(world["old"])
    recorded = {"decision": "allow", "violations": [], "waived": [], "digest": baseline.digest}
    recorded.update({k: v for k, v in change.items() if k in ("digest", "waived")})
    entry = Logged(spend(5), recorded, "log:1",
                   opa_version=change.get("opa_version", reported_version(opa_binary())),
                   masked=change.get("masked", False))
    assert baseline_reuse(baseline)(entry) is reused
    assert baseline_reuse(None)(entry) is False


def test_examples_point_at_the_log_and_truncate_free_text(world: dict[str, Path]) -> None:
    result = run_replay(world, baseline=False)
    legal = next(r for r in result["rules"] if r["rule"] == "legal")
    [example] = legal["examples"]
    assert example["where"].startswith(f"{world['log']}:")
    assert example["decision_id"] and example["agent"] == "sales-bot"
    text = example["input"]["action"]["content"]["text"]
    assert len(text) == 80 and text.endswith("…") and LONG_TEXT.startswith(text[:-1])


def test_unchanged_policy_changes_nothing(world: dict[str, Path]) -> None:
    source = read_decision_log(world["log"], DECISION)
    result = replay(source, read_bundle(world["old"])).as_dict()
    assert (result["changed"], result["rules_changed"], result["transitions"]) == (0, 0, [])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


# --max-changed   exit
LIMITS = [("3", 0), ("2", 1), ("0", 1)]


@pytest.mark.parametrize("limit, exit_code", LIMITS)
def test_max_changed_fails_ci_when_too_much_changes(world: dict[str, Path], limit: str,
                                                    exit_code: int) -> None:
    proc = cli("replay", "--decision-log", str(world["log"]), "--bundle", str(world["new"]),
               "--max-changed", limit, "--json")
    assert proc.returncode == exit_code, proc.stderr
    result = json.loads(proc.stdout)
    assert result["changed"] == 3 and result["ok"] is (exit_code == 0)


def test_text_output_names_transitions_rules_and_examples(world: dict[str, Path]) -> None:
    proc = cli("replay", "--decision-log", str(world["log"]), "--bundle", str(world["new"]))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for expected in ("replayed 6 decisions", "5 distinct inputs", "allow -> block: 2",
                     "block -> warn: 1", "ops-caps: 2 inputs change (allowed -> refused 2)",
                     "topics: 1 inputs change (refused -> allowed 1)",
                     "ops-caps/daily-spend: newly violated 2 (allowed -> refused 2)",
                     "topics/legal: enforcement changed 1 (refused -> allowed 1)",
                     "+ops-caps/daily-spend"):
        assert expected in out, out
    assert "\x1b[" not in out and proc.stderr == ""  # a pipe: no colour, no progress


def test_progress_on_request(world: dict[str, Path]) -> None:
    proc = cli("replay", "--decision-log", str(world["log"]), "--bundle", str(world["new"]),
               "--baseline", str(world["old"]), "--progress")
    assert proc.returncode == 0
    # 4 of the 5 distinct inputs, by the new bundle only: the baseline build recorded
    # them, and the undeclared agent's is decided alike by both (reach.py)
    assert "replaying: 4/4 (100%)" in proc.stderr, proc.stderr
    assert "5 decisions recorded by the baseline build itself" in proc.stdout, proc.stdout
    assert "1 decision the change cannot reach" in proc.stdout, proc.stdout
    every = cli("replay", "--decision-log", str(world["log"]), "--bundle", str(world["new"]),
                "--baseline", str(world["old"]), "--progress", "--decide-all")
    assert every.returncode == 0 and "replaying: 10/10 (100%)" in every.stderr, every.stderr
    assert "recorded by the baseline" not in every.stdout


def test_masked_inputs_are_not_replayed_unless_asked(world: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """OPA's mask policy (system.log.mask) erases the text from the logged input: that
    is not the input OPA decided, so replaying it would report a false change."""
    config = tmp_path / "opa.yaml"
    config.write_text(yaml.safe_dump({"decision_logs": {"console": True}}))
    log = tmp_path / "masked.log"
    with LocalOpa(bundles=[world["old"]], config_file=config, log_file=log,
                  log_level="info") as opa:
        mask = 'package system.log\n\nmask contains "/input/action/content/text"\n'
        requests.put(f"{opa.url}/v1/policies/mask", data=mask, timeout=10).raise_for_status()
        for item, _, _ in INPUTS[4:5] + INPUTS[:1]:
            requests.post(f"{opa.url}/v1/data/{DECISION}", json={"input": item}, timeout=10)
    source = read_decision_log(log, DECISION)
    # the spend has no text to erase: OPA logs it unmasked, and it is replayed
    assert [e.input for e in source.entries] == [INPUTS[0][0]]
    assert source.skipped == {"input changed by a mask policy (erased/masked)": 1}
    included = read_decision_log(log, DECISION, include_masked=True)
    assert len(included.entries) == 2
    assert "text" not in included.entries[0].input["action"]["content"]


class Collector(BaseHTTPRequestHandler):
    """A decision log service: keeps each POSTed body (gzip JSON array) as received."""

    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_decision_log_service_payload_replays(world: dict[str, Path],
                                                  tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Collector.bodies = []
    config = tmp_path / "opa.yaml"
    config.write_text(yaml.safe_dump({
        "services": {"logs": {"url": f"http://127.0.0.1:{server.server_address[1]}"}},
        "decision_logs": {"service": "logs", "reporting": {"min_delay_seconds": 1,
                                                            "max_delay_seconds": 1}}}))
    try:
        with LocalOpa(bundles=[world["old"]], config_file=config) as opa:
            for item, _, _ in INPUTS:
                requests.post(f"{opa.url}/v1/data/{DECISION}", json={"input": item},
                              timeout=10)
            deadline = time.monotonic() + 20
            while sum(b.count(b"\x1f\x8b") for b in Collector.bodies) == 0 and \
                    time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.5)
    finally:
        server.shutdown()
        server.server_close()
    assert Collector.bodies and Collector.bodies[0][:2] == b"\x1f\x8b"
    upload = tmp_path / "upload.json.gz"
    upload.write_bytes(Collector.bodies[0])
    source = read_decision_log(upload, DECISION)
    assert 1 <= len(source.entries) <= len(INPUTS)
    assert all(e.recorded and e.recorded["revision"] == "old" for e in source.entries)
    result = replay(source, read_bundle(world["new"])).as_dict()
    expected = sum(old != new for item, old, new in INPUTS
                   if any(e.input == item for e in source.entries))
    assert result["changed"] == expected


def test_replay_from_the_store_skips_redacted_actions(world: dict[str, Path],
                                                      tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    refused = {"decision": "block", "violations": [], "revision": "old"}
    with open_store(url) as store:
        store.record_decision("acme", "sales-bot", INPUTS[4][0]["action"], refused,
                              keep_text=True)
        store.record_decision("acme", "sales-bot", INPUTS[4][0]["action"], refused)
        store.record_decision("acme", "sales-bot", spend(200)["action"], refused)
    proc = cli("replay", "--store", url, "--bundle", str(world["new"]), "--baseline",
               str(world["old"]), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["replayed"] == 2
    assert result["skipped"] == {"text not kept (the client's keep_text is off)": 1}
    assert {(t["before"], t["after"]): t["count"] for t in result["transitions"]} == {
        ("block", "warn"): 1}


# arguments (after replay)                                    exit  error contains
MISTAKES = [
    (["--bundle", "{new}"],                                         2, "give one of"),
    (["--decision-log", "{log}", "--store", "sqlite:///x.db", "--bundle", "{new}"], 2,
     "give one of"),
    (["--store", "sqlite:///x.db", "--bundle", "{new}"],            2, "needs --baseline"),
    (["--decision-log", "{empty}", "--bundle", "{new}"],            2,
     "no decision log entries"),
    (["--decision-log", "{log}", "--bundle", "{new}", "--baseline", "{other}"], 2,
     "one identity's bundles"),
]


@pytest.mark.parametrize("args, exit_code, error", MISTAKES, ids=lambda v: str(v)[:30])
def test_mistakes_are_explained(world: dict[str, Path], args: list[str], exit_code: int,
                                error: str) -> None:
    empty = world["tmp"] / "empty.log"
    empty.write_text('{"level":"info","msg":"Initializing server."}\n')
    other = world["tmp"] / "other.tar.gz"
    if not other.exists():
        root = write_repo(world["tmp"] / "other", [identity("globex"), agent("x")])
        write_bundle(compile_path(root, "o")[1], other)
    values = {"new": world["new"], "log": world["log"], "empty": empty, "other": other}
    proc = cli("replay", *(a.format(**{k: str(v) for k, v in values.items()}) for a in args),
               "--json")
    assert proc.returncode == exit_code
    assert error in json.loads(proc.stdout)["error"] and "Traceback" not in proc.stderr


# value                                  limit  truncated
TRUNCATION = [
    ("short",                             10,   "short"),
    ("exactly10!",                        10,   "exactly10!"),
    ("eleven char",                       10,   "eleven ch…"),
    ({"a": ["x" * 12, 3]},                5,    {"a": ["xxxx…", 3]}),
]


@pytest.mark.parametrize("value, limit, expected", TRUNCATION)
def test_truncation(value: Any, limit: int, expected: Any) -> None:
    assert truncated(value, limit) == expected


# ---- the bundle's own summary (main.rego `replayed`) ------------------------------

def _tool_call(agent_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {"agent": agent_id, "tool": {"name": name, "arguments": arguments}}


TOOL_CALLS = [
    _tool_call("sales-bot", "stripe.create_charge", {"amount": 2000, "currency": "usd"}),
    _tool_call("sales-bot", "stripe.create_charge", {"amount": 60000}),
    _tool_call("sales-bot", "stripe.create_charge", {"amount": "2000"}),
    _tool_call("marketing-bot", "stripe.create_charge", {"amount": 500}),
    _tool_call("support-bot", "no.such_tool", {}),
    {"agent": "support-bot", "action": {"type": "spend", "amount": 5,
                                        "tool": {"name": "stripe.create_charge",
                                                 "arguments": {"amount": 500}}}},
]


def test_replayed_is_the_summary_of_the_decision() -> None:
    """What replay asks a bundle this version builds (`replayed`) is what it would cut
    from the whole decision (SUMMARY): on the hand-written baseline's inputs (every
    outcome), tool calls and malformed inputs."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from handwritten.inputs import REPRESENTATIVE, generated, pack_examples
    compiled = compile_path(ROOT / "packs", "test")[1]
    inputs = [*REPRESENTATIVE.values(), *pack_examples(), *generated(300), *TOOL_CALLS,
              {}, {"agent": "nobody", "action": {"type": "spend", "amount": 1}}, [1]]
    pairs = evaluate.query(compiled, "[[a, b] | some x in input; "
                                     "a := {prefix}.replayed with input as x; "
                                     "r := {prefix}.decision with input as x; "
                                     "b := " + SUMMARY.replace("{", "{{").replace("}", "}}")
                                     + "]", inputs)
    assert len(pairs) == len(inputs)
    assert [a for a, _ in pairs] == [b for _, b in pairs]
    assert {a["decision"] for a, _ in pairs} == {"allow", "warn", "require_approval", "block"}


def test_a_bundle_built_before_replayed_existed_is_replayed_all_the_same(
        world: dict[str, Path]) -> None:
    """A baseline built by an earlier version has no `replayed` rule: replay cuts its
    whole decision down instead, and finds the same changes."""
    compiled = compile_path(world["tmp"] / "old", "old")[1]
    main = f"{compiled.root}/main.rego"
    text = compiled.modules[main]
    start, end = text.index("replayed := replay_summary"), text.index("# ---- Effective policy")
    compiled.modules[main] = text[:start] + text[end:]
    earlier = world["tmp"] / "earlier.tar.gz"
    write_bundle(compiled, earlier)
    source = read_decision_log(world["log"], DECISION)
    with_rule = replay(source, read_bundle(world["new"]), read_bundle(world["old"])).as_dict()
    without = replay(read_decision_log(world["log"], DECISION), read_bundle(world["new"]),
                     read_bundle(earlier)).as_dict()
    assert without["baseline"]["revision"] == with_rule["baseline"]["revision"]
    drop = {"baseline"}
    assert {k: v for k, v in without.items() if k not in drop} == \
        {k: v for k, v in with_rule.items() if k not in drop}
    assert with_rule["changed"] > 0


def test_a_log_read_while_it_is_decided_replays_as_one_read_first(world: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    """The CLI streams the log (open_decision_log): batches go to OPA while the rest is
    read. Over several batches, duplicates and other log lines, the report is the one
    of the log read whole, and progress ends at the total."""
    from policypacks.deploy.decision_log import open_decision_log
    from policypacks.deploy.replay import BATCH

    log = tmp_path / "long.log"
    with log.open("w") as out:
        for i in range(2 * BATCH + 50):
            out.write(json.dumps({"level": "info", "msg": "Received request."}) + "\n")
            for item in [spend(i)] * (1 + (i % 3 == 0)):  # a third logged twice
                out.write(json.dumps({"msg": "Decision Log", "decision_id": f"d{i}",
                                      "path": DECISION, "input": item}) + "\n")
    bundles = read_bundle(world["new"]), read_bundle(world["old"])
    whole = replay(read_decision_log(log, DECISION), *bundles).as_dict()
    seen: list[tuple[int, int]] = []
    streamed = replay(open_decision_log(log, DECISION), *bundles,
                      progress=lambda done, total: seen.append((done, total))).as_dict()
    assert streamed == whole
    assert whole["replayed"] == 2 * BATCH + 50 + (2 * BATCH + 50 + 2) // 3
    assert whole["distinct_inputs"] == 2 * BATCH + 50 and whole["changed"] > 0
    assert seen[-1] == (4 * BATCH + 100,) * 2  # every distinct input, by two bundles
