#!/usr/bin/env python3
"""What the input contract (SPEC section 4) adds to a decision: measured numbers.

Everything is measured in one run against a baseline built from the same repository
(the example repository, packs/) with no contract check (no rule body makes an input
malformed), and the rest of the decision is identical:

1. `opa bench` (OPA's own evaluator, no HTTP) of the decision with and without the
   contract, of the contract alone, and of the road not taken: OPA's
   `json.match_schema` against the same shape as a JSON Schema
   (`policypacks.input_contract.json_schema`, held as a Rego literal as the tables
   are), for a few typical inputs and a malformed one;
2. HTTP: two `opa run --server`, one per bundle, asked in alternation over keep-alive
   connections (`POST /v1/data/policypacks/acme/decision`), p50 and p99 of each.

    .venv/bin/python benchmarks/input_contract.py [--requests 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policypacks.bundle import write_bundle, write_tree  # noqa: E402
from policypacks.compile import CompiledPolicy  # noqa: E402
from policypacks.deploy.sidecar import LocalOpa  # noqa: E402
from policypacks.input_contract import json_schema  # noqa: E402
from policypacks.opa.binary import run  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402
from policypacks.render import render  # noqa: E402

CONTRACT_MODULE = "lib/input_contract/input_contract.rego"
EMPTY = {"fast": [{"path": "no check: every input is valid", "body": ["false"]}]}

INPUTS: dict[str, dict[str, Any]] = {
    "email": {"agent": "sales-bot", "action": {
        "type": "send_email", "recipient": {"address": "bob@client.example"},
        "content": {"subject": "Your quote", "text": "Hello Bob, the quote is attached.\n"
                    "-- The Acme Team", "topics": ["sales"]},
        "attachments": [{"name": "quote.pdf", "size_bytes": 20480,
                         "content_type": "application/pdf"}]},
        "usage": {"actions": {"send_email": {"minute": 1, "hour": 4, "day": 20}}}},
    "spend": {"agent": "sales-bot", "action": {"type": "spend", "amount": 20,
                                               "currency": "USD"},
              "usage": {"spend": {"hour": 5, "day": 40, "month": 300}}},
    "export": {"agent": "data-bot", "action": {
        "type": "export_data", "data": {"classes": ["pii"], "records": 100,
                                        "destination": "s3://acme-exports/x",
                                        "region": "eu", "purpose": "support"}}},
    "malformed": {"agent": "sales-bot", "action": {"type": "spend", "amount": "600",
                                                   "currency": "USD "},
                  "usage": {"spend": {"day": "0"}}},
}


def without_contract(compiled: CompiledPolicy) -> CompiledPolicy:
    """The same policy with no contract check: the baseline."""
    modules = dict(compiled.modules)
    modules[f"{compiled.root}/{CONTRACT_MODULE}"] = render(
        "core/input_contract.rego.j2", compiled.identity, contract=EMPTY)
    return CompiledPolicy(compiled.identity, compiled.root, modules, compiled.config)


def opa_bench(tree: Path, query: str, document: Any, runs: int,
              extra: list[str]) -> tuple[float, float]:
    """(median, minimum) evaluation time of `query` in microseconds, each the median over
    `runs` runs. On a busy machine the minimum is the steadier estimate of the work."""
    input_file = tree.parent / "input.json"
    input_file.write_text(json.dumps(document))
    medians, minima = [], []
    for _ in range(runs):
        proc = run(["bench", "--bundle", str(tree), *extra, "--input", str(input_file),
                    "--format", "json", "--count", "1", query], timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"opa bench failed: {proc.stderr or proc.stdout}")
        histogram = json.loads(proc.stdout)["Extra"]
        medians.append(histogram["histogram_timer_rego_query_eval_ns_median"] / 1000)
        minima.append(histogram["histogram_timer_rego_query_eval_ns_min"] / 1000)
    return statistics.median(medians), statistics.median(minima)


def bench_table(with_tree: Path, without_tree: Path, schema_module: Path, runs: int) -> None:
    decision = "data.policypacks.acme.decision"
    # What a decision pays: the verdict, and the messages only for a malformed input.
    contract = "[v | v := data.policypacks.acme.lib.input_contract.violation]"
    schema = "json.match_schema(input, data.bench_schema.schema)"
    print(f"opa bench, µs per evaluation as median / minimum (each the median of {runs} runs)")
    print(f"{'input':>10} {'decision':>12} {'baseline':>12} {'added':>11} {'ratio':>11} "
          f"{'contract':>11} {'schema':>11} {'schema/contract':>16}")
    for name, document in INPUTS.items():
        full = opa_bench(with_tree, decision, document, runs, [])
        base = opa_bench(without_tree, decision, document, runs, [])
        alone = opa_bench(with_tree, contract, document, runs, [])
        other = opa_bench(with_tree, schema, document, runs, ["--data", str(schema_module)])

        def pair(values: tuple[float, float], fmt: str = ".0f") -> str:
            return f"{values[0]:{fmt}}/{values[1]:{fmt}}"

        added = (full[0] - base[0], full[1] - base[1])
        ratio = (full[0] / base[0], full[1] / base[1])
        vs = (other[0] / alone[0], other[1] / alone[1])
        print(f"{name:>10} {pair(full):>12} {pair(base):>12} {pair(added):>11} "
              f"{pair(ratio, '.2f'):>11} {pair(alone):>11} {pair(other):>11} "
              f"{pair(vs, '.2f'):>16}", flush=True)
    print("(malformed: the baseline runs every rule, the contract stops before them)")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def http_table(with_bundle: Path, without_bundle: Path, count: int) -> None:
    names = list(INPUTS)
    timings: dict[str, list[float]] = {"contract": [], "baseline": []}
    with LocalOpa(bundles=[with_bundle]) as checked, LocalOpa(bundles=[without_bundle]) as bare, \
            requests.Session() as http:
        servers = {"contract": checked.url, "baseline": bare.url}
        for i in range(count + 200):
            document = INPUTS[names[i % len(names)]]
            for label in (("contract", "baseline") if i % 2 else ("baseline", "contract")):
                url = f"{servers[label]}/v1/data/policypacks/acme/decision"
                started = time.perf_counter()
                answer = http.post(url, json={"input": document}, timeout=10)
                elapsed = (time.perf_counter() - started) * 1000
                answer.raise_for_status()
                if i >= 200:  # the first 200 rounds warm both servers up
                    timings[label].append(elapsed)
    print(f"\nHTTP decision, {count} requests each, alternating servers (ms)")
    print(f"{'':>10} {'p50':>7} {'p99':>7}")
    for label, samples in timings.items():
        print(f"{label:>10} {statistics.median(samples):>7.3f} {percentile(samples, 0.99):>7.3f}")
    p50 = statistics.median(timings["contract"]) / statistics.median(timings["baseline"])
    p99 = percentile(timings["contract"], 0.99) / percentile(timings["baseline"], 0.99)
    print(f"{'ratio':>10} {p50:>7.2f} {p99:>7.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="HTTP requests per server")
    parser.add_argument("--runs", type=int, default=3, help="opa bench runs per number")
    args = parser.parse_args()
    compiled = compile_path(ROOT / "packs", "bench")[1]
    baseline = without_contract(compiled)
    with tempfile.TemporaryDirectory(prefix="policypacks-bench-") as tmp:
        work = Path(tmp)
        with_tree, without_tree = work / "with" / "tree", work / "without" / "tree"
        write_tree(compiled, with_tree)
        write_tree(baseline, without_tree)
        schema_module = work / "schema.rego"
        schema_module.write_text("package bench_schema\n\nschema := "
                                 + json.dumps(json_schema()) + "\n")
        bench_table(with_tree, without_tree, schema_module, args.runs)
        with_bundle, without_bundle = work / "with.tar.gz", work / "without.tar.gz"
        write_bundle(compiled, with_bundle)
        write_bundle(baseline, without_bundle)
        http_table(with_bundle, without_bundle, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
