"""``policypacks violations`` and ``policypacks approvals``: the audit trail the client
records, for the humans who review it ("too many violations?" starts at ``stats``).

Two click groups; ``policypacks.cli`` loads them on use. Every command reads the store named by
``--store`` (default ``$POLICYPACKS_STORE``), prints a table or, with ``--json``, JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import click

from ..errors import PolicyError, UsageError
from ..runtime.store import (
    APPROVAL_STATUSES,
    ENFORCEMENTS,
    Store,
    as_utc,
    open_store,
    utcnow,
)
from .options import JSON_OPT, STORE_OPT, emit_json, group
from .tables import table as plain_table


def printable(value: object) -> str:
    """Recorded data as it may reach a terminal: an agent (an LLM) wrote most of it, so
    control and format characters (escape sequences, carriage returns, bidi overrides)
    are shown as ``\\x1b``-style escapes instead of acting on the terminal."""
    out = []
    for char in str(value):
        if char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    return plain_table(headers, [[printable(cell) for cell in row] for row in rows])


RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}




def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``24h``, ``7d``, ``30m``, ``2w`` ago, or an ISO date/time (UTC unless it says)."""
    if not text:
        return None
    match = RELATIVE.match(text.strip().lower())
    if match:
        delta = timedelta(**{UNITS[match[2]]: int(match[1])})
        return as_utc(now or utcnow()) - delta
    try:
        return as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(f"--since {text!r}: give an ISO date/time (2024-05-01, "
                         "2024-05-01T12:00Z) or an age such as 30m, 24h, 7d") from None


def store_for(url: str | None) -> Store:
    """The store of ``--store``, closed when the command ends (a PostgreSQL store holds a
    connection pool)."""
    store = open_store(url, create=False)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(store.close)
    return store



def short(text: str | None, width: int = 72) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def when(stamp: str | None) -> str:
    """A stored time for a table: to the second, still UTC."""
    return f"{stamp[:10]} {stamp[11:19]}Z" if stamp else "-"


# -- violations --------------------------------------------------------------------------

@group()
def violations() -> None:
    """What the client refused, escalated or warned about."""


def _violation_filters(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        STORE_OPT,
        click.option("--identity", help="Only this identity."),
        click.option("--agent", help="Only this agent."),
        click.option("--pack", help="Only violations of rules in this pack."),
        click.option("--enforcement", type=click.Choice(ENFORCEMENTS),
                     help="Only violations at this enforcement level."),
        click.option("--since", help="Only since then: 30m, 24h, 7d, or an ISO date/time."),
        click.option("--shadow", "kind", flag_value="shadow",
                     help="What shadow-mode rules reported instead (nothing was refused for "
                     "them): what promoting them would stop."),
        click.option("--waived", "kind", flag_value="waived",
                     help="Violations that waivers lifted instead, with the waiver."),
        JSON_OPT,
    ]):
        command = option(command)
    return command


#: What the tables call each kind of record (KINDS of the store).
NOUNS = {"enforced": "violations", "shadow": "shadow-mode reports",
         "waived": "waived violations"}


@violations.command("list")
@_violation_filters
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many, newest first.")
def violations_list(store_url: str | None, identity: str | None, agent: str | None,
                    pack: str | None, enforcement: str | None, since: str | None,
                    kind: str | None, as_json: bool, limit: int) -> None:
    """Recorded violations, newest first (--shadow: shadow-mode reports; --waived:
    violations a waiver lifted)."""
    kind = kind or "enforced"
    found = store_for(store_url).violations(identity=identity, agent=agent, pack=pack,
                                            enforcement=enforcement,
                                            since=parse_since(since), limit=limit, kind=kind)
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo(f"no {NOUNS[kind]} recorded" + (" for these filters" if any(
            (identity, agent, pack, enforcement, since)) else ""))
        return
    extra = ["WAIVER"] if kind == "waived" else []
    rows = [[when(v["at"]), v["agent"], v["action_type"] or "-", v["decision"],
             f"{v['pack']}/{v['rule']}", v["enforcement"] or "-",
             *([v["waiver"] or "-"] if extra else []), short(v["message"])]
            for v in found]
    click.echo(table(["TIME (UTC)", "AGENT", "ACTION", "DECISION", "RULE", "ENFORCEMENT",
                      *extra, "MESSAGE"], rows))


