"""``policypacks replay``: what a new bundle would decide differently, judged on the
decisions OPA logged (or the client recorded), before it is rolled out."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_FAILURE, UsageError
from .console import Progress, style
from .options import JSON_OPT, command, emit_json

BUNDLE = click.Path(exists=True, dir_okay=False, path_type=Path)


@command("replay")
@click.option("--decision-log", "log_file", type=BUNDLE, metavar="FILE",
              help="OPA's decision log: its JSON log output with decision_logs.console, or "
              "the (gzip) JSON arrays its decision-log service receives.")
@click.option("--store", "store_url", metavar="URL",
              help="Instead of a log: the decisions the client recorded (needs --baseline).")
@click.option("--bundle", "bundle_file", type=BUNDLE, required=True,
              help="The new bundle (policypacks build).")
@click.option("--baseline", "baseline_file", type=BUNDLE,
              help="The bundle running now; without it, the decision recorded in the log "
              "is the baseline.")
@click.option("--max-changed", type=click.IntRange(min=0), metavar="N",
              help="Exit 1 when more than N decisions change (for CI).")
@click.option("--examples", type=click.IntRange(min=0), default=3, show_default=True,
              metavar="N",
              help="Example inputs shown per change.")
@click.option("--include-masked", is_flag=True,
              help="Also replay events whose input a mask policy changed.")
@click.option("--decide-all", is_flag=True,
              help="With --baseline: decide every input with both bundles, even where the "
              "log holds the decision of the baseline's very build or the change cannot "
              "reach the input (trust no logged result and no shortcut).")
@click.option("--progress/--no-progress", "show_progress", default=None,
              help="Progress on stderr (default: only on a terminal).")
@JSON_OPT
def replay_command(log_file: Path | None, store_url: str | None, bundle_file: Path,
                   baseline_file: Path | None, max_changed: int | None, examples: int,
                   include_masked: bool, decide_all: bool, show_progress: bool | None,
                   as_json: bool) -> None:
    """Decide logged inputs again with a new bundle and show what changes: per decision
    (allow -> block, block -> allow, ...) and per pack/rule, with example inputs.

    \b
      policypacks replay --decision-log opa.log --bundle new.tar.gz
      policypacks replay --decision-log opa.log --bundle new.tar.gz --baseline old.tar.gz
      policypacks replay --store sqlite:///store.db --bundle new.tar.gz --baseline old.tar.gz

    A decision "changes" when its value does (allow, warn, require_approval, block); a rule
    newly violated or no longer violated under the same decision is listed, not counted.
    Exits 1 with --max-changed N when more than N decisions change. See docs/replay.md.
    """
    from ..deploy.decision_log import open_decision_log, read_store
    from ..deploy.replay import load_bundle, replay

    if (log_file is None) == (store_url is None):
        raise UsageError("give one of --decision-log FILE or --store URL")
    new = load_bundle(bundle_file)
    baseline = load_bundle(baseline_file) if baseline_file else None
    if log_file is not None:
        # Read while the first entries are decided (replay streams it).
        source = open_decision_log(log_file, f"{new.root}/decision", include_masked)
    else:
        assert store_url is not None
        if baseline is None:
            raise UsageError("--store needs --baseline OLD: the store keeps the action but "
                             "not the usage it was judged with, so both bundles must judge "
                             "the same input")
        source = read_store(store_url, new.identity)
    meter = Progress("replaying", 0, force=bool(show_progress)) \
        if show_progress is not False else None
    try:
        report = replay(source, new, baseline, meter.update if meter else None, examples,
                        reuse=not decide_all)
    finally:
        if meter:
            meter.close()
    result = report.as_dict()
    over = max_changed is not None and report.changed > max_changed
    result["max_changed"] = max_changed
    result["ok"] = not over
    if as_json:
        emit_json(result)
    else:
        click.echo(render(result))
        if over:
            click.echo(style(f"{report.changed} decisions change, more than --max-changed "
                             f"{max_changed}", "fail"), err=True)
    if over:
        sys.exit(EXIT_FAILURE)


def render(result: dict[str, Any]) -> str:
    base = result["baseline"]
    against = (f"baseline {base['bundle']} (revision {base['revision']})" if "bundle" in base
               else "the decisions recorded in the log"
               + (f" (revisions {', '.join(base['revisions'])})" if base["revisions"] else ""))
    lines = [f"replayed {result['replayed']:,} decisions from {result['source']} "
             f"({result['distinct_inputs']:,} distinct inputs)",
             f"new bundle {result['new']['bundle']} (revision {result['new']['revision']}) "
             f"against {against}"]
    if base.get("recorded_reused"):
        lines.append(style(f"  {base['recorded_reused']:,} decisions recorded by the baseline "
                           "build itself were compared as recorded, not decided again", "dim"))
    if base.get("unaffected"):
        many = base["unaffected"] != 1
        lines.append(style(f"  {base['unaffected']:,} decision{'s' if many else ''} the change "
                           f"cannot reach (same rules and data for {'their' if many else 'its'} "
                           f"agent and action) {'were' if many else 'was'} decided by neither "
                           "bundle", "dim"))
    for reason, count in sorted(result["skipped"].items()):
        lines.append(style(f"  skipped {count:,}: {reason}", "dim"))
    if not result["rules_changed"]:
        lines.append(style("no decision and no violation changes", "ok"))
        return "\n".join(lines)
    lines.append(f"{result['changed']:,} decisions change; {result['rules_changed']:,} "
                 "inputs change their violations")
    if result["transitions"]:
        lines.append("\ndecisions:")
    for step in result["transitions"]:
        refused = step["after"] not in ("allow", "warn")
        arrow = style(f"{step['before']} -> {step['after']}", "more" if refused else "less")
        lines.append(f"  {arrow}: {step['count']:,}")
        lines += _examples(step["examples"])
    lines.append("\npacks:")
    for pack_id, counts in result["packs"].items():
        flips = [f"allowed -> refused {counts['allowed_to_refused']:,}"] \
            if counts["allowed_to_refused"] else []
        flips += [f"refused -> allowed {counts['refused_to_allowed']:,}"] \
            if counts["refused_to_allowed"] else []
        lines.append(f"  {pack_id}: {counts['inputs_changed']:,} inputs change"
                     + (f" ({'; '.join(flips)})" if flips else ""))
    lines.append("\nrules:")
    for rule in result["rules"]:
        parts = []
        for key, said, role in (("newly_violated", "newly violated", "more"),
                                ("no_longer_violated", "no longer violated", "less"),
                                ("enforcement_changed", "enforcement changed", "warn")):
            if rule[key]:
                parts.append(style(f"{said} {rule[key]:,}", role))
        flips = []
        if rule["allowed_to_refused"]:
            flips.append(f"allowed -> refused {rule['allowed_to_refused']:,}")
        if rule["refused_to_allowed"]:
            flips.append(f"refused -> allowed {rule['refused_to_allowed']:,}")
        lines.append(f"  {rule['pack']}/{rule['rule']}: " + ", ".join(parts)
                     + (f" ({'; '.join(flips)})" if flips else ""))
        lines += _examples(rule["examples"])
    return "\n".join(lines)


def _examples(examples: list[dict[str, Any]]) -> list[str]:
    out = []
    for example in examples:
        action = json.dumps(example["input"].get("action"), ensure_ascii=False,
                            sort_keys=True)
        rules = ", ".join([f"+{r}" for r in example["newly_violated"]]
                          + [f"-{r}" for r in example["no_longer_violated"]])
        out.append(style(f"    e.g. {example['where']} agent {example['agent']}: "
                         f"{example['before']} -> {example['after']}"
                         + (f" [{rules}]" if rules else "") + f" {action}", "dim"))
    return out
