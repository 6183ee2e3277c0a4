"""``policypacks report``: one static HTML page of the audit trail, to look at rather
than read. No server and no external assets: the charts are inline SVG drawn in Python
(:mod:`.charts`), the page is a Jinja2 template with autoescaping, and a few lines of
inline script only toggle chart series."""

from __future__ import annotations

from importlib import resources

import jinja2
from markupsafe import Markup

from .charts import horizontal_bars, stacked_days
from .data import ReportData, collect

__all__ = ["ReportData", "collect", "render"]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(data: ReportData) -> str:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    source = resources.files(__name__).joinpath("page.html.j2").read_text(encoding="utf-8")
    template = env.from_string(source)
    latency_rows = [(label, count, "") for label, count in data.latency.get("buckets", [])]
    charts: dict[str, Markup] = {
        "per_pack": stacked_days("violations-per-pack", data.days, data.per_pack),
        "per_agent": stacked_days("violations-per-agent", data.days, data.per_agent),
        "noisiest": horizontal_bars("noisiest-rules", [
            (r["rule"], r["count"], f"{len(r['agents'])} agent(s), "
             + "/".join(r["enforcement"])) for r in data.noisiest]),
        "latency": horizontal_bars("approval-latency", latency_rows)
        if data.latency.get("resolved") else Markup('<p class="empty">none resolved</p>'),
    }
    return template.render(data=data, charts=charts, duration=_duration)
