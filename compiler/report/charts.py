"""Inline SVG charts, drawn here so the page needs no script library and no network.

Every label is escaped (agent names and rule ids come from the store, which recorded
what agents sent); each chart carries ``data-chart`` and each mark ``data-value`` so a
test reading the rendered DOM can check the numbers.
"""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#4b5563"]
MAX_SERIES = 7  # more series than this: the smallest are summed as "other"


def _limit(series: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    ranked = sorted(series, key=lambda name: (-sum(series[name].values()), name))
    if len(ranked) <= MAX_SERIES + 1:
        return {name: series[name] for name in ranked}
    kept = {name: series[name] for name in ranked[:MAX_SERIES]}
    other: dict[str, int] = {}
    for name in ranked[MAX_SERIES:]:
        for day, count in series[name].items():
            other[day] = other.get(day, 0) + count
    kept["(other)"] = other
    return kept


def stacked_days(chart_id: str, days: list[str], series: dict[str, dict[str, int]],
                 width: int = 900, height: int = 260) -> Markup:
    """One bar per day, stacked by series; a legend whose entries toggle a series."""
    if not days:
        return Markup('<p class="empty">none recorded</p>')
    series = _limit(series)
    left, bottom, top = 44, 36, 12
    plot_w, plot_h = width - left - 12, height - bottom - top
    totals = [sum(s.get(day, 0) for s in series.values()) for day in days]
    peak = max(totals) or 1
    step = plot_w / len(days)
    bar = max(2.0, step * 0.72)
    parts = [f'<svg class="chart" data-chart="{escape(chart_id)}" viewBox="0 0 {width} '
             f'{height}" width="100%" role="img" aria-label="{escape(chart_id)}">']
    for tick in _ticks(peak):
        y = top + plot_h - plot_h * tick / peak
        parts.append(f'<line x1="{left}" x2="{width - 12}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'class="grid"/><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'class="axis" text-anchor="end">{tick}</text>')
    for index, day in enumerate(days):
        x = left + index * step + (step - bar) / 2
        y = top + plot_h
        for number, (name, counts) in enumerate(series.items()):
            count = counts.get(day, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(f'<rect class="mark" data-series="{escape(name)}" data-day="{day}" '
                         f'data-value="{count}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE[number % len(PALETTE)]}">'
                         f'<title>{escape(name)} on {day}: {count}</title></rect>')
        if len(days) <= 16 or index % max(1, len(days) // 8) == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" '
                         f'class="axis" text-anchor="middle">{day[5:]}</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<button type="button" class="key" data-toggle="{escape(chart_id)}" '
        f'data-series="{escape(name)}"><span style="background:'
        f'{PALETTE[number % len(PALETTE)]}"></span>{escape(name)} '
        f'<b>{sum(counts.values())}</b></button>'
        for number, (name, counts) in enumerate(series.items()))
    return Markup("".join(parts) + f'<div class="legend">{legend}</div>')


def horizontal_bars(chart_id: str, rows: list[tuple[str, int, str]],
                    width: int = 900) -> Markup:
    """One labelled bar per row (label, value, note)."""
    if not rows:
        return Markup('<p class="empty">none recorded</p>')
    label_w, row_h = 260, 26
    height = row_h * len(rows) + 8
    peak = max(value for _, value, _ in rows) or 1
    parts = [f'<svg class="chart" data-chart="{escape(chart_id)}" viewBox="0 0 {width} '
             f'{height}" width="100%" role="img" aria-label="{escape(chart_id)}">']
    for index, (label, value, note) in enumerate(rows):
        y = 4 + index * row_h
        w = (width - label_w - 250) * value / peak
        parts.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" '
                     f'class="label">{escape(label)}</text>'
                     f'<rect class="mark" data-value="{value}" data-label="{escape(label)}" '
                     f'x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row_h - 8}" '
                     f'fill="{PALETTE[0]}"><title>{escape(label)}: {value}</title></rect>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" class="value">{value}'
                     f'<tspan class="note"> {escape(note)}</tspan></text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _ticks(peak: int) -> list[int]:
    step = max(1, round(peak / 4))
    return list(range(0, peak + 1, step))
