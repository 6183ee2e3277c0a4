"""kill -9 while recording: a child process records decisions and usage and prints the
id of each one the store acknowledged; the parent SIGKILLs it mid-way. Every
acknowledged decision is then present, with its violations and its usage event, and the
store is consistent (SQLite: ``PRAGMA integrity_check`` is ok), on both backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from policypacks.runtime.store import Store, store_path

CHILD = """
import sys
from policypacks.runtime.store import Store
store = Store(sys.argv[1])
decision = {"decision": "block", "allow": False, "revision": "r",
            "violations": [{"pack": "caps", "rule": "daily", "enforcement": "block",
                            "message": "over"}]}
for index in range(100000):
    event = store.record_usage("acme", "bot", {"type": "spend", "amount": 1})
    row = store.record_decision("acme", "bot", {"type": "spend", "n": index}, decision,
                                f"d-{index}")
    print(row, event, flush=True)
"""


def test_kill_9_during_recording_loses_no_acknowledged_decision(store_url: str) -> None:
    Store(store_url).connect().close()
    child = subprocess.Popen([sys.executable, "-c", CHILD, store_url], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert child.stdout is not None
    acknowledged: list[tuple[int, int]] = []
    deadline = time.monotonic() + 120
    while len(acknowledged) < 150 and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        row, event = line.split()
        acknowledged.append((int(row), int(event)))
    os.kill(child.pid, signal.SIGKILL)  # mid-transaction, most likely
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert len(acknowledged) >= 150, "the child recorded too little before the kill"

    store = Store(store_url)
    if store_url.startswith("sqlite:"):
        assert store._read("PRAGMA integrity_check")[0][0] == "ok"
        assert store_path(store_url).is_file()
    for row, _event in acknowledged:
        found = store.decision(row)
        assert found is not None and found["decision"] == "block", row
    events = {r[0] for r in store._read("SELECT id FROM usage_events")}
    assert {event for _, event in acknowledged} <= events
    # Consistent: every violation belongs to a decision, every decision has its violation,
    # and the window totals equal the events (no half-written transaction).
    [(orphans,)] = store._read("SELECT COUNT(*) FROM violations v LEFT JOIN decisions d"
                               " ON d.id = v.decision_row WHERE d.id IS NULL")
    [(bare,)] = store._read("SELECT COUNT(*) FROM decisions d WHERE NOT EXISTS"
                            " (SELECT 1 FROM violations v WHERE v.decision_row = d.id)")
    assert (orphans, bare) == (0, 0)
    assert store.usage("acme", "bot")["actions"]["spend"]["day"] == len(events)
    store.record_usage("acme", "bot", {"type": "spend", "amount": 1})  # still writable
    store.close()

