"""The pack author's commands: ``validate``, ``build``, ``eval``, ``effective``,
``conflicts`` (SPEC section 6); ``test`` is in :mod:`.testing`.

Every command works on a policy repository (default: the current directory). User
mistakes end as ``FILE:LINE: message`` on stderr with exit code 2; a failed check (a
test, OPA) exits 1; success exits 0. Nothing is written after a failure.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from ..bundle import write_bundle
from ..errors import EXIT_FAILURE, UsageError
from ..opa import evaluate
from ..pipeline import compile_path
from ..validate import validate_repository
from ..vocabulary import DECISIONS, strictness
from ..waivers import moment_ns
from .console import style
from .options import JSON_OPT, REPO_ARG, STRICT_OPT, command, emit_json, warnings_json


@command()
@REPO_ARG
@STRICT_OPT
@JSON_OPT
def validate(repo: Path, strict: bool, as_json: bool) -> None:
    """Check the repository: schemas, references, ids, RE2 regular expressions.

    Prints every problem as FILE:LINE: message and exits 2 if there is any; warnings
    (FILE:LINE: warning: message) leave the exit code alone unless --strict.
    """
    parsed = validate_repository(repo, strict=strict)
    rules = sum(len(p.rules) for p in parsed.packs.values())
    found = warnings_json()
    summary = {"valid": True, "identity": parsed.identity.id, "packs": len(parsed.packs),
               "agents": len(parsed.agents), "rules": rules, "waivers": len(parsed.waivers),
               "warnings": found, "notes": warnings_json("note")}
    if as_json:
        emit_json(summary)
    else:
        count = len(parsed.waivers)
        waivers = f", {count} waiver{'' if count == 1 else 's'}" if count else ""
        warned = (", " + style(f"{len(found)} warning{'s' if len(found) != 1 else ''}", "warn")
                  if found else "")
        click.echo(style("ok", "ok") + f": identity {parsed.identity.id}, "
                   f"{len(parsed.packs)} packs, {rules} rules, {len(parsed.agents)} agents"
                   + waivers + warned)


@command()
@REPO_ARG
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("bundle.tar.gz"), show_default=True, help="Bundle file to write.")
@click.option("--revision", help="Bundle revision (default: the repository's git commit, "
              "with -dirty when it has changes).")
@click.option("--signing-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sign the bundle with this key (PEM private key, or HMAC secret file).")
@click.option("--signing-alg", default="RS256", show_default=True,
              help="JWT algorithm for --signing-key (RS256, ES256, HS256, ...).")
@STRICT_OPT
@JSON_OPT
def build(repo: Path, output: Path, revision: str | None, signing_key: Path | None,
          signing_alg: str, strict: bool, as_json: bool) -> None:
    """Build the OPA bundle: byte-identical for identical input.

    The bundle holds a .manifest (revision, roots, rego_version), the generated Rego
    and the repository as data, under policypacks/<identity>/ so that bundles of
    several identities load into one OPA side by side.
    """
    _, compiled = compile_path(repo, revision, strict=strict)
    signing = (signing_key, signing_alg) if signing_key else None
    data = write_bundle(compiled, output, signing=signing)
    result = {"bundle": str(output), "revision": compiled.config["revision"],
              "root": compiled.root, "sha256": hashlib.sha256(data).hexdigest(),
              "signed": bool(signing_key), "warnings": warnings_json()}
    if as_json:
        emit_json(result)
    else:
        click.echo(f"wrote {output} (revision {result['revision']}, root {compiled.root}, "
                   f"sha256 {result['sha256'][:12]})")


def read_input(source: str) -> Any:
    """An input document from a file or '-' (stdin); JSON or YAML."""
    name = "<stdin>" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{name}: cannot read input: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as json_error:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = None
        if isinstance(value, dict):
            return value
        raise UsageError(f"{name}:{json_error.lineno}: input is not valid JSON: "
                         f"{json_error.msg}") from json_error


@command("eval")
@REPO_ARG
@click.option("-i", "--input", "input_file", required=True,
              help="Input document (JSON or YAML); '-' reads stdin.")
@click.option("--fail-on", type=click.Choice(DECISIONS[1:]),
              help="Exit 1 when the decision is at least this strict (for scripts).")
@click.option("--at", "at", metavar="TIME",
              help="Decide as OPA would at this moment (RFC 3339, e.g. 2027-07-01T00:00:00Z): "
              "which waivers are in force then.")
@click.option("--json", "as_json", is_flag=True,
              help="The decision is JSON anyway; with --json a failure is JSON too.")
def eval_command(repo: Path, input_file: str, fail_on: str | None, at: str | None,
                 as_json: bool) -> None:
    """Print the decision (SPEC section 5) that OPA gives for an input.

    \b
    Example input:
      {"agent": "sales-bot", "action": {"type": "spend", "amount": 40},
       "usage": {"spend": {"day": 90}}}
    """
    document = read_input(input_file)
    if not isinstance(document, dict):
        raise UsageError(f"{input_file}: the input must be a JSON object")
    now_ns = moment_ns(at) if at else None
    _, compiled = compile_path(repo)
    answer = evaluate.decision(compiled, document, now_ns)
    emit_json(answer)
    if fail_on and strictness(answer["decision"]) >= strictness(fail_on):
        sys.exit(EXIT_FAILURE)


@command()
@REPO_ARG
@click.option("--agent", "agent_id", required=True, help="Agent id.")
@JSON_OPT
def effective(repo: Path, agent_id: str, as_json: bool) -> None:
    """Show an agent's effective policy: packs, levels, enforcement and why, rules,
    suppressed rules and the precedence applied."""
    parsed, compiled = compile_path(repo, revision="effective")
    if agent_id not in parsed.agents:
        raise UsageError(f"{repo}: no Agent {agent_id!r} is declared (agents: "
                         f"{', '.join(sorted(parsed.agents)) or 'none'}); an undeclared "
                         f"agent gets unknownAgents: {parsed.identity.unknown_agents}")
    view = evaluate.effective(compiled, agent_id)
    if view is None:
        raise UsageError(f"{repo}: OPA has no effective view for agent {agent_id!r}")
    if as_json:
        emit_json(view)
        return
    from .tables import effective_text

    click.echo(effective_text(view))


@command()
@REPO_ARG
@JSON_OPT
def conflicts(repo: Path, as_json: bool) -> None:
    """List every conflict group, per agent, and how precedence resolves it."""
    _, compiled = compile_path(repo, revision="conflicts")
    groups = evaluate.conflicts(compiled)
    if as_json:
        emit_json(groups)
        return
    from .tables import conflicts_text

    click.echo(conflicts_text(groups))
