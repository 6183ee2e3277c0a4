#!/usr/bin/env python3
"""The repository loader against libyaml, and the whole build, on a large repository.

Generates a repository of AGENTS agents and PACKS packs (default 10,000 x 1,000; one
file per document, as the example repository is laid out; every pack with four rules
and scoped to a few agents, every agent attaching three packs), then measures, ABAB
interleaved in one process:

- ``loader``: ``load_repository`` (walk, read, parse with libyaml's events, build the
  line-aware values, check the limits) -- what ``validate`` and ``build`` start with;
- ``libyaml``: the baseline, reading the same files and ``yaml.load_all(...,
  Loader=yaml.CSafeLoader)`` on each, values without lines or checks;
- ``build``: ``compile_path`` (load, validate, compile), what ``policypacks build`` does
  before writing the bundle.

Times are CPU seconds of this process (``time.process_time``): the machine is shared, so
wall-clock time would measure the neighbours; the wall-clock medians are printed too.
The last line is JSON: ``loader_ratio_vs_libyaml`` (median loader / median libyaml,
target <= 2) and ``build_s_10000x1000`` (median build CPU seconds, target <= 3; named
for the default size).

    .venv/bin/python benchmarks/loader.py [--agents 10000] [--packs 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from common import rules  # noqa: E402
from support import agent, identity, pack  # noqa: E402

from policypacks.errors import Problems  # noqa: E402
from policypacks.load import load_repository  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402

PACKS_PER_AGENT = 3


def write_repository(root: Path, agents: int, packs: int) -> int:
    """The repository, one YAML file per document; returns the number of files."""
    rng = random.Random(7)
    attached: dict[int, list[int]] = {a: rng.sample(range(packs), k=min(PACKS_PER_AGENT, packs))
                                      for a in range(agents)}
    members: dict[int, list[int]] = {p: [] for p in range(packs)}
    for a, chosen in attached.items():
        for p in chosen:
            members[p].append(a)
    documents: dict[str, dict[str, Any]] = {"identity.yaml": identity("bench")}
    for p in range(packs):
        scope = {"agents": [f"agent-{a}" for a in members[p][:5]]} if members[p] else "none"
        documents[f"packs/pack-{p}.yaml"] = pack(
            f"pack-{p}", rng.choice(["block", "warn", "require_approval"]), rules(p),
            category="operational", scope=scope)
    for a in range(agents):
        documents[f"agents/agent-{a}.yaml"] = agent(
            f"agent-{a}", [{"pack": f"pack-{p}", "enforcement": "warn"} if i == 0
                           else f"pack-{p}" for i, p in enumerate(attached[a])],
            precedence=rng.choice(["identity_overrides", "most_restrictive"]))
    for name, document in documents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return len(documents)


def libyaml_plain(root: Path) -> int:
    count = 0
    for path in sorted(root.rglob("*.yaml")):
        count += len(list(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader)))
    return count


def loader(root: Path) -> int:
    problems = Problems()
    loaded = load_repository(root, problems)
    assert not problems and loaded.complete, problems.items[:3]
    return len(loaded.documents)


def build(root: Path) -> int:
    repo, _ = compile_path(root, revision="bench")
    return len(repo.agents)


def timed(step: Callable[[Path], int], root: Path) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    step(root)
    return time.process_time() - cpu, time.perf_counter() - wall


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.3f}  min {min(values):6.3f}  " \
           f"max {max(values):6.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--packs", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"yaml {yaml.__version__}, libyaml {yaml.__with_libyaml__}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        files = write_repository(root, args.agents, args.packs)
        size = sum(p.stat().st_size for p in root.rglob("*.yaml"))
        print(f"repository: {args.agents} agents, {args.packs} packs, {files} files, "
              f"{size / 1e6:.1f} MB", flush=True)
        assert loader(root) == libyaml_plain(root) == files  # warm up, same documents
        results: dict[str, list[tuple[float, float]]] = {"loader": [], "libyaml": [],
                                                         "build": []}
        for _ in range(args.rounds):  # ABAB: neighbours' load hits both alike
            results["loader"].append(timed(loader, root))
            results["libyaml"].append(timed(libyaml_plain, root))
            results["build"].append(timed(build, root))
    for name, runs in results.items():
        print(f"{name:8} cpu s: {spread([c for c, _ in runs])}   "
              f"wall s: {spread([w for _, w in runs])}")
    ratios = [a[0] / b[0] for a, b in zip(results["loader"], results["libyaml"], strict=True)]
    ratio = statistics.median(c for c, _ in results["loader"]) / statistics.median(
        c for c, _ in results["libyaml"])
    print(f"loader / libyaml (cpu): {ratio:.2f} (per round: "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; target <= 2)")
    build_s = statistics.median(c for c, _ in results["build"])
    print(f"build (compile_path) cpu s: {build_s:.2f} (target <= 3 at 10000 x 1000)")
    print(json.dumps({"loader_ratio_vs_libyaml": round(ratio, 3),
                      f"build_s_{args.agents}x{args.packs}": round(build_s, 3),
                      "build_wall_s": round(statistics.median(w for _, w in results["build"]),
                                            3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
