#!/usr/bin/env python3
"""What the sidecar's defences cost a decision: a script that prints measured numbers.

Times `PolicyClient.check` against two real OPAs serving the same bundle, measured in
the same run: a bare `opa run --server` (the baseline) and the sidecar as `policypacks
opa run` starts it (token authentication, the `system.authz` policy on every request,
masked console decision logs written to a file). Prints median and p95 per check and
the ratio to the baseline.

    .venv/bin/python benchmarks/sidecar_security.py [--checks 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import agent, identity, pack, write_repo  # noqa: E402

from policypacks import PolicyClient  # noqa: E402
from policypacks.bundle import write_bundle  # noqa: E402
from policypacks.cli.deploy import secure  # noqa: E402
from policypacks.deploy.sidecar import LocalOpa  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402

RULES = [
    {"id": "day", "type": "spending_limit", "max": 10**9, "period": "day"},
    {"id": "pii", "type": "pii", "detect": ["email", "ssn"]},
]
ACTION = {"type": "send_email", "content": {"text": "Hello, see you at 10. -- Acme"},
          "recipient": {"address": "bob@example.com", "domain": "example.com"}}


def timed(client: PolicyClient, count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        decision = client.check(ACTION, usage={})
        samples.append((time.perf_counter() - started) * 1000)
        assert decision.incident is None, decision.incident
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checks", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        docs = [identity("bench"), pack("guard", "warn", RULES), agent("bot")]
        bundle = tmp / "bundle.tar.gz"
        write_bundle(compile_path(write_repo(tmp / "repo", docs), "bench-1")[1], bundle)
        secured = secure(("bench",), (bundle,), tmp / "state", None)
        bare = LocalOpa(bundles=[bundle])
        guarded = LocalOpa(bundles=[*secured.bundles, bundle], log_level="info",
                           extra_args=secured.settings, token=secured.publisher.value,
                           log_file=tmp / "opa.log")
        with bare, guarded:
            rows = []
            for label, opa, token in (("bare opa run (baseline)", bare, None),
                                      ("policypacks opa run (authn, authz, masked log)",
                                       guarded, secured.agent.value)):
                with PolicyClient(opa.url, "bench", "bot", store=None, timeout=5,
                                  token=token) as client:
                    timed(client, 20)  # warm up
                    rows.append((label, *timed(client, args.checks)))
    base = rows[0][1]
    print(f"{args.checks} checks each; median and p95 per check, ratio of medians")
    for label, median, p95 in rows:
        print(f"  {label:<48} {median:7.2f} ms  p95 {p95:7.2f} ms  x{median / base:.2f}")


if __name__ == "__main__":
    main()
