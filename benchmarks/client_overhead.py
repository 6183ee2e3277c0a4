#!/usr/bin/env python3
"""What the client adds to a decision: a script that prints measured numbers.

Times `PolicyClient.check` against a real `opa run --server` three ways: with the usage
passed by the caller (HTTP + OPA only), and with the usage read from the SQLite store
after N recorded actions of the agent this month (N = 1,000 / 10,000 / 100,000), so the
cost of the usage windows shows as the audit trail grows.

    .venv/bin/python benchmarks/client_overhead.py [--checks 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import agent, identity, pack, write_repo  # noqa: E402

from policypacks import PolicyClient  # noqa: E402
from policypacks.bundle import write_bundle  # noqa: E402
from policypacks.deploy.sidecar import LocalOpa  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402
from policypacks.runtime.store import open_store  # noqa: E402

RULES = [
    {"id": "day", "type": "spending_limit", "max": 10**9, "period": "day"},
    {"id": "emails", "type": "rate_limit", "action": "send_email", "max": 10**9, "period": "hour"},
    {"id": "crm", "type": "api_limit", "api": "crm", "max": 10**9, "period": "minute"},
]
ACTION = {"type": "spend", "amount": 5, "currency": "USD"}


def timed(call, count: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def fill(store_url: str, events: int) -> None:
    """`events` actions of the agent spread over the current month (bulk, one process)."""
    store = open_store(store_url)
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = (now - start).total_seconds() or 1
    kinds = [ACTION, {"type": "send_email"}, {"type": "api_call", "api": "crm"}]
    for i in range(events):
        at = start + timedelta(seconds=span * i / events)
        store.record_usage("bench", "bot", kinds[i % 3], at=at)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_repo(Path(tmp) / "repo", [identity("bench"), pack("caps", "block", RULES),
                                              agent("bot")])
        bundle = Path(tmp) / "bundle.tar.gz"
        write_bundle(compile_path(root, "bench")[1], bundle)
        with LocalOpa(bundles=[bundle]) as opa:
            bare = PolicyClient(opa.url, identity="bench", agent="bot", store=None)
            usage = {"spend": {"day": 0}}
            p50, p95 = timed(lambda: bare.check(ACTION, usage=usage), args.checks)
            print(f"{'usage passed by the caller':<36} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
            filled = 0
            for events in (1_000, 10_000, 100_000):
                store_url = f"sqlite:///{tmp}/audit.db"
                fill(store_url, events - filled)
                filled = events
                client = PolicyClient(opa.url, identity="bench", agent="bot", store=store_url)
                p50, p95 = timed(lambda c=client: c.check(ACTION), args.checks)
                print(f"{f'usage from the store, {events:,} events':<36} p50 {p50:6.2f} ms  "
                      f"p95 {p95:6.2f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
