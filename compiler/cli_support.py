"""What every command group shares: error reporting and JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from .errors import PolicyError


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn PolicyError into its message lines on stderr and its exit code: a user
    mistake never ends in a traceback."""
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PolicyError as exc:
            for line in exc.lines():
                click.echo(line, err=True)
            sys.exit(exc.exit_code)
    return wrapper


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))
