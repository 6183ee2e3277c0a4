"""``policypacks report``: the audit trail as one static HTML page."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError
from .options import JSON_OPT, STORE_OPT, command, emit_json


@command("report")
@STORE_OPT
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("report.html"), show_default=True, help="The page to write.")
@click.option("--identity", help="Only this identity.")
@click.option("--since", default="30d", show_default=True,
              help="Window: an age (24h, 7d, 2w) or an ISO date; 'all' for everything.")
@JSON_OPT
def report_command(store_url: str | None, output: Path, identity: str | None, since: str,
                   as_json: bool) -> None:
    """Write one HTML page to look at: violations per day by pack and by agent, the
    noisiest rules, approvals and how long people took to answer, shadow would-blocks
    and waivers. No server, no external assets: open the file in a browser, attach it
    to a ticket, publish it as a CI artifact."""
    from ..bundle import write_atomically
    from ..report import collect, render
    from .audit import parse_since, store_for

    window = None if since == "all" else parse_since(since)
    if output.is_dir():
        raise UsageError(f"-o {output}: is a directory; give the page's file name")
    with store_for(store_url) as store:
        data = collect(store, identity=identity, since=window)
    page = render(data)
    write_atomically(output, page.encode())
    if as_json:
        emit_json({"ok": True, "report": str(output), "violations": data.violations,
                   "decisions": data.decisions, "approvals": data.approvals})
    else:
        click.echo(f"wrote {output}: {data.violations} violations in {data.decisions} "
                   f"decisions, {sum(data.approvals.values())} approval requests")
