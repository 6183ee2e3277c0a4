"""The ``policypacks`` command line (SPEC section 6).

One click group; each command group's module is imported only when one of its commands
runs (or ``--help`` lists them), so ``policypacks violations list`` never loads the
compiler and ``policypacks validate`` never loads HTTP or SQLite code. Errors are
reported in one place (:class:`.options.ReportsErrors`).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .options import PolicyGroup

#: command name -> "module:attribute", relative to this package.
COMMANDS = {
    "validate": "build:validate",
    "build": "build:build",
    "test": "testing:test",
    "eval": "build:eval_command",
    "effective": "build:effective",
    "conflicts": "build:conflicts",
    "publish": "deploy:publish_command",
    "opa": "deploy:opa_group",
    "serve": "deploy:serve_command",
    "doctor": "deploy:doctor_command",
    "violations": "audit:violations",
    "approvals": "audit:approvals",
    "schema": "authoring:schema_command",
    "init": "authoring:init_command",
    "promote": "authoring:promote_command",
    "replay": "replay:replay_command",
    "report": "report:report_command",
    "mcp-proxy": "mcp:mcp_proxy",
}


class LazyGroup(PolicyGroup):
    """Commands named in :data:`COMMANDS`, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute = COMMANDS[cmd_name].split(":")
        module = importlib.import_module(f".{module_name}", __name__)
        found: Any = getattr(module, attribute)
        return found if isinstance(found, click.Command) else None


@click.group(cls=LazyGroup)
@click.version_option(package_name="policypacks")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Compile YAML policy packs into tested OPA bundles for AI agents.

    \b
    A policy repository is a directory of YAML documents: one Identity, PolicyPacks
    (rules) and Agents (which packs each agent attaches). Typical CI job:
      policypacks validate packs
      policypacks test packs
      policypacks build packs -o bundle.tar.gz
    Then ask OPA about an action:
      echo '{"agent": "support-bot", "action": {"type": "spend", "amount": 80}}' \\
        | policypacks eval packs --input -

    Exit codes: 0 ok, 1 a check failed (tests, OPA), 2 bad input (the repository,
    a flag, an input file). With --json a command prints a JSON result on stdout
    when it fails too. Colour only on a terminal, never with NO_COLOR set.
    """
    from .console import color_disabled

    if color_disabled():
        ctx.color = False
