#!/usr/bin/env python3
"""The whole benchmark suite in one run; ends with one JSON line of the headline ratios.

Everything is measured on this machine in this run, ABAB-interleaved against its
baseline (the hand-written support-bot policy, a trivial policy on the same server, the
smallest repository, libyaml, a raw HTTP post); see docs/benchmarks.md for the method.

    .venv/bin/python benchmarks/run.py [--quick] [--plot docs/benchmarks.png]

--quick: fewer rounds, shorter runs and only the scaling corners the ratios need (the
10,000 agents x 1,000 packs build is always there: its time is a headline number).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import client_ratio
import eval_bench
import http_bench
import regex_count
import scaling
from common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--plot", type=Path, help="write the scaling plot (PNG) here")
    parser.add_argument("--save", type=Path, help="write every measured number (JSON) here")
    args = parser.parse_args()
    quick = args.quick
    started = time.perf_counter()
    results: dict[str, Any] = {}
    results["regex"] = regex_count.measure()
    results["eval"] = eval_bench.measure(rounds=2 if quick else 5)
    results["http"] = http_bench.measure(rounds=2 if quick else 5, seconds=1 if quick else 3)
    results["client"] = client_ratio.measure(rounds=3 if quick else 7, checks=50 if quick else 200)
    results["scaling"] = scaling.measure(quick)
    if args.plot:
        from plot import plot_scaling
        plot_scaling(results["scaling"]["cells"], args.plot)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1, default=str) + "\n")
    http1, http8 = results["http"][1], results["http"][8]
    headline = {
        "eval_ratio_vs_handwritten": results["eval"]["eval_ratio_vs_handwritten"],
        "eval_alloc_ratio_vs_handwritten": results["eval"]["eval_alloc_ratio_vs_handwritten"],
        "eval_ratio_vs_handwritten_default_store":
            results["eval"]["eval_ratio_vs_handwritten_default_store"],
        "http_p50_ratio_vs_handwritten": http1["p50_ratio_vs_handwritten"],
        "http_p50_ratio_vs_floor": http1["p50_ratio_vs_floor"],
        "http8_p50_ratio_vs_handwritten": http8["p50_ratio_vs_handwritten"],
        "http8_throughput_vs_handwritten": http8["throughput_vs_handwritten"],
        "http_logged_p50_ratio_vs_floor": results["http"]["logged"]["p50_ratio_vs_floor"],
        "agents_scaling_ratio": results["scaling"]["agents_scaling_ratio"],
        "packs_scaling_ratio": results["scaling"]["packs_scaling_ratio"],
        "build_s_10000x1000": results["scaling"]["build_s_10000x1000"],
        "opa_rss_mb_10000x1000": results["scaling"]["rss_mb_10000x1000"],
        "loader_ratio_vs_libyaml": results["scaling"]["loader_ratio_vs_libyaml"],
        "client_overhead_ratio": results["client"]["client_overhead_ratio"],
        "distinct_regex_count": results["regex"]["distinct_regex_count"],
        "suite_s": time.perf_counter() - started,
    }
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                      for k, v in headline.items()}))


if __name__ == "__main__":
    _ = ROOT
    main()
