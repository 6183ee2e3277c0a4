#!/usr/bin/env python3
"""Decisions per second one store sustains with 8 concurrent agent processes: prints numbers.

Each of 8 processes runs its own `PolicyClient` against one real `opa run --server` and
calls `enforce` (usage read + OPA + reservation, under the agent's lock) for
`--seconds`, on one SQLite file and on one PostgreSQL server, twice: 8 different agents
(PostgreSQL locks per agent, SQLite has one write lock per file) and 8 replicas of one
agent (they take turns on both). The baseline is the same 8 processes calling OPA
without a store (usage passed by a trusting caller).

    .venv/bin/python benchmarks/store_throughput.py [--seconds 5] [--agents 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from store_backends import PostgresMissing, postgres_cluster  # noqa: E402
from support import agent, identity, pack, write_repo  # noqa: E402

from policypacks.bundle import write_bundle  # noqa: E402
from policypacks.deploy.sidecar import LocalOpa  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402
from policypacks.runtime.store import Store  # noqa: E402

RULES = [{"id": "day", "type": "spending_limit", "max": 10**12, "period": "day"},
         {"id": "ticks", "type": "rate_limit", "action": "spend", "max": 10**9, "period": "day"}]
ACTION = {"type": "spend", "amount": 1}


def worker(opa_url: str, store_url: str | None, agent_id: str, seconds: float,
           start: Any, results: Any) -> None:
    import logging
    logging.disable(logging.WARNING)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from policypacks import PolicyClient
    with PolicyClient(opa_url, "bench", agent_id, store=store_url, timeout=10,
                      trust_caller_usage=store_url is None) as client:
        call = (lambda: client.check(ACTION, usage={})) if store_url is None \
            else (lambda: client.enforce(ACTION))
        call()  # connect (and migrate) before the clock starts
        start.wait()
        done, stop = 0, time.monotonic() + seconds
        while time.monotonic() < stop:
            call()
            done += 1
    results.put(done)


def run(opa_url: str, store_url: str | None, agents: list[str], seconds: float) -> float:
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=worker, args=(opa_url, store_url, a, seconds, start,
                                                      results)) for a in agents]
    for process in processes:
        process.start()
    time.sleep(3.0)  # let every process import, connect and wait at the start line
    start.set()
    total = sum(results.get(timeout=seconds + 120) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    return total / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--agents", type=int, default=8)
    args = parser.parse_args()
    distinct = [f"bot-{i}" for i in range(args.agents)]
    replicas = ["bot-0"] * args.agents
    with tempfile.TemporaryDirectory() as tmp:
        root = write_repo(Path(tmp) / "repo", [identity("bench"), pack("caps", "block", RULES),
                                              *[agent(a) for a in distinct]])
        bundle = Path(tmp) / "bundle.tar.gz"
        write_bundle(compile_path(root, "bench")[1], bundle)
        with LocalOpa(bundles=[bundle]) as opa:
            base = run(opa.url, None, distinct, args.seconds)
            print(f"{args.agents} processes, OPA only (no store, baseline) "
                  f"{base:8.0f} decisions/s", flush=True)
            stores: list[tuple[str, Any]] = [("SQLite", None)]
            try:
                pg = postgres_cluster()
                stores.append(("PostgreSQL", pg))
            except PostgresMissing as exc:  # pragma: no cover - printed, not hidden
                print(f"PostgreSQL not measured: {exc}")
            for name, cluster in stores:
                try:
                    server = cluster.__enter__() if cluster is not None else None
                except PostgresMissing as exc:
                    print(f"PostgreSQL not measured: {exc}")
                    continue
                try:
                    for label, agents in (("different agents", distinct),
                                          ("replicas of one agent", replicas)):
                        url = (f"sqlite:///{tmp}/{label.replace(' ', '-')}.db"
                               if server is None else server.url(server.new_schema()))
                        Store(url).connect().close()
                        rate = run(opa.url, url, agents, args.seconds)
                        print(f"{args.agents} processes, enforce on {name}, {label:<22}"
                              f"{rate:8.0f} decisions/s ({rate / base:.2f}x the baseline)",
                              flush=True)
                finally:
                    if cluster is not None:
                        cluster.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
