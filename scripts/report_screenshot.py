"""Render the report of the test history (tests/report_support.py) in headless Chromium
and save the screenshot docs/report.md shows: `.venv/bin/python scripts/report_screenshot.py`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from report_support import browser, build_store  # noqa: E402

from policypacks.report import collect, render  # noqa: E402
from policypacks.runtime.store import open_store  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="report-shot-") as tmp:
        work = Path(tmp)
        url = build_store(work / "store.db")
        with open_store(url, create=False) as store:
            page = work / "report.html"
            page.write_text(render(collect(store)), encoding="utf-8")
        target = ROOT / "docs" / "report.png"
        browser(page, work, f"--screenshot={target}", size="1100,2150")
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
