#!/usr/bin/env python3
"""Replay throughput: a script that prints measured numbers.

It generates a decision log of --entries distinct inputs (default 100,000) for the
example repository's agents, in the shape OPA's console decision logger writes (JSON
lines, "msg": "Decision Log", interleaved with OPA's request log lines), the recorded
result of each entry decided by real OPA with the example bundle. The new bundle lowers
the daily spending cap, a typical change. Then it times, end to end (reading the log,
deciding, comparing):

* replay against the recorded decisions (one OPA, the new bundle);
* replay with --baseline, the build that recorded the log (its recorded decisions are
  its own: one OPA decides, for the new bundle);
* replay with --baseline of another build (the same repository under another revision:
  two OPAs side by side), where the inputs the change cannot reach (every one but the
  spends of declared agents) are decided by neither;
* the same with --decide-all: both OPAs decide every input, as for a change that reaches
  them all;

and, as the baseline of the ratios, the project's plain batch path (one `opa eval` of a
list of inputs, `policypacks.opa.evaluate.decisions`) on a sample of --sample inputs.

    .venv/bin/python benchmarks/replay.py [--entries 100000] [--sample 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policypacks.bundle import write_bundle  # noqa: E402
from policypacks.deploy.decision_log import open_decision_log  # noqa: E402
from policypacks.deploy.publish import read_bundle  # noqa: E402
from policypacks.deploy.replay import BundleOpa, decide_all, replay  # noqa: E402
from policypacks.opa import evaluate  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AGENTS = ["support-bot", "sales-bot", "marketing-bot", "data-bot", "unknown-bot"]
WORDS = ("thanks for your order your refund is on its way please find the invoice attached "
         "hey gonna lol kind regards we appreciate your patience the lawsuit guarantee "
         "cure medical advice call 555-123-4567 or mail jo@example.org").split()
LIMIT = 60.0  # seconds the issue allows for 100,000 entries


def synthetic_input(index: int) -> dict[str, Any]:
    """A distinct input per index: actions of every kind, texts, amounts and usage."""
    rng = random.Random(index)
    agent = rng.choice(AGENTS)
    kind = rng.random()
    usage = {"spend": {"day": rng.randint(0, 150), "month": rng.randint(0, 3000)},
             "actions": {"send_email": {"hour": rng.randint(0, 250)}}}
    if kind < 0.35:
        action: dict[str, Any] = {"type": "spend", "amount": rng.randint(1, 700),
                                  "currency": "USD"}
    elif kind < 0.70:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
        action = {"type": rng.choice(["send_email", "send_message"]),
                  "recipient": {"address": f"user{index}@{rng.choice(['acme.com', 'x.org'])}"},
                  "content": {"text": text + rng.choice(["", "\n-- The Acme Team"]),
                              "subject": f"case {index}"}}
    elif kind < 0.85:
        action = {"type": "api_call", "api": rng.choice(["crm.lookup", "billing.charge",
                                                         "admin.users"])}
    else:
        action = {"type": "refund", "amount": rng.randint(1, 400)}
    return {"agent": agent, "action": action, "usage": usage, "request": index}


def console_log(path: Path, inputs: list[dict[str, Any]], results: list[dict[str, Any]],
                revision: str) -> None:
    """OPA's console decision log: one event per decision among request log lines."""
    with path.open("w", encoding="utf-8") as out:
        for index, (item, result) in enumerate(zip(inputs, results, strict=True)):
            out.write(json.dumps({"level": "info", "msg": "Received request.",
                                  "req_id": index, "req_method": "POST",
                                  "req_path": "/v1/data/policypacks/acme/decision"}) + "\n")
            out.write(json.dumps({
                "bundles": {"policypacks": {"revision": revision}},
                "decision_id": f"00000000-0000-4000-8000-{index:012d}", "input": item,
                "labels": {"id": "bench", "version": "1.22.2"}, "level": "info",
                "msg": "Decision Log", "path": "policypacks/acme/decision", "req_id": index,
                "requested_by": "127.0.0.1:50000", "result": result,
                "timestamp": "2026-01-01T00:00:00.000000000Z",
                "type": "openpolicyagent.org/decision_logs"}) + "\n")


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process, and of its finished children (the OPAs it stopped)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def build(repo: Path, out: Path, revision: str) -> Path:
    write_bundle(compile_path(repo, revision)[1], out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2_000)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        work = Path(tmp)
        old = build(ROOT / "packs", work / "old.tar.gz", "old")
        changed = work / "new-repo"
        shutil.copytree(ROOT / "packs", changed)
        caps = changed / "packs" / "ops-caps.yaml"
        caps.write_text(caps.read_text().replace("max: 100\n", "max: 60\n", 1))
        new = build(changed, work / "new.tar.gz", "new")

        inputs = [synthetic_input(i) for i in range(args.entries)]
        started = time.perf_counter()
        with BundleOpa(read_bundle(old)) as opa:
            [recorded] = decide_all([opa], inputs)
        log = work / "opa.log"
        console_log(log, inputs, recorded, "old")
        generation = time.perf_counter() - started
        print(f"decision log: {args.entries:,} entries, {log.stat().st_size / 2**20:.0f} MiB, "
              f"generated (decided by real OPA) in {generation:.1f}s")

        sample = inputs[:args.sample]
        _, compiled = compile_path(changed, "new")
        started = time.perf_counter()
        evaluate.decisions(compiled, sample)
        plain = (time.perf_counter() - started) / len(sample)
        print(f"baseline: one `opa eval` of {len(sample):,} inputs: {plain * 1e3:.2f} ms "
              f"per decision ({1 / plain:,.0f}/s)")

        timings, cpu = {}, {}
        cores = os.cpu_count() or 1
        # The same baseline repository built again under another revision: another build,
        # whose decisions the log did not record, so its OPA decides every input.
        rebuilt = build(ROOT / "packs", work / "old-rebuilt.tar.gz", "old-rebuilt")
        for label, baseline, reuse in (
                ("against the recorded decisions", None, True),
                ("with --baseline, the build that recorded the log", read_bundle(old), True),
                ("with --baseline of another build (two bundles)", read_bundle(rebuilt), True),
                # the worst case, a change that reaches every input: both decide them all
                ("with --baseline of another build, --decide-all", read_bundle(rebuilt),
                 False)):
            started, (own_started, opa_started) = time.perf_counter(), cpu_seconds()
            source = open_decision_log(log, "policypacks/acme/decision")  # as the CLI
            report = replay(source, read_bundle(new), baseline, reuse=reuse)
            seconds = time.perf_counter() - started
            own, opa = cpu_seconds()
            own, opa = own - own_started, opa - opa_started
            timings[label], cpu[label] = seconds, own + opa
            per = seconds / report.replayed
            print(f"replay {label}: {report.replayed:,} entries in {seconds:.1f}s "
                  f"({report.replayed / seconds:,.0f}/s, {per * 1e3:.2f} ms per entry, "
                  f"{plain / per:.1f}x the baseline's rate), {cpu[label]:.1f} CPU-s "
                  f"({opa:.1f} OPA, {own:.1f} this process); {report.changed:,} decisions "
                  f"change; {report.baseline.get('recorded_reused', 0):,} recorded decisions "
                  f"of the baseline reused, {report.baseline.get('unaffected', 0):,} inputs "
                  "the change cannot reach decided by neither bundle")
        scale = 100_000 / args.entries
        for label, seconds in timings.items():
            scaled = seconds * scale
            verdict = "within" if scaled < LIMIT else "OVER"
            print(f"replay {label} scaled to 100,000 entries: {scaled:.1f}s ({verdict} the "
                  f"{LIMIT:.0f}s limit); its CPU time over {cores} cores would take "
                  f"{cpu[label] * scale / cores:.1f}s on an otherwise idle machine")
        print(f"load average now {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
