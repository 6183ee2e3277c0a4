#!/usr/bin/env python3
"""Decision latency as the repository grows: a script that prints measured numbers.

For each size it generates a repository (agents, packs scoped to a few agents each, a
few scope-all packs, several rules per pack), builds the bundle, serves it from a real
`opa run --server`, and times POST /v1/data/policypacks/<id>/decision over keep-alive
HTTP from this process. The point to read: latency should depend on the packs attached
to the asking agent, not on how many packs and agents the identity has.

    .venv/bin/python benchmarks/decision_latency.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import agent, identity, pack, write_repo  # noqa: E402

from policypacks.bundle import write_bundle  # noqa: E402
from policypacks.deploy.sidecar import LocalOpa  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402

SIZES = [(10, 10), (100, 100), (1000, 1000)]  # (agents, scoped packs)
PACKS_PER_AGENT = 4
SCOPE_ALL = 3


def rules(index: int) -> list[dict]:
    return [
        {"id": "day", "type": "spending_limit", "max": 100 + index, "period": "day"},
        {"id": "tx", "type": "spending_limit", "max": 500, "period": "transaction",
         "enforcement": "block"},
        {"id": "topics", "type": "prohibited_topics",
         "topics": {f"topic-{index}": [f"secret{index}", "lawsuit"]}},
        {"id": "refunds", "type": "condition", "message": "no refunds over $100",
         "when": {"all": [{"field": "action.type", "equals": "refund"},
                          {"field": "action.amount", "gt": 100}]}},
    ]


def repository(agents: int, packs: int) -> list[dict]:
    rng = random.Random(7)
    docs = [identity("bench")]
    for p in range(SCOPE_ALL):
        docs.append(pack(f"global-{p}", "require_approval", rules(p)))
    scoped: dict[int, list[str]] = {a: [] for a in range(agents)}
    for p in range(packs):
        members = rng.sample(range(agents), k=min(PACKS_PER_AGENT, agents))
        docs.append(pack(f"pack-{p}", rng.choice(["block", "warn", "require_approval"]),
                         rules(p), scope={"agents": [f"agent-{a}" for a in members]}))
        for a in members:
            scoped[a].append(f"pack-{p}")
    for a in range(agents):
        docs.append(agent(f"agent-{a}", precedence=rng.choice(
            ["identity_overrides", "most_restrictive"])))
    return docs


def measure(agents: int, packs: int, count: int, workdir: Path) -> dict[str, float]:
    root = write_repo(workdir / f"repo-{agents}-{packs}", repository(agents, packs))
    started = time.perf_counter()
    compiled = compile_path(root, "bench")[1]
    bundle = workdir / f"bundle-{agents}.tar.gz"
    write_bundle(compiled, bundle)
    build_seconds = time.perf_counter() - started
    rng = random.Random(11)
    inputs = [{"agent": f"agent-{rng.randrange(agents)}",
               "action": rng.choice([
                   {"type": "spend", "amount": rng.randrange(1, 200)},
                   {"type": "refund", "amount": rng.randrange(1, 300)},
                   {"type": "send_message", "content": {"text": "about the lawsuit"}},
               ]), "usage": {"spend": {"day": rng.randrange(0, 150)}}}
              for _ in range(count)]
    with LocalOpa(bundles=[bundle]) as opa, requests.Session() as http:
        url = f"{opa.url}/v1/data/policypacks/bench/decision"
        for document in inputs[:100]:  # warm up
            http.post(url, json={"input": document}, timeout=10).raise_for_status()
        timings = []
        for document in inputs:
            t0 = time.perf_counter()
            answer = http.post(url, json={"input": document}, timeout=10)
            timings.append((time.perf_counter() - t0) * 1000)
            answer.raise_for_status()
    timings.sort()
    return {"build_s": build_seconds, "p50_ms": statistics.median(timings),
            "p95_ms": timings[int(len(timings) * 0.95)],
            "p99_ms": timings[int(len(timings) * 0.99)],
            "rules": sum(len(p.get("spec", {}).get("rules", [])) for p in
                         repository(agents, packs) if p["kind"] == "PolicyPack")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'agents':>7} {'packs':>6} {'rules':>6} {'build s':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'p99 ms':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for agents, packs in SIZES:
            result = measure(agents, packs, args.requests, Path(tmp))
            print(f"{agents:>7} {packs + SCOPE_ALL:>6} {result['rules']:>6} "
                  f"{result['build_s']:>8.2f} {result['p50_ms']:>7.2f} "
                  f"{result['p95_ms']:>7.2f} {result['p99_ms']:>7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