@violations.command("stats")
@_violation_filters
@click.option("--by-day", is_flag=True, help="Also print the count of each rule per day.")
def violations_stats(store_url: str | None, identity: str | None, agent: str | None,
                     pack: str | None, enforcement: str | None, since: str | None,
                     kind: str | None, as_json: bool, by_day: bool) -> None:
    """Violations per pack/rule/agent, the noisiest rules first.

    A rule near the top fires a lot: check its threshold, its scope (which agents attach
    the pack) and its enforcement before turning it down.

    With --shadow: what shadow-mode rules reported, and in WOULD STOP how many of those
    actions were allowed (allow or warn) and a promotion to block or require_approval
    would have stopped. Promote with `policypacks promote PACK --to LEVEL`.
    """
    kind = kind or "enforced"
    stats = store_for(store_url).violation_stats(identity=identity, agent=agent, pack=pack,
                                                 enforcement=enforcement,
                                                 since=parse_since(since), kind=kind)
    if as_json:
        emit_json(stats)
        return
    if not stats:
        click.echo(f"no {NOUNS[kind]} recorded")
        return
    shadow = kind == "shadow"
    rows = [[f"{s['pack']}/{s['rule']}", str(s["rule_total"]), s["agent"], str(s["count"]),
             *([str(s["allowed"])] if shadow else []),
             ",".join(s["enforcement"]), when(s["first"]), when(s["last"])] for s in stats]
    click.echo(table(["RULE", "RULE TOTAL", "AGENT", "COUNT", *(["WOULD STOP"] if shadow else []),
                      "ENFORCEMENT", "FIRST (UTC)", "LAST (UTC)"], rows))
    if shadow:
        total, allowed = sum(s["count"] for s in stats), sum(s["allowed"] for s in stats)
        click.echo(f"\n{total} shadow-mode report(s), {allowed} on actions that went ahead: "
                   "promoted to block or require_approval, these rules would have stopped "
                   "those actions")
    if by_day:
        day_rows = [[f"{s['pack']}/{s['rule']}", s["agent"], day, str(n)]
                    for s in stats for day, n in s["per_day"].items()]
        click.echo("")
        click.echo(table(["RULE", "AGENT", "DAY", "COUNT"], day_rows))


# -- approvals ---------------------------------------------------------------------------

@group()
def approvals() -> None:
    """Requests for human approval opened by require_approval decisions.

    A request nobody resolves within its timeout resolves to its route's fallback
    (status expired, outcome block or allow).
    """


def approval_rows(found: list[dict[str, Any]]) -> str:
    rows = [[a["id"], a["status"], a["outcome"] or "-", a["agent"], a["action_type"] or "-",
             ", ".join(f"{v.get('pack')}/{v.get('rule')}" for v in a["violations"]) or "-",
             ", ".join(a["approvers"]) or "-", when(a["created_at"]), when(a["expires_at"]),
             a["resolved_by"] or "-"] for a in found]
    return table(["ID", "STATUS", "OUTCOME", "AGENT", "ACTION", "RULES", "APPROVERS",
                  "CREATED (UTC)", "EXPIRES (UTC)", "RESOLVED BY"], rows)


@approvals.command("list")
@STORE_OPT
@click.option("--status", type=click.Choice(APPROVAL_STATUSES), help="Only this status.")
@click.option("--agent", help="Only this agent.")
@JSON_OPT
def approvals_list(store_url: str | None, status: str | None, agent: str | None,
                   as_json: bool) -> None:
    """Approval requests, newest first."""
    found = store_for(store_url).list_approvals(status=status, agent=agent)
    if as_json:
        emit_json(found)
    elif not found:
        click.echo("no approval requests" + (f" with status {status}" if status else ""))
    else:
        click.echo(approval_rows(found))


@approvals.command("show")
@click.argument("approval_id", metavar="ID")
@STORE_OPT
@JSON_OPT
def approvals_show(approval_id: str, store_url: str | None, as_json: bool) -> None:
    """One request with its action and violations."""
    found = store_for(store_url).get_approval(approval_id)
    if found is None:
        raise PolicyError(f"no approval request {approval_id}")
    if as_json:
        emit_json(found)
        return
    click.echo(approval_rows([found]))
    click.echo("")
    click.echo("action: " + printable(json.dumps(found["action"], sort_keys=True,
                                                  ensure_ascii=False)))
    click.echo(f"digest: {found.get('digest') or '-'}")
    click.echo("may resolve: " + printable(", ".join([*found["approvers"],
                                                      *found.get("admins", [])])
                                           or "nobody (it resolves to its fallback at its "
                                           "timeout)"))
    if found.get("redeemed_at"):
        click.echo(printable(f"used: {when(found['redeemed_at'])} by decision "
                             f"{found.get('redeemed_decision') or '-'}"))
    for violation in found["violations"]:
        click.echo(printable(f"violation: {violation.get('pack')}/{violation.get('rule')} "
                             f"({violation.get('enforcement')}): {violation.get('message')}"))


def _resolve(approval_id: str, status: str, by: str, store_url: str | None,
             as_json: bool) -> None:
    result = store_for(store_url).resolve_approval(approval_id, status, by)
    if as_json:
        emit_json(result)
    else:
        click.echo(printable(f"{result['id']}: {result['status']} by {result['resolved_by']} "
                             f"at {when(result['resolved_at'])} (outcome {result['outcome']})"))


BY_OPT = click.option("--by", required=True, metavar="NAME",
                      help="Who resolves it (recorded): one of the request's approvers or "
                      "the identity's escalation admins, never the agent that asked; "
                      "anyone else is refused with exit code 2.")


@approvals.command("approve")
@click.argument("approval_id", metavar="ID")
@BY_OPT
@STORE_OPT
@JSON_OPT
def approvals_approve(approval_id: str, by: str, store_url: str | None, as_json: bool) -> None:
    """Approve a pending request: the agent may then do exactly that action, once, before
    the request expires. Who and when are recorded."""
    _resolve(approval_id, "approved", by, store_url, as_json)


@approvals.command("deny")
@click.argument("approval_id", metavar="ID")
@BY_OPT
@STORE_OPT
@JSON_OPT
def approvals_deny(approval_id: str, by: str, store_url: str | None, as_json: bool) -> None:
    """Deny a pending request: the action stays blocked. Who and when are recorded."""
    _resolve(approval_id, "denied", by, store_url, as_json)
