"""``policypacks test``: the Rego checks, every pack example (judged by its pack alone),
every Tool example and every ``kind: Test`` case, through OPA (docs/testing.md).

``--pack`` and ``--test`` narrow the run; ``--watch`` runs again whenever a YAML file of
the repository changes (polling, no extra dependency) until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..compile import compile_repository
from ..errors import EXIT_FAILURE, EXIT_OK, PolicyError, Problems, UsageError
from ..load import repository_files
from ..opa.testing import CASE, EXAMPLE, TOOL, CaseResult, TestReport, all_cases, run_tests, select
from ..scenarios import EXPECTATIONS
from ..validate import validate_repository
from ..waivers import moment_ns
from .console import style
from .options import (
    JSON_OPT,
    REPO_ARG,
    STRICT_OPT,
    command,
    emit_json,
    failure_json,
    report,
    warnings_json,
)

#: What a case's kind is called in the output.
KIND_WORDS = {EXAMPLE: "pack", TOOL: "tool", CASE: "test"}
WHAT = {EXAMPLE: "example", TOOL: "example", CASE: "case"}
#: How each decision field's expectation reads in a failure report.
FIELD_KEYS = {e.field: key for key, e in EXPECTATIONS.items()}


@command()
@REPO_ARG
@click.option("--pack", "packs", multiple=True, metavar="ID",
              help="Only this pack's examples, and the Tool examples and Test cases whose "
              "agent has the pack (repeatable).")
@click.option("--test", "tests", multiple=True, metavar="ID",
              help="Only the cases of this Test document (repeatable).")
@click.option("--watch", is_flag=True,
              help="Run again whenever a YAML file of the repository changes; Ctrl-C stops.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True,
              help="With --watch: seconds between looks at the files.")
@click.option("--at", "at", metavar="TIME",
              help="Decide the Tool examples and Test cases as OPA would at this moment "
              "(RFC 3339); a case's own `at:` wins. Waivers expire.")
@STRICT_OPT
@JSON_OPT
def test(repo: Path, packs: tuple[str, ...], tests: tuple[str, ...], watch: bool,
         interval: float, at: str | None, strict: bool, as_json: bool) -> None:
    """Run opa check --strict, the generated Rego tests, every pack example (judged by
    its own pack alone), every Tool example and every Test case (the whole decision).

    A failure names FILE:LINE of its example or case, the expected and the actual
    decision. Exits 0 when everything passes, 1 when a test fails, 2 for a bad
    repository or an unknown --pack / --test id.
    """
    now_ns = moment_ns(at) if at else None
    if not watch:
        sys.exit(run_once(repo, packs, tests, strict, as_json, now_ns, raise_errors=True))
    watch_repository(repo, lambda: run_once(repo, packs, tests, strict, as_json, now_ns),
                     interval)


def run_once(repo: Path, packs: tuple[str, ...], tests: tuple[str, ...], strict: bool,
             as_json: bool, now_ns: int | None = None, raise_errors: bool = False) -> int:
    """One run: its exit code. Errors are raised (one-shot, the command reports them) or
    reported here (``--watch`` keeps going)."""
    earlier = len(warnings_json())  # --watch: the warnings of earlier runs
    try:
        parsed = validate_repository(repo, strict=strict)
        _check_ids(repo, "PolicyPack", "--pack", packs, set(parsed.packs))
        _check_ids(repo, "Test", "--test", tests, set(parsed.tests))
        compiled = compile_repository(parsed, "test")
        cases = select(all_cases(parsed), compiled, packs, tests)
        result = run_tests(parsed, compiled, cases, now_ns)
    except PolicyError as exc:
        if raise_errors:
            raise
        report(exc)
        if as_json:
            emit_json(failure_json(exc))
        return exc.exit_code
    show(result, as_json, warnings_json()[earlier:])
    return EXIT_OK if result.ok else EXIT_FAILURE


def _check_ids(repo: Path, kind: str, flag: str, asked: tuple[str, ...],
               known: set[str]) -> None:
    unknown = [i for i in asked if i not in known]
    if unknown:
        raise UsageError(f"{repo}: {flag} {', '.join(map(repr, unknown))}: no {kind} with "
                         f"that id (known: {', '.join(sorted(known)) or 'none'})")


# ---- output ------------------------------------------------------------------------

def show(result: TestReport, as_json: bool, warned: list[dict[str, Any]]) -> None:
    if as_json:
        emit_json({**json_result(result), "warnings": warned})
        return
    for line in result.check_errors:
        click.echo(f"opa check: {line}", err=True)
    for line in result.failed_tests:
        click.echo(style("FAIL", "fail") + f" {line}", err=True)
    for case in result.failures:
        click.echo(describe_failure(case), err=True)
    failed = len(result.failures)
    counts = {kind: sum(c.kind == kind for c in result.cases) for kind in (EXAMPLE, TOOL, CASE)}
    what = ", ".join(f"{n} {label}" for n, label in (
        (counts[EXAMPLE], "pack examples"), (counts[TOOL], "tool examples"),
        (counts[CASE], "test cases")) if n or label == "pack examples")
    click.echo(style(f"{len(result.cases) - failed} passed", "ok") + ", "
               + style(f"{failed} failed", "fail" if failed else "ok")
               + f" ({what}); {result.tests_run} Rego tests run")


def json_result(result: TestReport) -> dict[str, Any]:
    cases = [_case_json(c) for c in result.cases]
    return {
        "ok": result.ok, "check_errors": result.check_errors,
        "failed_tests": result.failed_tests, "tests": result.tests_run,
        "passed": sum(c.passed for c in result.cases), "failed": len(result.failures),
        "cases": cases,
        # the pack and Tool examples, as earlier versions printed them
        "examples": [c for c in cases if c["kind"] != CASE],
    }


def _case_json(case: CaseResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": case.kind, KIND_WORDS[case.kind]: case.owner, "name": case.name,
        "file": case.loc.file, "line": case.loc.line or None, "passed": case.passed,
        "expect": case.expect, "expected_violations": case.violations,
        "expected": case.expected, "actual": case.actual,
        "judged_by": f"pack {case.pack} alone" if case.pack else "the whole decision",
    }
    if not case.passed:
        out["failed"] = [{"field": field, "how": how, "expected": want,
                          "actual": _actual_value(case.actual, how, field)}
                         for how, field, want in case.failed]
    return out


def _ids(violations: Any) -> list[str]:
    if not isinstance(violations, list):
        return []
    return sorted(f"{v.get('pack')}/{v.get('rule')}" for v in violations if isinstance(v, dict))


def _actual_value(actual: dict[str, Any] | None, how: str, field: str) -> Any:
    if actual is None:
        return None
    value = actual.get(field)
    if how.startswith("ids"):
        return _ids(value)
    if how == "action" and isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "tool"}
    return value


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _expected_text(how: str, want: Any) -> str:
    if how in ("ids_include", "objects_include"):
        return f"including {_text(sorted(want) if how == 'ids_include' else want)}"
    if how in ("ids_exclude", "objects_exclude"):
        return f"none of {_text(sorted(want) if how == 'ids_exclude' else want)}"
    if how == "subset" and want is not None:
        return f"at least {_text(want)}"
    return _text(sorted(want) if how == "ids" else want)


def describe_failure(case: CaseResult) -> str:
    actual = case.actual or {}
    judged = f" (judged by pack {case.pack} alone)" if case.pack else ""
    exact = case.violations if isinstance(case.violations, list) else None
    lines = [style("FAIL", "fail") + f" {case.loc}: {KIND_WORDS[case.kind]} {case.owner}, "
             f"{WHAT[case.kind]} {case.name!r}{judged}",
             f"  expected: {case.expect}"
             + (f" with violations {sorted(exact)}" if exact is not None else ""),
             f"  actual:   {actual.get('decision')} with violations "
             f"{_ids(actual.get('violations'))}"]
    if case.actual is None:
        lines.append("  (no decision: OPA gave none for this input)")
    for how, field, want in case.failed:
        if (how, field) in (("equals", "decision"), ("ids", "violations")):
            continue  # on the two lines above
        key = FIELD_KEYS.get(field, field)
        lines.append(f"  {key}: expected {_expected_text(how, want)}, got "
                     f"{_text(_actual_value(case.actual, how, field))}")
    for violation in actual.get("violations", []):
        lines.append(f"    - {violation['pack']}/{violation['rule']} "
                     f"[{violation['enforcement']}]: {violation['message']}")
    return "\n".join(lines)


# ---- --watch -----------------------------------------------------------------------

def fingerprint(repo: Path) -> tuple[tuple[str, int, int], ...]:
    """What a change shows in: every YAML file the loader would read, with its
    modification time and size (a file added, removed or edited changes it)."""
    files, _ = repository_files(repo, Problems())
    out = []
    for real, shown in files:
        try:
            info = os.stat(real)
        except OSError:
            continue
        out.append((str(shown), info.st_mtime_ns, info.st_size))
    return tuple(out)


def stoppable_by_ctrl_c() -> None:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt here even where this process inherited
    SIGINT ignored or blocked (Python then leaves it so: a job some shells or test
    runners start), so "Ctrl-C stops" holds however the watch was started."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def watch_repository(repo: Path, run: Callable[[], int], interval: float,
                     sleep: Callable[[float], None] = time.sleep) -> None:
    """Run now, then again after every change, until Ctrl-C (exit 0)."""
    stoppable_by_ctrl_c()
    runs = 0
    try:
        while True:
            runs += 1
            stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            click.echo(style(f"==== policypacks test: run {runs}, {stamp} ====", "dim"),
                       err=True)
            seen = fingerprint(repo)
            code = run()
            click.echo(style(f"---- {'passed' if code == EXIT_OK else 'failed'}; watching "
                             f"{repo} for changes (Ctrl-C stops)", "dim"), err=True)
            while fingerprint(repo) == seen:
                sleep(interval)
    except KeyboardInterrupt:
        click.echo("stopped watching", err=True)
    sys.exit(EXIT_OK)
