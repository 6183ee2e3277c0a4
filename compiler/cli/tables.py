"""Readable text for ``effective`` and ``conflicts`` (their --json is the raw view)."""

from __future__ import annotations

from typing import Any


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def effective_text(view: dict[str, Any]) -> str:
    precedence = view["precedence"]
    out = [f"agent {view['agent']}: precedence {precedence['applied']}"
           + ("" if precedence["note"] == "as requested" else f" ({precedence['note']})"), ""]
    rows = [[p["pack"], p["level"], p["enforcement"], p["why"]] for p in view["packs"]]
    out.append(table(["PACK", "LEVEL", "ENFORCEMENT", "WHY"], rows))
    out.append("")
    rule_rows = []
    for pack in view["packs"]:
        for rule in pack["rules"]:
            waived = [w for w in view.get("waivers", [])
                      if w["pack"] == pack["pack"] and w["rule"] == rule["rule"] and w["in_force"]]
            state = ("suppressed by " + ", ".join(rule["suppressed_by"])
                     if rule["suppressed_by"] else
                     f"waived by {waived[0]['id']} until {waived[0]['expires']}" if waived else
                     "reported only (shadow mode)" if rule["enforcement"] == "shadow" else
                     "applies")
            rule_rows.append([f"{pack['pack']}/{rule['rule']}", rule["type"],
                              rule["enforcement"], rule["key"] or "-", state])
    out.append(table(["RULE", "TYPE", "ENFORCEMENT", "CONFLICT KEY", "STATE"], rule_rows))
    if view.get("waivers"):
        out.append("")
        out.append(table(["WAIVER", "RULE", "EXPIRES", "IN FORCE", "APPROVED BY", "REASON"], [
            [w["id"], f"{w['pack']}/{w['rule']}", w["expires"], "yes" if w["in_force"] else "no",
             w["approved_by"], w["reason"]] for w in view["waivers"]]))
    return "\n".join(out)


def conflicts_text(groups: dict[str, list[dict[str, Any]]]) -> str:
    rows = []
    for agent in sorted(groups):
        for group in groups[agent]:
            for member in group["rules"]:
                rows.append([agent, group["key"], group["precedence"],
                             f"{member['pack']}/{member['rule']}", member["level"],
                             member["outcome"]])
    if not rows:
        return "no conflicts: no two packs attached to one agent share a conflict key"
    return table(["AGENT", "KEY", "PRECEDENCE", "RULE", "LEVEL", "OUTCOME"], rows)
