#!/usr/bin/env python3
"""The scaling grid: agents 10 -> 10,000 and packs 10 -> 1,000. Every agent attaches
the same number of packs (3 scope-all packs, 4 scoped to it), so what grows is the
identity, not the work of one decision. Per cell: build time (validate + compile,
including the build-time precedence tables, + bundle), bundle size, activation time (OPA
start until the bundle is active), OPA RSS once active, and the decision's evaluation
cost as OPA reports it (`?metrics=true`, timer_rego_query_eval_ns) -- all cells are
served at once and asked in turn (ABAB), so load drift hits every cell alike.

    .venv/bin/python benchmarks/scaling.py [--quick] [--distinct]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from common import interleaved, median, print_table, rss_mb, rules
from support import agent, identity, pack

from policypacks.bundle import write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.pipeline import compile_path

FULL_GRID = [(a, p) for a in (10, 100, 1000, 10000) for p in (10, 100, 1000)]
QUICK_GRID = [(10, 10), (10, 1000), (10000, 1000)]  # the corners the two ratios need
SCOPE_ALL = 3
SCOPED_PER_AGENT = 4


def documents(agents: int, packs: int, distinct: bool = False) -> list[dict[str, Any]]:
    """The repository: agent i has scoped packs 4i..4i+3 (mod packs), so every agent has
    the same 7 packs however many agents and packs there are. With ``distinct`` its four
    are drawn at random instead, so (with 1,000 packs) nearly every agent has a table of
    its own: the worst case for the size of the build-time tables."""
    rng = random.Random(7)
    scoped: dict[int, list[str]] = {p: [] for p in range(packs)}
    for a in range(agents):
        drawn = rng.sample(range(packs), min(SCOPED_PER_AGENT, packs)) if distinct else \
            [(SCOPED_PER_AGENT * a + k) % packs for k in range(SCOPED_PER_AGENT)]
        for p in drawn:
            scoped[p].append(f"agent-{a}")
    docs = [identity("bench")]
    docs += [pack(f"global-{p}", "require_approval", rules(p)) for p in range(SCOPE_ALL)]
    for p in range(packs):
        scope: Any = {"agents": scoped[p]} if scoped[p] else "none"
        docs.append(pack(f"pack-{p}", rng.choice(["block", "warn", "require_approval"]),
                         rules(p), scope=scope))
    docs += [agent(f"agent-{a}", precedence=rng.choice(["identity_overrides", "most_restrictive"]))
             for a in range(agents)]
    return docs


def write_repository(root: Path, docs: list[dict[str, Any]]) -> list[Path]:
    """One YAML file per document, as a repository is laid out."""
    files = []
    for doc in docs:
        folder = {"Identity": "", "PolicyPack": "packs", "Agent": "agents"}[doc["kind"]]
        path = root / folder / f"{doc['metadata']['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        files.append(path)
    return files


def build(agents: int, packs: int, work: Path, distinct: bool = False) -> dict[str, Any]:
    root = work / f"repo-{agents}x{packs}"
    files = write_repository(root, documents(agents, packs, distinct))
    started = time.perf_counter()
    compiled = compile_path(root, "bench")[1]
    bundle = work / f"bundle-{agents}x{packs}.tar.gz"
    data = write_bundle(compiled, bundle)
    return {"root": root, "files": files, "bundle": bundle, "prefix": compiled.root,
            "build_s": time.perf_counter() - started, "bundle_mb": len(data) / 2**20}


def inputs(agents: int) -> list[dict[str, Any]]:
    rng = random.Random(11)
    return [{"agent": f"agent-{rng.randrange(agents)}", "action": action,
             "usage": {"spend": {"day": 20}}}
            for action in ({"type": "spend", "amount": 50},
                           {"type": "refund", "amount": 150},
                           {"type": "send_message", "content": {"text": "about the lawsuit"}})
            for _ in range(4)]


def eval_us(session: requests.Session, url: str, bodies: list[dict[str, Any]]) -> float:
    """Median evaluation time OPA reports for these inputs, in microseconds."""
    times = []
    for body in bodies:
        answer = session.post(url + "?metrics=true", json={"input": body}, timeout=30)
        answer.raise_for_status()
        times.append(answer.json()["metrics"]["timer_rego_query_eval_ns"] / 1000)
    return median(times)


def measure(quick: bool, distinct: bool = False) -> dict[str, Any]:
    grid = QUICK_GRID if quick else FULL_GRID
    rounds = 3 if quick else 7
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for agents, packs in grid:
            cells[(agents, packs)] = build(agents, packs, work, distinct)
        servers = {}
        try:
            for cell, info in cells.items():
                started = time.perf_counter()
                opa = LocalOpa(bundles=[info["bundle"]]).launch().wait(timeout=300)
                info["activation_s"] = time.perf_counter() - started
                servers[cell] = opa
            with requests.Session() as session:
                for cell, opa in servers.items():  # warm up every server
                    eval_us(session, f"{opa.url}/v1/data/{cells[cell]['prefix']}/decision",
                            inputs(cell[0]))
                samples = interleaved({cell: (lambda c=cell, o=opa: eval_us(
                    session, f"{o.url}/v1/data/{cells[c]['prefix']}/decision", inputs(c[0])))
                    for cell, opa in servers.items()}, rounds)
            for cell, opa in servers.items():
                cells[cell]["rss_mb"] = rss_mb(opa.pid or 0)
                cells[cell]["eval_us"] = median(samples[cell])
        finally:
            for opa in servers.values():
                opa.stop()
        # The loader against libyaml: on the largest repository, or in quick mode on the
        # 10 x 1,000 one (a ratio of two parses of the same files; the size matters little).
        probe = (10, 1000) if quick and (10, 1000) in cells else max(grid)
        loader = loader_ratio(cells[probe]["root"], cells[probe]["files"], 2 if quick else 3)
        loader["loader_probe"] = f"{probe[0]}x{probe[1]}"
    rows = [[f"{a:,}", f"{p:,}", f"{c['build_s']:.2f}", f"{c['bundle_mb']:.2f}",
             f"{c['activation_s']:.2f}", f"{c['rss_mb']:.0f}", f"{c['eval_us']:.0f}"]
            for (a, p), c in cells.items()]
    print_table("Scaling: build, bundle, activation, OPA memory, decision cost",
                ["agents", "packs", "build s", "bundle MB", "activation s", "OPA RSS MB",
                 "eval us (median)"], rows)

    def cost(a: int, p: int) -> float:
        return float(cells[(a, p)]["eval_us"])

    # Agents: smallest to largest at the largest pack count both were built with; packs:
    # smallest to largest at the smallest agent count.
    min_a, max_a = min(a for a, _ in grid), max(a for a, _ in grid)
    min_p, max_p = min(p for _, p in grid), max(p for _, p in grid)
    at_packs = max(p for a, p in grid if a == max_a and (min_a, p) in cells)
    return {
        "cells": {f"{a}x{p}": {k: v for k, v in c.items() if k not in ("root", "files", "bundle")}
                  for (a, p), c in cells.items()},
        "agents_scaling_ratio": cost(max_a, at_packs) / cost(min_a, at_packs),
        "packs_scaling_ratio": cost(min_a, max_p) / cost(min_a, min_p),
        "build_s_10000x1000": cells.get((10000, 1000), {}).get("build_s"),
        "rss_mb_10000x1000": cells.get((10000, 1000), {}).get("rss_mb"),
        **loader,
    }


def loader_ratio(root: Path, files: list[Path], rounds: int) -> dict[str, Any]:
    """The repository loader against libyaml's C parser on the same files, through the
    two steps of benchmarks/loader.py (its `loader` and `libyaml_plain`), ABAB-interleaved,
    in CPU seconds of this process as that script measures them (the machine is shared)."""
    import loader as loader_bench

    def cpu(step: Any) -> float:
        started = time.process_time()
        step(root)
        return time.process_time() - started

    samples = interleaved({"loader": lambda: cpu(loader_bench.loader),
                           "libyaml": lambda: cpu(loader_bench.libyaml_plain)}, rounds)
    del files
    return {"loader_s": median(samples["loader"]), "libyaml_s": median(samples["libyaml"]),
            "loader_ratio_vs_libyaml": median(samples["loader"]) / median(samples["libyaml"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the corners the ratios need")
    parser.add_argument("--distinct", action="store_true",
                        help="draw each agent's scoped packs at random (a table per agent)")
    args = parser.parse_args()
    result = measure(args.quick, args.distinct)
    print(json.dumps({k: v for k, v in result.items() if k != "cells"}))


if __name__ == "__main__":
    main()
