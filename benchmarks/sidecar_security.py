#!/usr/bin/env python3
"""What the sidecar's defences cost a decision: a script that prints measured numbers.

Times `PolicyClient.check` against two real OPAs serving the same bundle, measured in
the same run: a bare `opa run --server` (the baseline), one with token authentication
and the `system.authz` policy on every request, and the sidecar as `policypacks opa run`
starts it (that plus masked console decision logs written to a file). Prints median and
p95 per check and the ratio to the baseline.

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


def timed(clients: list[PolicyClient], count: int) -> list[tuple[float, float]]:
    """Median and p95 (ms) per client, the clients taking turns check by check so a
    busy machine slows them alike."""
    samples: list[list[float]] = [[] for _ in clients]
    for _ in range(count):
        for client, mine in zip(clients, samples, strict=True):
            started = time.perf_counter()
            decision = client.check(ACTION, usage={})
            mine.append((time.perf_counter() - started) * 1000)
            assert decision.incident is None, decision.incident
    out = []
    for mine in samples:
        mine.sort()
        out.append((statistics.median(mine), mine[int(len(mine) * 0.95)]))
    return out


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
        authz_only = LocalOpa(bundles=[*secured.bundles, bundle],
                              extra_args=["--authentication=token", "--authorization=basic"],
                              token=secured.publisher.value)
        guarded = LocalOpa(bundles=[*secured.bundles, bundle], log_level="info",
                           extra_args=secured.settings, token=secured.publisher.value,
                           log_file=tmp / "opa.log")
        with bare, authz_only, guarded:
            setups = [("bare opa run (baseline)", bare, None),
                      ("token authn + system.authz, no decision log", authz_only,
                       secured.agent.value),
                      ("policypacks opa run (+ masked decision log)", guarded,
                       secured.agent.value)]
            clients = [PolicyClient(opa.url, "bench", "bot", store=None, timeout=5,
                                    token=token) for _, opa, token in setups]
            timed(clients, 20)  # warm up
            results = timed(clients, args.checks)
            for client in clients:
                client.close()
    rows = [(label, *result) for (label, _, _), result in zip(setups, results, strict=True)]
    base = rows[0][1]
    print(f"{args.checks} checks each; median and p95 per check, ratio of medians")
    for label, median, p95 in rows:
        print(f"  {label:<48} {median:7.2f} ms  p95 {p95:7.2f} ms  x{median / base:.2f}")


if __name__ == "__main__":
    main()
