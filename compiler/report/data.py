"""What the report shows, read from the store in one place (:func:`collect`), so a new
kind of record is one more query here and one more section in the page."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..runtime.store import Store
from ..runtime.store.db import parse_stamp

TOP_RULES = 10
# Approval latency buckets: upper bound in seconds -> label.
LATENCY_BUCKETS = [(60, "< 1 min"), (600, "1-10 min"), (3600, "10-60 min"),
                   (4 * 3600, "1-4 h"), (24 * 3600, "4-24 h"), (float("inf"), "> 24 h")]


@dataclass
class ReportData:
    generated_at: datetime
    since: datetime | None
    identity: str | None
    days: list[str] = field(default_factory=list)
    decisions: int = 0
    violations: int = 0
    by_enforcement: dict[str, int] = field(default_factory=dict)
    per_pack: dict[str, dict[str, int]] = field(default_factory=dict)  # pack -> day -> n
    per_agent: dict[str, dict[str, int]] = field(default_factory=dict)  # agent -> day -> n
    noisiest: list[dict[str, Any]] = field(default_factory=list)
    approvals: dict[str, int] = field(default_factory=dict)  # status -> n
    latency: dict[str, Any] = field(default_factory=dict)
    shadow: list[dict[str, Any]] = field(default_factory=list)
    waivers: list[dict[str, Any]] = field(default_factory=list)


def _day(stamp: str) -> str:
    return stamp[:10]


def _day_range(first: str, last: str) -> list[str]:
    start = datetime.fromisoformat(first)
    end = datetime.fromisoformat(last)
    return [(start + timedelta(days=i)).date().isoformat()
            for i in range((end - start).days + 1)]


def collect(store: Store, identity: str | None = None, since: datetime | None = None,
            now: datetime | None = None) -> ReportData:
    """Everything the page shows, from the store's audit trail and approvals."""
    data = ReportData(generated_at=now or store.now(), since=since, identity=identity)
    rows = store.violations(identity=identity, since=since)
    data.violations = len(rows)
    data.decisions = sum(1 for d in store.decisions(identity=identity)
                         if since is None or parse_stamp(d["at"]) >= since)
    data.by_enforcement = dict(Counter(str(r["enforcement"]) for r in rows))
    per_pack: dict[str, Counter[str]] = defaultdict(Counter)
    per_agent: dict[str, Counter[str]] = defaultdict(Counter)
    rules: dict[str, dict[str, Any]] = {}
    for row in rows:
        day = _day(row["at"])
        per_pack[str(row["pack"])][day] += 1
        per_agent[str(row["agent"])][day] += 1
        ref = f"{row['pack']}/{row['rule']}"
        rule = rules.setdefault(ref, {"rule": ref, "count": 0, "agents": set(),
                                      "enforcement": set(), "last": row["at"]})
        rule["count"] += 1
        rule["agents"].add(str(row["agent"]))
        rule["enforcement"].add(str(row["enforcement"]))
        rule["last"] = max(rule["last"], row["at"])
    days = sorted({_day(r["at"]) for r in rows})
    data.days = _day_range(days[0], days[-1]) if days else []
    data.per_pack = {k: dict(v) for k, v in sorted(per_pack.items())}
    data.per_agent = {k: dict(v) for k, v in sorted(per_agent.items())}
    ranked = sorted(rules.values(), key=lambda r: (-r["count"], r["rule"]))[:TOP_RULES]
    data.noisiest = [{**r, "agents": sorted(r["agents"]),
                      "enforcement": sorted(r["enforcement"])} for r in ranked]
    _approvals(store, data, identity, since)
    data.shadow = _shadow(store.violations(identity=identity, since=since, kind="shadow"))
    data.waivers = _waivers(store.violations(identity=identity, since=since, kind="waived"))
    return data


def _shadow(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per shadow-mode rule: its reports, and how many were on actions that went ahead
    (allow or warn), which promoting it would have stopped."""
    rules: dict[str, dict[str, Any]] = {}
    for row in rows:
        ref = f"{row['pack']}/{row['rule']}"
        rule = rules.setdefault(ref, {"rule": ref, "count": 0, "would_stop": 0,
                                      "agents": set(), "last": row["at"]})
        rule["count"] += 1
        rule["would_stop"] += row["decision"] in ("allow", "warn")
        rule["agents"].add(str(row["agent"]))
        rule["last"] = max(rule["last"], row["at"])
    ranked = sorted(rules.values(), key=lambda r: (-r["would_stop"], -r["count"], r["rule"]))
    return [{**r, "agents": sorted(r["agents"])} for r in ranked]


def _waivers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per waiver, agent and rule: how often it lifted a violation, and when last."""
    used: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (str(row["waiver"]), str(row["agent"]), f"{row['pack']}/{row['rule']}")
        entry = used.setdefault(key, {"waiver": key[0], "agent": key[1], "rule": key[2],
                                      "count": 0, "last": row["at"]})
        entry["count"] += 1
        entry["last"] = max(entry["last"], row["at"])
    return sorted(used.values(), key=lambda e: (-e["count"], e["waiver"], e["agent"]))


def _approvals(store: Store, data: ReportData, identity: str | None,
               since: datetime | None) -> None:
    requests = [a for a in store.list_approvals(identity=identity)
                if since is None or parse_stamp(a["created_at"]) >= since]
    data.approvals = dict(Counter(a["status"] for a in requests))
    waits = [(parse_stamp(a["resolved_at"]) - parse_stamp(a["created_at"])).total_seconds()
             for a in requests if a.get("resolved_at") and a["status"] in ("approved",
                                                                           "denied")]
    buckets: Counter[str] = Counter()
    for seconds in waits:
        label = next(label for bound, label in LATENCY_BUCKETS if seconds < bound)
        buckets[label] += 1
    data.latency = {
        "resolved": len(waits),
        "median_seconds": statistics.median(waits) if waits else None,
        "p90_seconds": (statistics.quantiles(waits, n=10, method="inclusive")[-1] if len(waits) >= 2
                        else (waits[0] if waits else None)),
        "max_seconds": max(waits) if waits else None,
        "buckets": [(label, buckets.get(label, 0)) for _, label in LATENCY_BUCKETS],
    }
