"""A store with a known history for the report (its test and the docs screenshot), and
a headless Chromium to render the page as a person's browser would."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from policypacks.runtime.store import open_store

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
HOSTILE_AGENT = '<b id="pwned">x</b>'
VIOLATION = {
    "ops-caps/daily-spend": ("operational", "require_approval"),
    "brand/tone": ("brand", "warn"),
    "safety/legal": ("safety", "block"),
    "data/export": ("data_governance", "block"),
}
# day offset, agent, violated rules (one decision each row)
HISTORY: list[tuple[int, str, list[str]]] = [
    (0, "sales-bot", ["ops-caps/daily-spend"]),
    (0, "sales-bot", ["ops-caps/daily-spend"]),
    (0, "sales-bot", ["ops-caps/daily-spend"]),
    (0, "support-bot", ["brand/tone"]),
    (2, "sales-bot", ["ops-caps/daily-spend"]),
    (2, "sales-bot", ["ops-caps/daily-spend"]),
    (2, "support-bot", ["brand/tone"]),
    (2, "support-bot", ["brand/tone"]),
    (2, HOSTILE_AGENT, ["safety/legal"]),
    (3, "data-bot", ["data/export"]),
    (4, "support-bot", ["safety/legal", "brand/tone"]),
    (4, "sales-bot", ["ops-caps/daily-spend"]),
]
# day offset, agent, decision, shadow-mode rules reported (one decision each row)
SHADOW_HISTORY: list[tuple[int, str, str, list[str]]] = [
    (1, "sales-bot", "allow", ["claims/brag"]),
    (1, "sales-bot", "allow", ["claims/brag", "claims/price"]),
    (3, "marketing-bot", "block", ["claims/brag"]),
    (4, "marketing-bot", "warn", ["claims/price"]),
]
# day offset, agent, waiver id, waived rules
WAIVED_HISTORY: list[tuple[int, str, str, list[str]]] = [
    (1, "sales-bot", "gbp-refunds", ["compliance/refund-currency"]),
    (2, "sales-bot", "gbp-refunds", ["compliance/refund-currency"]),
    (3, "data-bot", "migration", ["data/export"]),
]
# minutes until a person answered (None: nobody did), status it ends in
APPROVALS: list[tuple[int | None, str]] = [(5, "approved"), (120, "denied"), (30, "approved"),
                                           (None, "expired"), (None, "pending")]


def decision_for(rules: list[str]) -> dict[str, Any]:
    violations = []
    for ref in rules:
        pack, rule = ref.split("/")
        category, enforcement = VIOLATION[ref]
        violations.append({"pack": pack, "rule": rule, "type": "x", "category": category,
                           "enforcement": enforcement, "level": "identity",
                           "message": f"{ref} <script>alert(1)</script>"})
    order = ["warn", "require_approval", "block"]
    worst = max((v["enforcement"] for v in violations), key=order.index)
    return {"decision": worst, "violations": violations, "revision": "r1",
            "approval": {"approvers": ["ops"], "timeout_seconds": 86400, "fallback": "block",
                         "route": "identity"} if worst == "require_approval" else None}


def _entry(ref: str, enforcement: str) -> dict[str, Any]:
    pack, rule = ref.split("/")
    return {"pack": pack, "rule": rule, "type": "x", "category": "compliance",
            "enforcement": enforcement, "level": "identity", "message": ref}


def build_store(path: Path) -> str:
    """The store of HISTORY and APPROVALS; returns its URL."""
    url = f"sqlite:///{path}"
    now = [START]
    clock: Callable[[], datetime] = lambda: now[0]  # noqa: E731
    with open_store(url, clock=clock) as store:
        for day, agent, rules in HISTORY:
            store.record_decision("acme", agent, {"type": "spend", "amount": 1},
                                  decision_for(rules), at=START + timedelta(days=day))
        for day, agent, outcome, rules in SHADOW_HISTORY:
            store.record_decision("acme", agent, {"type": "send_message"}, {
                "decision": outcome, "violations": [], "revision": "r1",
                "shadow": [_entry(ref, "shadow") for ref in rules]},
                at=START + timedelta(days=day, hours=1))
        for day, agent, waiver, rules in WAIVED_HISTORY:
            store.record_decision("acme", agent, {"type": "refund"}, {
                "decision": "allow", "violations": [], "revision": "r1",
                "waived": [{**_entry(ref, "warn"), "waiver": {"id": waiver}} for ref in rules]},
                at=START + timedelta(days=day, hours=2))
        for index, (minutes, status) in enumerate(APPROVALS):
            now[0] = START + timedelta(hours=index)
            decision = decision_for(["ops-caps/daily-spend"])
            if status == "pending":
                decision["approval"]["timeout_seconds"] = 10 * 365 * 86400
            request = store.create_approval("acme", "sales-bot", {"type": "spend"}, decision)
            if minutes is not None:
                now[0] += timedelta(minutes=minutes)
                store.resolve_approval(request["id"], status, by="ops")
    return url


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser(page: Path, work: Path, *mode: str, size: str = "1280,2400") -> str:
    """Run headless Chromium on a file page (``--dump-dom`` or ``--screenshot=...``)."""
    binary = chromium()
    assert binary, "no chromium"
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            "--hide-scrollbars", f"--user-data-dir={work / 'profile'}",
            f"--window-size={size}", "--virtual-time-budget=3000", *mode, page.as_uri()]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=work,
                          env={**os.environ, "HOME": str(work)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout
