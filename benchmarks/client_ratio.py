#!/usr/bin/env python3
"""What PolicyClient.check adds over a raw HTTP post of the same input to the same OPA
(usage passed by the caller, no store), ABAB-interleaved per batch of checks.

    .venv/bin/python benchmarks/client_ratio.py [--rounds 5] [--checks 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from common import ROOT, interleaved, median, print_table, ratio_summary, spread
from handwritten.inputs import AGENT, REPRESENTATIVE

from policypacks import PolicyClient
from policypacks.bundle import write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.pipeline import compile_path


def measure(rounds: int, checks: int) -> dict[str, Any]:
    document = REPRESENTATIVE["signed_allowed_email"]  # allowed: the client logs no approval
    with tempfile.TemporaryDirectory() as tmp:
        compiled = compile_path(ROOT / "packs", "bench")[1]
        bundle = Path(tmp) / "bundle.tar.gz"
        write_bundle(compiled, bundle)
        with LocalOpa(bundles=[bundle]) as opa, requests.Session() as http:
            url = f"{opa.url}/v1/data/{compiled.root}/decision"
            client = PolicyClient(opa.url, identity=compiled.identity, agent=AGENT, store=None,
                                  trust_caller_usage=True)  # usage passed, as the raw post

            def raw() -> float:
                started = time.perf_counter()
                for _ in range(checks):
                    http.post(url, json={"input": document}, timeout=5).raise_for_status()
                return (time.perf_counter() - started) / checks * 1e6

            def through_client() -> float:
                started = time.perf_counter()
                for _ in range(checks):
                    client.check(document["action"], usage=document["usage"])
                return (time.perf_counter() - started) / checks * 1e6

            raw(), through_client()  # warm up
            samples = interleaved({"raw post": raw, "PolicyClient.check": through_client},
                                  rounds)
    ratio = ratio_summary(samples, "raw post")["PolicyClient.check"]
    print_table("Client overhead (mean per check, median over rounds)",
                ["call", "us per check"],
                [[n, f"{median(v):.0f} ({spread(v)})"] for n, v in samples.items()])
    return {"client_overhead_ratio": ratio,
            "client_us": median(samples["PolicyClient.check"]),
            "raw_post_us": median(samples["raw post"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--checks", type=int, default=200)
    args = parser.parse_args()
    print(f"\nratio: {measure(args.rounds, args.checks)['client_overhead_ratio']:.2f}x")


if __name__ == "__main__":
    main()
