#!/usr/bin/env python3
"""`opa bench` of the generated decision against the hand-written support-bot policy, on
the four representative inputs: ns/op and allocations, ABAB-interleaved (one `opa bench`
process per sample, both policies loaded in each), medians of the per-round ratios.

Both policies are measured twice: with the store every OPA of this project runs with
(opa/binary.py: STORE_ARGS, read-optimized: the headline ratio) and with OPA's default
store (what an `opa run` without that flag gives), interleaved in the same rounds.

    .venv/bin/python benchmarks/eval_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from common import ROOT, interleaved, median, print_table, ratio_summary, spread
from handwritten.inputs import REPRESENTATIVE
from handwritten.policy import QUERY, REVISION, write_side_by_side

from policypacks.opa.binary import STORE_ARGS, opa_binary
from policypacks.pipeline import compile_path

# The headline store first: every OPA this project starts runs with it.
STORES: dict[str, tuple[str, ...]] = {"deployed": STORE_ARGS, "default_store": ()}

def bench(tree: Path, query: str, input_path: Path,
          store: tuple[str, ...] = STORE_ARGS) -> dict[str, float]:
    proc = subprocess.run([opa_binary(), "bench", *store, "--format", "json", "--metrics=false",
                           "-d", str(tree), "-i", str(input_path), query],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"opa bench failed: {proc.stderr or proc.stdout}")
    result = json.loads(proc.stdout)
    return {"ns": result["T"] / result["N"], "allocs": result["MemAllocs"] / result["N"]}


def measure(rounds: int) -> dict[str, Any]:
    compiled = compile_path(ROOT / "packs", REVISION)[1]
    queries = {"generated": f"{compiled.query_prefix}.decision", "handwritten": QUERY}
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_side_by_side(compiled, Path(tmp) / "tree")
        rows = []
        for name, document in REPRESENTATIVE.items():
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(document))
            variants = [(policy, store) for store in STORES for policy in queries]
            allocs: dict[tuple[str, str], list[float]] = {v: [] for v in variants}

            def sample(policy: str, store: str, path: Path = path,
                       allocs: dict[tuple[str, str], list[float]] = allocs) -> float:
                result = bench(tree, queries[policy], path, STORES[store])
                allocs[(policy, store)].append(result["allocs"])
                return result["ns"]

            samples = interleaved({f"{policy} {store}": partial(sample, policy, store)
                                   for policy, store in variants}, rounds)
            out[name] = {}
            for store in STORES:
                pair = {policy: samples[f"{policy} {store}"] for policy in queries}
                measured = {
                    "generated_us": median(pair["generated"]) / 1000,
                    "handwritten_us": median(pair["handwritten"]) / 1000,
                    "ratio": ratio_summary(pair, "handwritten")["generated"],
                    "alloc_ratio": median(allocs[("generated", store)])
                    / median(allocs[("handwritten", store)]),
                }
                out[name][store] = measured
                rows.append([name, store, f"{measured['generated_us']:.1f} "
                             f"({spread(pair['generated'])})",
                             f"{measured['handwritten_us']:.1f} ({spread(pair['handwritten'])})",
                             f"{measured['ratio']:.2f}x", f"{measured['alloc_ratio']:.2f}x"])
        print_table("opa bench: generated decision vs hand-written (support-bot)",
                    ["input", "store", "generated us", "hand-written us", "ratio",
                     "allocs ratio"], rows)
    per_input = list(out.values())
    for store, suffix in (("deployed", ""), ("default_store", "_default_store")):
        out[f"eval_ratio_vs_handwritten{suffix}"] = max(v[store]["ratio"] for v in per_input)
        out[f"eval_alloc_ratio_vs_handwritten{suffix}"] = max(v[store]["alloc_ratio"]
                                                              for v in per_input)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    result = measure(parser.parse_args().rounds)
    print(f"\nworst ratio: {result['eval_ratio_vs_handwritten']:.2f}x "
          f"({result['eval_ratio_vs_handwritten_default_store']:.2f}x with OPA's default store)")


if __name__ == "__main__":
    main()
