#!/usr/bin/env python3
"""HTTP p50/p99 and throughput of three policies on one `opa run --server`: the generated
decision, the hand-written support-bot policy and a trivial one (the server's floor),
with 1 and 8 concurrent keep-alive clients from the Go load generator
(benchmarks/loadgen, standard library only), ABAB-interleaved. Then the same decision
and floor on a second server with console decision logging on, as the shipped
opa-config does.

    .venv/bin/python benchmarks/http_bench.py [--rounds 5] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, interleaved, load, median, print_table, ratio_summary, spread
from handwritten.inputs import REPRESENTATIVE
from handwritten.policy import MODULE, REVISION

from policypacks.bundle import write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.pipeline import compile_path

TRIVIAL = "package trivial\n\ndecision := {\"decision\": \"allow\", \"allow\": true}\n"


def policy_bundles(workdir: Path) -> tuple[list[Path], dict[str, str]]:
    """The three bundles and the decision path of each policy."""
    compiled = compile_path(ROOT / "packs", REVISION)[1]
    generated = workdir / "generated.tar.gz"
    write_bundle(compiled, generated)
    hand = workdir / "handwritten"
    (hand / "handwritten" / "support_bot").mkdir(parents=True)
    (hand / ".manifest").write_text(json.dumps({"roots": ["handwritten"]}))
    (hand / "handwritten" / "support_bot" / MODULE.name).write_text(MODULE.read_text())
    trivial = workdir / "trivial"
    (trivial / "trivial").mkdir(parents=True)
    (trivial / ".manifest").write_text(json.dumps({"roots": ["trivial"]}))
    (trivial / "trivial" / "trivial.rego").write_text(TRIVIAL)
    paths = {"decision": "v1/data/" + compiled.root + "/decision",
             "handwritten": "v1/data/handwritten/support_bot/decision",
             "trivial": "v1/data/trivial/decision"}
    return [generated, hand, trivial], paths


def measure(rounds: int, seconds: float, extra_args: list[str] | None = None) -> dict[str, Any]:
    bodies = [{"input": doc} for doc in REPRESENTATIVE.values()]
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bundles, paths = policy_bundles(work)
        with LocalOpa(bundles=bundles, extra_args=extra_args or []) as opa:
            for clients in (1, 8):
                runs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}

                def run(name: str, clients: int = clients,
                        runs: dict[str, list[dict[str, float]]] = runs) -> float:
                    result = load(f"{opa.url}/{paths[name]}", bodies, clients, seconds, work)
                    runs[name].append(result)
                    return result["p50_us"]

                p50 = interleaved({name: (lambda n=name: run(n)) for name in paths}, rounds)
                ratios = ratio_summary(p50, "handwritten")
                floor = ratio_summary(p50, "trivial")
                rps = {name: [r["throughput"] for r in runs[name]] for name in paths}
                p99 = {name: [r["p99_us"] for r in runs[name]] for name in paths}
                out[clients] = {
                    "p50_us": {n: median(v) for n, v in p50.items()},
                    "p99_us": {n: median(v) for n, v in p99.items()},
                    "throughput": {n: median(v) for n, v in rps.items()},
                    "p50_ratio_vs_handwritten": ratios["decision"],
                    "p50_ratio_vs_floor": floor["decision"],
                    "throughput_vs_handwritten": ratio_summary(rps, "handwritten")["decision"],
                }
                print_table(f"HTTP, {clients} client(s), {seconds:g} s per run, {rounds} rounds",
                            ["policy", "p50 us", "p99 us", "requests/s"],
                            [[n, f"{median(p50[n]):.0f} ({spread(p50[n])})",
                              f"{median(p99[n]):.0f}", f"{median(rps[n]):.0f}"] for n in paths])
        logged = work / "logged.yaml"
        logged.write_text("decision_logs:\n  console: true\n")
        with LocalOpa(bundles=bundles, config_file=logged, extra_args=extra_args or []) as opa:
            p50 = interleaved({name: (lambda n=name: load(
                f"{opa.url}/{paths[n]}", bodies, 1, seconds, work)["p50_us"])
                for name in ("decision", "handwritten", "trivial")}, rounds)
            out["logged"] = {"p50_us": {n: median(v) for n, v in p50.items()},
                             "p50_ratio_vs_floor": ratio_summary(p50, "trivial")["decision"],
                             "p50_ratio_vs_handwritten":
                                 ratio_summary(p50, "handwritten")["decision"]}
            print_table("HTTP with console decision logging, 1 client",
                        ["policy", "p50 us"], [[n, f"{median(v):.0f} ({spread(v)})"]
                                               for n, v in p50.items()])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    result = measure(args.rounds, args.seconds)
    print(json.dumps({k: v for k, v in result.items()}, default=str)[:2000])


if __name__ == "__main__":
    main()
