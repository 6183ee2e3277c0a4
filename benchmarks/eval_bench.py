#!/usr/bin/env python3
"""`opa bench` of the generated decision against the hand-written support-bot policy, on
the four representative inputs: ns/op and allocations, ABAB-interleaved (one `opa bench`
process per sample, both policies loaded in each), medians of the per-round ratios.

    .venv/bin/python benchmarks/eval_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, interleaved, median, print_table, ratio_summary, spread
from handwritten.inputs import REPRESENTATIVE
from handwritten.policy import QUERY, REVISION, write_side_by_side

from policypacks.opa.binary import opa_binary
from policypacks.pipeline import compile_path


def bench(tree: Path, query: str, input_path: Path) -> dict[str, float]:
    proc = subprocess.run([opa_binary(), "bench", "--format", "json", "--metrics=false",
                           "-d", str(tree), "-i", str(input_path), query],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"opa bench failed: {proc.stderr or proc.stdout}")
    result = json.loads(proc.stdout)
    return {"ns": result["T"] / result["N"], "allocs": result["MemAllocs"] / result["N"]}


def measure(rounds: int) -> dict[str, Any]:
    compiled = compile_path(ROOT / "packs", REVISION)[1]
    generated = f"{compiled.query_prefix}.decision"
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tree = write_side_by_side(compiled, Path(tmp) / "tree")
        rows = []
        for name, document in REPRESENTATIVE.items():
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(document))
            allocs: dict[str, list[float]] = {"generated": [], "handwritten": []}

            def sample(query: str, key: str, path: Path = path,
                       allocs: dict[str, list[float]] = allocs) -> float:
                result = bench(tree, query, path)
                allocs[key].append(result["allocs"])
                return result["ns"]

            samples = interleaved({"generated": lambda: sample(generated, "generated"),
                                   "handwritten": lambda: sample(QUERY, "handwritten")}, rounds)
            ratio = ratio_summary(samples, "handwritten")["generated"]
            out[name] = {"generated_us": median(samples["generated"]) / 1000,
                         "handwritten_us": median(samples["handwritten"]) / 1000,
                         "ratio": ratio,
                         "alloc_ratio": median(allocs["generated"]) / median(allocs["handwritten"])}
            rows.append([name, f"{out[name]['generated_us']:.1f} ({spread(samples['generated'])})",
                         f"{out[name]['handwritten_us']:.1f} ({spread(samples['handwritten'])})",
                         f"{ratio:.2f}x", f"{out[name]['alloc_ratio']:.2f}x"])
        print_table("opa bench: generated decision vs hand-written (support-bot)",
                    ["input", "generated us", "hand-written us", "ratio", "allocs ratio"], rows)
    per_input = list(out.values())
    out["eval_ratio_vs_handwritten"] = max(v["ratio"] for v in per_input)
    out["eval_alloc_ratio_vs_handwritten"] = max(v["alloc_ratio"] for v in per_input)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    result = measure(parser.parse_args().rounds)
    print(f"\nworst ratio: {result['eval_ratio_vs_handwritten']:.2f}x")


if __name__ == "__main__":
    main()
