"""What every command shares: the repository argument, ``--json``, ``--store``, JSON output,
and the one place a :class:`PolicyError` becomes ``FILE:LINE: message`` and an exit code
(and, for a command given ``--json``, a JSON object on stdout as well)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..errors import PolicyError, PolicyWarning, ValidationFailed
from ..vocabulary import ENV_STORE

CONTEXT = {"help_option_names": ["-h", "--help"]}

REPO_ARG = click.argument("repo", required=False, default=".",
                          type=click.Path(file_okay=False, path_type=Path))
JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
STRICT_OPT = click.option("--strict", "--warnings-as-errors", "strict", is_flag=True,
                          help="Fail (exit 2, nothing written) when validation warns.")
STORE_OPT = click.option("--store", "store_url", envvar=ENV_STORE, show_envvar=True,
                         metavar="URL", help="The store: sqlite:////abs/path/store.db "
                         "(four slashes for an absolute path), sqlite:///relative.db, or "
                         "postgresql://user@host/db (needs policypacks[postgres]).")


def report(exc: PolicyError) -> None:
    """The error's lines on stderr: ``FILE:LINE: message`` for every problem."""
    from .console import error_line

    for line in exc.lines():
        click.echo(error_line(line), err=True)


def failure_json(exc: PolicyError) -> dict[str, Any]:
    """What ``--json`` prints on stdout when a command fails: always ``ok``, ``error``,
    ``exit_code`` and ``warnings``; for an invalid repository also ``valid`` and every
    problem."""
    result: dict[str, Any] = {"ok": False, "error": str(exc), "exit_code": exc.exit_code,
                              "warnings": warnings_json(), "notes": warnings_json("note")}
    if isinstance(exc, ValidationFailed):
        result["valid"] = False
        result["errors"] = [{"file": p.location.file, "line": p.location.line or None,
                             "field": p.location.field or None, "message": p.message}
                            for p in exc.problems]
    return result


_WARNINGS_KEY = "policypacks.warnings"


@contextmanager
def printing_warnings() -> Iterator[list[PolicyWarning]]:
    """The one place warnings reach a person: every :class:`PolicyWarning` is printed on
    stderr as it is raised (``FILE:LINE: warning: message``, "warning:" in yellow on a
    terminal) and kept for ``--json`` (:func:`warnings_json`); other Python warnings go
    where they always go."""
    from .console import warning_line

    shown = warnings.showwarning
    seen: list[PolicyWarning] = []
    context = click.get_current_context(silent=True)
    if context is not None:
        context.meta[_WARNINGS_KEY] = seen

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(message, PolicyWarning):
            seen.append(message)
            click.echo(warning_line(str(message), message.severity), err=True)
        else:
            shown(message, category, *args, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("always", PolicyWarning)
        warnings.showwarning = show
        yield seen


def warnings_json(severity: str = "warning") -> list[dict[str, Any]]:
    """The warnings (or, ``severity="note"``, the notes) this command printed, as
    ``--json`` lists them."""
    context = click.get_current_context(silent=True)
    found: list[PolicyWarning] = context.meta.get(_WARNINGS_KEY, []) if context else []
    return [{"file": w.location.file, "line": w.location.line or None,
             "field": w.location.field or None, "message": w.text}
            for w in found if w.severity == severity]


class ReportsErrors(click.Command):
    """A command whose user mistakes end as messages and an exit code, never a traceback.

    A command given ``--json`` (its ``as_json`` parameter) also prints the failure as
    JSON on stdout, so CI reads the result of a failed run the same way as a good one.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with printing_warnings():
                return super().invoke(ctx)
        except PolicyError as exc:
            report(exc)
            if ctx.params.get("as_json") and not isinstance(self, click.Group):
                emit_json(failure_json(exc))
            ctx.exit(exc.exit_code)


class PolicyGroup(ReportsErrors, click.Group):
    """A group whose commands (and subgroups) report errors the same way."""

    command_class = ReportsErrors
    group_class = type  # subgroups are PolicyGroups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT)
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The words a subcommand will parse, so that a flag it cannot parse still gets
        # its JSON answer when --json is among them.
        ctx.meta.setdefault("policypacks.argv", list(args))
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if "--json" in ctx.meta.get("policypacks.argv", []) and \
                    not ctx.meta.get("policypacks.json_said"):
                ctx.meta["policypacks.json_said"] = True
                emit_json({"ok": False, "error": exc.format_message(),
                           "exit_code": exc.exit_code})
            raise


def command(name: str | None = None, **kwargs: Any) -> Any:
    """``click.command`` for a command that is registered outside its group's module."""
    return click.command(name, cls=ReportsErrors, **kwargs)


def group(name: str | None = None, **kwargs: Any) -> Any:
    return click.group(name, cls=PolicyGroup, **kwargs)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))
