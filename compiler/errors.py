"""Errors a user can make, each with the place it was made.

The CLI prints every :class:`PolicyError` as ``FILE:LINE: message`` and exits with the
code the error class carries, so no user mistake ever ends in a traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1  # the thing checked failed: a test, an unreachable OPA
EXIT_BAD_INPUT = 2  # the repository or the command line is wrong


@dataclass(frozen=True, order=True)
class Location:
    """Where something was written: a file, a 1-based line, and the field path in it."""

    file: str
    line: int = 0
    field: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, order=True)
class Problem:
    location: Location
    message: str

    def __str__(self) -> str:
        where = f"{self.location.field}: " if self.location.field else ""
        return f"{self.location}: {where}{self.message}"


class PolicyError(Exception):
    """Base of every error the CLI reports without a traceback."""

    exit_code = EXIT_FAILURE

    def lines(self) -> list[str]:
        return [str(self)]


class ValidationFailed(PolicyError):
    """The repository is invalid; carries every problem found, sorted by place."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__(f"{len(self.problems)} problem(s) in the policy repository")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class UsageError(PolicyError):
    """A bad command line or input file (not the repository)."""

    exit_code = EXIT_BAD_INPUT


class OpaError(PolicyError):
    """OPA is missing, failed, or answered something we cannot use."""

    exit_code = EXIT_FAILURE


@dataclass
class Problems:
    """Collects problems (and warnings) during a pass; raise them all at once at the end."""

    items: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)

    def add(self, location: Location, message: str) -> None:
        self.items.append(Problem(location, message))

    def warn(self, location: Location, message: str) -> None:
        """A finding worth saying that is not an error (see :func:`warn`)."""
        self.warnings.append(Problem(location, message))

    def note(self, location: Location, message: str) -> None:
        """Less than a warning: what was done on the user's behalf (a file skipped).
        Printed as ``FILE:LINE: note: message``; ``--strict`` does not fail on notes."""
        self.notes.append(Problem(location, message))

    @contextmanager
    def collecting(self) -> Iterator[Problems]:
        """While inside, :func:`warn` anywhere adds to these warnings."""
        token = _collector.set(self)
        try:
            yield self
        finally:
            _collector.reset(token)

    def emit_warnings(self) -> None:
        """Each warning, sorted by place and once, as a :class:`PolicyWarning`: the CLI
        prints them (``FILE:LINE: warning: message``), a library caller gets Python
        warnings."""
        for problem in sorted(set(self.notes)):
            warnings.warn(PolicyNote(problem.location, problem.message), stacklevel=3)
        for problem in sorted(set(self.warnings)):
            warnings.warn(PolicyWarning(problem.location, problem.message), stacklevel=3)

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


class PolicyWarning(UserWarning):
    """Worth saying, not an error (a YAML file that is not a policy file was skipped).

    Raised through :mod:`warnings`, so library callers see them as Python warnings (or
    turn them into errors with ``-W error::policypacks.errors.PolicyWarning``); the CLI
    prints each on stderr as ``FILE:LINE: warning: message``."""

    severity = "warning"

    def __init__(self, location: Location, message: str):
        where = f"{location.field}: " if location.field else ""
        super().__init__(f"{location}: {self.severity}: {where}{message}")
        self.location = location
        self.text = message


class PolicyNote(PolicyWarning):
    """A note (``FILE:LINE: note: message``): something done on the user's behalf, such
    as skipping a YAML file that is not a policy file. Never fatal, even with --strict."""

    severity = "note"


_collector: ContextVar[Problems | None] = ContextVar("policypacks_warnings", default=None)


def warn(location: Location, message: str) -> None:
    """Say something worth saying that is not an error, at ``location``: the one call
    every check makes (``ctx.warn(message)`` inside a schema check does the same at the
    value's own place).

    During :func:`policypacks.validate.validate_repository` the warning joins that
    run's (sorted, once each, listed by ``--json``, fatal with ``--strict``); anywhere
    else it is raised at once as a :class:`PolicyWarning`."""
    sink = _collector.get()
    if sink is not None:
        sink.warn(location, message)
    else:
        warnings.warn(PolicyWarning(location, message), stacklevel=2)


def note(location: Location, message: str) -> None:
    """Like :func:`warn`, for a :class:`PolicyNote`."""
    sink = _collector.get()
    if sink is not None:
        sink.note(location, message)
    else:
        warnings.warn(PolicyNote(location, message), stacklevel=2)


def display_path(path: Path, base: Path | None = None) -> str:
    """A path as the user should see it: relative to the cwd when it is below it."""
    try:
        return str(path.resolve().relative_to((base or Path.cwd()).resolve()))
    except ValueError:
        return str(path)
