"""Caps hold exactly under concurrency: 8 processes, each with its own client and its own
connection to one store, hammer a cap of 100 through a real OPA, on SQLite and on
PostgreSQL. Exactly 100 are admitted; with reservations given back along the way the
cap is still reached exactly (nothing over, nothing permanently lost)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import pytest
from live_support import serving
from support import agent, identity, pack

from policypacks.deploy.sidecar import LocalOpa
from policypacks.runtime.store import Store

CAP, WORKERS = 100, 8
DOCS = [identity("acme"),
        pack("caps", "block", category="operational", rules=[
            {"id": "ticks", "type": "rate_limit", "action": "tick", "max": CAP, "period": "day"},
            {"id": "spend", "type": "spending_limit", "max": 100, "period": "day"},
        ]),
        agent("bot")]


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    with serving(tmp_path_factory.mktemp("opa"), DOCS, "rev-c") as server:
        yield server


def hammer(opa_url: str, store_url: str, action: dict[str, Any], release_every: int,
           start: Any, results: Any) -> None:
    """Enforce until the cap refuses this worker; give back every n-th admission."""
    from policypacks import PolicyBlocked, PolicyClient
    admitted = released = 0
    with PolicyClient(opa_url, "acme", "bot", store=store_url, timeout=30) as client:
        start.wait()
        for _ in range(10 * CAP):
            try:
                decision = client.enforce(action)
            except PolicyBlocked as refused:
                if refused.decision.violations[0]["pack"] == "caps":
                    break  # the cap is full
                continue  # a store or engine hiccup: try again
            admitted += 1
            if release_every and (admitted - 1) % release_every == 0:  # the 1st, 4th, ...
                assert client.release(decision)
                released += 1
    results.put((admitted, released))


@pytest.mark.parametrize(("action", "limit", "release_every"), [
    ({"type": "tick"}, CAP, 0),                    # a count cap: 100 actions
    ({"type": "spend", "amount": 10}, 10, 3),      # $10 actions against $100 a day, and
])                                                 # every third admission given back
def test_concurrent_agents_never_pass_a_cap_and_reach_it_exactly(
        opa: LocalOpa, store_url: str, action: dict[str, Any], limit: int,
        release_every: int) -> None:
    Store(store_url).connect().close()  # create (and migrate) the store before the race
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=hammer, args=(opa.url, store_url, action,
                                                    release_every, start, results))
               for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0] * WORKERS
    kept = sum(a - r for a, r in outcomes)
    assert kept == limit, outcomes
    if release_every:
        assert sum(r for _, r in outcomes) > 0
    store = Store(store_url)
    usage = store.usage("acme", "bot")
    assert usage["actions"][action["type"]]["day"] == limit
    if action["type"] == "spend":
        assert usage["spend"]["day"] == 100
    store.close()
