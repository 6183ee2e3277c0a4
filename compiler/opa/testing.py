"""``policypacks test``: check the compiled Rego, run the generated Rego tests (which
include every pack example) and report failures with the actual decision.

Three OPA processes at most: ``opa check --strict``, ``opa test``, and -- only when
examples failed -- one ``opa eval`` for the actual decisions of the failed ones.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bundle import write_tree
from ..compile import CompiledPolicy
from ..errors import OpaError
from ..model import PackExample, Repository
from ..render import render
from ..vocabulary import package_segment
from .binary import run
from .evaluate import decisions

TEST_FILE = "generated_test.rego"


@dataclass
class ExampleResult:
    pack: str
    example: PackExample
    test_id: str
    passed: bool = True
    actual: dict[str, Any] | None = None
    action: dict[str, Any] | None = None  # a tool example's expected mapped action


@dataclass
class TestReport:
    check_errors: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)  # generic generated tests
    examples: list[ExampleResult] = field(default_factory=list)
    tests_run: int = 0

    @property
    def ok(self) -> bool:
        return not (self.check_errors or self.failed_tests
                    or any(not e.passed for e in self.examples))


def example_cases(repo: Repository) -> list[ExampleResult]:
    cases = []
    for pack_id in sorted(repo.packs):
        for index, example in enumerate(repo.packs[pack_id].examples):
            cases.append(ExampleResult(pack_id, example,
                                       f"{package_segment(pack_id)}_{index}"))
    for tool in sorted(repo.tools.values(), key=lambda t: t.id):
        for index, ex in enumerate(tool.examples):
            # A tool example is a decision on a tool call: {agent, tool, usage}.
            doc: dict[str, Any] = {"agent": ex.agent,
                                   "tool": {"name": tool.tool, "arguments": ex.arguments}}
            if ex.usage is not None:
                doc["usage"] = ex.usage
            cases.append(ExampleResult(
                f"tool {tool.id}", PackExample(ex.name, doc, ex.expect, ex.violations, ex.loc),
                f"tool_{package_segment(tool.id)}_{index}", action=ex.action))
    return cases


def render_tests(compiled: CompiledPolicy, cases: list[ExampleResult]) -> str:
    examples = [{"test_id": c.test_id, "input": c.example.input, "expect": c.example.expect,
                 "violations": c.example.violations, "action": c.action} for c in cases]
    return render(f"tests/{TEST_FILE}.j2", compiled.identity, examples=examples)


def run_tests(repo: Repository, compiled: CompiledPolicy) -> TestReport:
    report = TestReport(examples=example_cases(repo))
    with tempfile.TemporaryDirectory(prefix="policypacks-test-") as tmp:
        bundle_dir = Path(tmp) / "bundle"
        write_tree(compiled, bundle_dir)
        check = run(["check", "--strict", "--bundle", str(bundle_dir)])
        if check.returncode != 0:
            report.check_errors = (check.stderr or check.stdout).strip().splitlines()
            return report
        tests_dir = Path(tmp) / "tests"
        tests_dir.mkdir()
        (tests_dir / TEST_FILE).write_text(render_tests(compiled, report.examples))
        proc = run(["test", "--format", "json", str(bundle_dir), str(tests_dir)])
        results = _parse_test_output(proc.stdout, proc.stderr)
    report.tests_run = len(results)
    by_case = {f"test_example_{c.test_id}": c for c in report.examples}
    for result in results:
        if not (result.get("fail") or result.get("error")):
            continue
        case = by_case.get(result["name"])
        if case is None:
            detail = result.get("error", {}).get("message", "failed")
            report.failed_tests.append(f"{result['name']}: {detail}")
        else:
            case.passed = False
    failed = [c for c in report.examples if not c.passed]
    if failed:
        actual = decisions(compiled, [c.example.input for c in failed])
        for case, answer in zip(failed, actual, strict=True):
            case.actual = answer
    return report


def _parse_test_output(stdout: str, stderr: str) -> list[dict[str, Any]]:
    try:
        results = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise OpaError(f"opa test failed:\n{(stderr or stdout).strip()}") from exc
    if not isinstance(results, list):
        raise OpaError(f"opa test printed an unexpected document: {stdout[:200]}")
    return results
