"""``policypacks report``: the page as a real headless Chromium renders it, its numbers
read back from the rendered DOM."""

from __future__ import annotations

import os
import statistics
import struct
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from report_support import (
    APPROVALS,
    HISTORY,
    HOSTILE_AGENT,
    SHADOW_HISTORY,
    VIOLATION,
    WAIVED_HISTORY,
    browser,
    build_store,
)
from report_support import chromium as find_chromium

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "policypacks.cli"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium)")


class Dom(HTMLParser):
    """Every element with its attributes and its text, from Chromium's --dump-dom."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, **{k: v or "" for k, v in attrs}, "text": ""}
        self.elements.append(element)
        if tag not in ("meta", "br", "img", "input", "line", "link"):
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append({"tag": tag, **{k: v or "" for k, v in attrs}, "text": ""})

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, **attrs: str) -> list[dict[str, Any]]:
        return [e for e in self.elements if all(e.get(k) == v for k, v in attrs.items())]

    def one(self, **attrs: str) -> dict[str, Any]:
        [found] = self.find(**attrs)
        return found


@pytest.fixture(scope="module")
def rendered(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("report")
    url = build_store(work / "store.db")
    page = work / "report.html"
    proc = subprocess.run([*CLI, "report", "--store", url, "-o", str(page), "--since", "all"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    dom = Dom(browser(page, work, "--dump-dom"))
    return {"dom": dom, "page": page, "work": work, "stdout": proc.stdout, "url": url}


def test_the_page_renders_without_script_errors(rendered: dict[str, Any]) -> None:
    dom: Dom = rendered["dom"]
    [html] = dom.find(tag="html")
    assert "data-errors" not in html
    body = dom.one(tag="body")
    assert body["data-ready"] == "1" and body["data-charts"] == "4"
    assert {e["data-chart"] for e in dom.find(tag="svg")} == {
        "violations-per-pack", "violations-per-agent", "noisiest-rules", "approval-latency"}


def expected_counts() -> dict[str, Any]:
    rules = Counter(ref for _, _, refs in HISTORY for ref in refs)
    return {
        "decisions": len(HISTORY) + len(SHADOW_HISTORY) + len(WAIVED_HISTORY),
        "violations": sum(rules.values()), "rules": rules,
        "enforcement": Counter(VIOLATION[ref][1] for ref in rules.elements()),
        "per_pack_day": Counter((ref.split("/")[0], day) for day, _, refs in HISTORY
                                for ref in refs),
        "per_agent_day": Counter((agent, day) for day, agent, refs in HISTORY for _ in refs),
    }


def test_the_summary_numbers_are_the_store_s(rendered: dict[str, Any]) -> None:
    dom: Dom = rendered["dom"]
    expected = expected_counts()
    metric = {e["data-metric"]: e["text"].strip() for e in dom.elements if "data-metric" in e}
    assert metric["decisions"] == str(expected["decisions"])
    assert metric["violations"] == str(expected["violations"])
    for level in ("block", "require_approval", "warn"):
        assert metric[f"enforcement-{level}"] == str(expected["enforcement"][level])
    assert metric["approvals-pending"] == "1"


@pytest.mark.parametrize("chart, key", [("violations-per-pack", "per_pack_day"),
                                        ("violations-per-agent", "per_agent_day")])
def test_each_bar_is_one_series_on_one_day(rendered: dict[str, Any], chart: str,
                                           key: str) -> None:
    dom: Dom = rendered["dom"]
    start = "2026-11-02"
    marks = [e for e in dom.find(tag="rect", **{"class": "mark"})
             if e.get("data-day") and _in_chart(dom, e, chart)]
    seen = Counter()
    for mark in marks:
        day = (int(mark["data-day"][-2:]) - int(start[-2:]))
        seen[(mark["data-series"], day)] += int(mark["data-value"])
    assert seen == expected_counts()[key]


def _in_chart(dom: Dom, element: dict[str, Any], chart: str) -> bool:
    """Whether a mark is drawn inside the chart ``chart`` (elements come in order)."""
    current = None
    for e in dom.elements:
        if e["tag"] == "svg":
            current = e.get("data-chart")
        if e is element:
            return current == chart
    return False


def test_the_noisiest_rules_come_first(rendered: dict[str, Any]) -> None:
    dom: Dom = rendered["dom"]
    rows = [e for e in dom.find(tag="rect")
            if "data-label" in e and _in_chart(dom, e, "noisiest-rules")]
    ranked = sorted(expected_counts()["rules"].items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(r["data-label"], int(r["data-value"])) for r in rows] == ranked


def test_approvals_and_their_latency(rendered: dict[str, Any]) -> None:
    dom: Dom = rendered["dom"]
    statuses = Counter(status for _, status in APPROVALS)
    shown = {e["data-approvals"]: int(e["text"]) for e in dom.elements if "data-approvals" in e}
    assert shown == {s: statuses.get(s, 0) for s in ("pending", "approved", "denied",
                                                     "expired")}
    answered = [m for m, s in APPROVALS if m is not None]
    median = statistics.median(answered)
    assert dom.one(**{"data-metric": "latency-median"})["text"] == f"{median:.0f} min"
    assert dom.one(**{"data-metric": "latency-max"})["text"] == f"{max(answered) / 60:.1f} h"


def test_shadow_reports_and_what_a_promotion_would_stop(rendered: dict[str, Any]) -> None:
    reports: Counter[str] = Counter()
    would_stop: Counter[str] = Counter()
    for _, _, outcome, refs in SHADOW_HISTORY:
        reports.update(refs)
        would_stop.update(refs if outcome in ("allow", "warn") else [])
    rows = {e["data-shadow"]: (int(e["data-reports"]), int(e["data-would-stop"]))
            for e in rendered["dom"].find(tag="tr") if "data-shadow" in e}
    assert rows == {ref: (reports[ref], would_stop[ref]) for ref in reports}


def test_waivers_and_the_violations_they_lifted(rendered: dict[str, Any]) -> None:
    lifted = Counter((waiver, agent, ref) for _, agent, waiver, refs in WAIVED_HISTORY
                     for ref in refs)
    rows = {(e["data-waiver"], e["data-agent"], e["data-rule"]): int(e["data-lifted"])
            for e in rendered["dom"].find(tag="tr") if "data-waiver" in e}
    assert rows == dict(lifted)


def test_recorded_strings_are_text_never_markup(rendered: dict[str, Any]) -> None:
    dom: Dom = rendered["dom"]
    assert dom.find(id="pwned") == [] and dom.find(tag="b", id="pwned") == []
    legend = [e for e in dom.find(tag="button") if e.get("data-series") == HOSTILE_AGENT]
    assert legend and HOSTILE_AGENT in legend[0]["text"]
    assert "<script>alert" not in rendered["page"].read_text()


def test_the_page_needs_nothing_from_outside(rendered: dict[str, Any]) -> None:
    html = rendered["page"].read_text()
    for reference in ("http://", "https://", "src=", "<link"):
        assert reference not in html.replace("http://www.w3.org/2000/svg", "")


def test_a_screenshot_is_a_picture_of_the_page(rendered: dict[str, Any]) -> None:
    shot = rendered["work"] / "report.png"
    browser(rendered["page"], rendered["work"], f"--screenshot={shot}", size="1280,1600")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1600) and len(data) > 30_000


def test_an_empty_store_renders_every_section_as_none(chromium: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    from policypacks.runtime.store import open_store

    with open_store(url) as store:
        assert store.decisions() == []  # creates the empty store
    page = tmp_path / "empty.html"
    proc = subprocess.run([*CLI, "report", "--store", url, "-o", str(page), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    dom = Dom(browser(page, tmp_path, "--dump-dom"))
    assert dom.one(tag="body")["data-ready"] == "1"
    for section in ("per-pack", "per-agent", "noisiest", "approvals", "shadow", "waivers"):
        assert "none recorded" in dom.one(tag="section", id=section)["text"], section


def test_a_missing_store_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "report", "--store", f"sqlite:///{tmp_path}/none.db",
                           "-o", str(tmp_path / "r.html"), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and not (tmp_path / "r.html").exists()
    assert "no store at" in proc.stdout
