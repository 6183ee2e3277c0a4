"""The pack author's commands: ``schema`` (JSON Schemas for editors and CI), ``init`` (a
new repository that validates and tests green at once) and ``promote`` (a pack out of
shadow mode, edited in place)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import UsageError
from .options import JSON_OPT, command, emit_json


@command("schema")
@click.option("--kind", default="any", show_default=True, metavar="KIND",
              help="Identity, PolicyPack, Agent, ...; 'any' checks each document by its "
              "kind.")
@click.option("-o", "--output", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Write every schema file into this directory instead of printing one.")
@JSON_OPT
def schema_command(kind: str, directory: Path | None, as_json: bool) -> None:
    """Print (or write) the JSON Schemas of the repository's documents (draft 2020-12).

    They come from the validator's own checks and the rule catalog, so an editor flags
    what `policypacks validate` would. Point the YAML language server at one with a first
    line such as

    \b
      # yaml-language-server: $schema=.policypacks/schema/policypack.schema.json
    and refresh the copies after an upgrade with: policypacks schema -o .policypacks/schema
    """
    from ..json_schema import ANY_DOCUMENT, document_schemas, rendered

    if directory is None:
        schemas = document_schemas()
        stem = ANY_DOCUMENT if kind.lower() == "any" else kind.lower()
        if stem not in schemas or stem == ANY_DOCUMENT and kind.lower() != "any":
            kinds = sorted(s["title"].split()[-1] for k, s in schemas.items()
                           if k != ANY_DOCUMENT)
            raise UsageError(f"--kind {kind}: one of {', '.join(kinds)} or any")
        click.echo(json.dumps(schemas[stem], indent=2, sort_keys=True,
                              ensure_ascii=False))
        return
    from ..bundle import write_atomically

    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        write_atomically(directory / name, text.encode())
        written.append(str(directory / name))
    if as_json:
        emit_json({"ok": True, "written": written})
    else:
        click.echo(f"wrote {len(written)} schemas to {directory}")


@command("init")
@click.argument("directory", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--identity", "identity_id", metavar="ID",
              help="The organisation's id (default: made from the directory's name).")
@click.option("--agent", "agent_id", default="assistant", show_default=True, metavar="ID",
              help="The id of the example agent.")
@JSON_OPT
def init_command(directory: Path, identity_id: str | None, agent_id: str,
                 as_json: bool) -> None:
    """Start a policy repository in DIRECTORY (default: here): an Identity, one pack with
    examples, one agent, a Test of that agent, and the JSON Schemas editors read
    (.policypacks/schema/).

    It passes `policypacks validate` and `policypacks test` right away. Existing files
    are never overwritten: the command refuses and names them.
    """
    from ..bundle import write_atomically
    from ..scaffold import files, slug
    from ..vocabulary import ID_PATTERN

    identity = identity_id or slug(directory.resolve().name, "example")
    for flag, value in (("--identity", identity), ("--agent", agent_id)):
        if not ID_PATTERN.fullmatch(value):
            raise UsageError(f"{flag} {value!r}: ids are lowercase letters, digits and '-', "
                             "starting with a letter, at most 63 characters")
    planned = files(identity, agent_id)
    existing = sorted(str(directory / p) for p in planned if (directory / p).exists())
    if existing:
        raise UsageError(f"{directory}: not overwriting {', '.join(existing)}")
    for relative, text in planned.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, text.encode())
    if as_json:
        emit_json({"ok": True, "directory": str(directory), "identity": identity,
                   "agent": agent_id, "files": sorted(p.as_posix() for p in planned)})
        return
    click.echo(f"created a policy repository for {identity} in {directory}:")
    for name in sorted(p.as_posix() for p in planned):
        click.echo(f"  {name}")
    where = "" if str(directory) == "." else f" {directory}"
    click.echo(f"next: policypacks validate{where} && policypacks test{where}")


@command("promote")
@click.argument("pack_id", metavar="PACK")
@click.argument("repo", required=False, default=".",
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--to", "level", required=True,
              type=click.Choice(["warn", "require_approval", "block"]),
              help="The enforcement the shadow-mode parts get.")
@click.option("--rule", "rule_id", metavar="RULE", help="Only this rule of the pack.")
@click.option("--agent", "agent_id", metavar="AGENT",
              help="Only this agent's attachment of the pack.")
@click.option("--dry-run", is_flag=True, help="Print the changes, write nothing.")
@JSON_OPT
def promote_command(pack_id: str, repo: Path, level: str, rule_id: str | None,
                    agent_id: str | None, dry_run: bool, as_json: bool) -> None:
    """Take PACK out of shadow mode: every `enforcement: shadow` that concerns it (the
    pack's own, its rules', agents' attachments of it) becomes --to, edited in place in
    the YAML with comments and layout kept.

    \b
    Look first at what the promotion would stop:
      policypacks violations stats --shadow --pack PACK
      policypacks promote PACK --to block --dry-run
    The repository is validated before and after; nothing is written on an error.
    """
    from ..promote import promote
    from ..validate import validate_repository

    if rule_id is not None and agent_id is not None:
        raise UsageError("give --rule or --agent, not both")
    changes = promote(validate_repository(repo), pack_id, level, rule_id, agent_id,
                      write=not dry_run)
    if not dry_run:
        import warnings

        from ..errors import PolicyWarning

        with warnings.catch_warnings():  # said once already, by the first validation
            warnings.simplefilter("ignore", PolicyWarning)
            validate_repository(repo)
    if as_json:
        emit_json({"ok": True, "written": not dry_run,
                   "changes": [{"file": c.file, "line": c.line, "what": c.where,
                                "from": c.old, "to": c.new} for c in changes]})
        return
    for change in changes:
        click.echo(str(change))
    click.echo(("would change" if dry_run else "changed") + f" {len(changes)} place(s); next: "
               "policypacks test" + ("" if str(repo) == "." else f" {repo}"))
