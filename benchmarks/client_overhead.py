#!/usr/bin/env python3
"""What the client adds to a decision, and what the reservation adds: prints numbers.

Against a real `opa run --server`, times (p50, p99):
- `check` with the usage passed by a trusting caller (HTTP + OPA only): the baseline;
- `check` with the usage read from the store (SQLite file, then PostgreSQL server);
- `enforce`, which reads the usage, asks OPA and reserves the action's usage in one
  transaction under the agent's lock: the reservation's cost is enforce vs check.
With `--history`, also `check` after 1,000 / 10,000 / 100,000 recorded actions this
month (the running window totals keep it flat).

    .venv/bin/python benchmarks/client_overhead.py [--checks 300] [--history]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from store_backends import PostgresMissing, postgres_cluster  # noqa: E402
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


def timed(call: Callable[[], object], count: int) -> tuple[float, float]:
    for _ in range(min(20, count)):  # warm connections and caches
        call()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def line(label: str, p50: float, p99: float, base: tuple[float, float]) -> None:
    print(f"{label:<44} p50 {p50:7.2f} ms ({p50 / base[0]:4.2f}x)  "
          f"p99 {p99:7.2f} ms ({p99 / base[1]:4.2f}x)", flush=True)


def fill(store_url: str, events: int) -> None:
    """`events` actions of the agent spread over the current month (bulk, one process)."""
    store = open_store(store_url)
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = (now - start).total_seconds() or 1
    kinds = [ACTION, {"type": "send_email"}, {"type": "api_call", "api": "crm"}]
    for i in range(events):
        store.record_usage("bench", "bot", kinds[i % 3], at=start + timedelta(
            seconds=span * i / events))
    store.close()


def measure_store(opa_url: str, name: str, store_url: str, checks: int,
                  base: tuple[float, float]) -> None:
    with PolicyClient(opa_url, identity="bench", agent="bot", store=store_url,
                      timeout=5) as client:
        check = timed(lambda: client.check(ACTION), checks)
        line(f"check, usage from {name}", *check, base)
        enforce = timed(lambda: client.enforce(ACTION), checks)
        line(f"enforce (check + reservation), {name}", *enforce, base)
        print(f"{'  the reservation adds':<44} p50 {enforce[0] - check[0]:+7.2f} ms  "
              f"p99 {enforce[1] - check[1]:+7.2f} ms  (enforce/check p50 "
              f"{enforce[0] / check[0]:.2f}x)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--history", action="store_true",
                        help="also time check() as the month's history grows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_repo(Path(tmp) / "repo", [identity("bench"), pack("caps", "block", RULES),
                                              agent("bot")])
        bundle = Path(tmp) / "bundle.tar.gz"
        write_bundle(compile_path(root, "bench")[1], bundle)
        with LocalOpa(bundles=[bundle]) as opa:
            bare = PolicyClient(opa.url, identity="bench", agent="bot", store=None,
                                trust_caller_usage=True)
            usage = {"spend": {"day": 0}}
            base = timed(lambda: bare.check(ACTION, usage=usage), args.checks)
            line("check, usage passed by the caller (baseline)", *base, base)
            measure_store(opa.url, "SQLite", f"sqlite:///{tmp}/audit.db", args.checks, base)
            try:
                with postgres_cluster() as server:
                    measure_store(opa.url, "PostgreSQL", server.url(server.new_schema()),
                                  args.checks, base)
            except PostgresMissing as exc:
                print(f"PostgreSQL not measured: {exc}")
            if args.history:
                filled = 0
                for events in (1_000, 10_000, 100_000):
                    store_url = f"sqlite:///{tmp}/history.db"
                    fill(store_url, events - filled)
                    filled = events
                    with PolicyClient(opa.url, identity="bench", agent="bot",
                                      store=store_url) as client:
                        result = timed(lambda c=client: c.check(ACTION), args.checks)
                    line(f"check, SQLite with {events:,} events", *result, base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
