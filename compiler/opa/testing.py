"""``policypacks test``: check the compiled Rego, run the generated Rego tests (one per
pack example, Tool example and Test case) and report failures with the actual decision.

What each kind of case is judged by (docs/testing.md):

- a pack's ``examples:`` entry: the decision of **that pack alone** for the example's
  agent (the pack's level, enforcement and suppressed rules as precedence gives them to
  that agent), so adding or changing another pack never breaks it unless precedence
  makes it suppress one of this pack's rules;
- a Tool example and a ``kind: Test`` case: the whole decision (every pack of the agent).

The cases travel as a data document (``data.policypacks_cases.<identity>``), never as
Rego: the test module is fixed Rego with one small test rule per case, which looks its
case up by id. Three OPA processes at most: ``opa check --strict``, ``opa test``, and --
only when cases failed -- one ``opa eval`` for the actual decisions of the failed ones
and the assertions they broke.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bundle import write_tree
from ..compile import CompiledPolicy
from ..errors import Location, OpaError
from ..model import Repository
from ..render import rego_ref, render, test_package
from ..resolve import table_of
from ..scenarios import assertions
from ..vocabulary import package_segment
from ..waivers import expires_ns
from .binary import eval_json, run

TEST_FILE = "generated_test.rego"
EXAMPLE, TOOL, CASE = "example", "tool", "test"


@dataclass
class CaseResult:
    """One case and how it went: a pack example, a Tool example or a Test case."""

    kind: str  # EXAMPLE, TOOL or CASE
    owner: str  # the pack, Tool or Test document's id
    name: str
    input: dict[str, Any]
    expected: dict[str, Any]  # what the author wrote: expect, violations, approval, ...
    loc: Location
    test_id: str  # the Rego test is test_<test_id>
    pack: str | None = None  # judged by this pack alone (pack examples)
    now_ns: int | None = None  # OPA's clock for the case (a Test case's `at`)
    passed: bool = True
    actual: dict[str, Any] | None = None  # the decision it was judged by, when it failed
    failed: list[list[Any]] = field(default_factory=list)  # the assertions it broke

    @property
    def expect(self) -> str:
        return str(self.expected["expect"])

    @property
    def violations(self) -> Any:
        return self.expected.get("violations")

    def assertions(self) -> list[list[Any]]:
        return assertions({k: v for k, v in self.expected.items() if k != "action"}) + (
            [["action", "action", self.expected["action"]]] if "action" in self.expected
            else [])


@dataclass
class TestReport:
    __test__ = False  # not a pytest class

    check_errors: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)  # generic generated tests
    cases: list[CaseResult] = field(default_factory=list)
    tests_run: int = 0

    @property
    def ok(self) -> bool:
        return not (self.check_errors or self.failed_tests
                    or any(not c.passed for c in self.cases))

    @property
    def failures(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.passed]


def all_cases(repo: Repository) -> list[CaseResult]:
    """Every case of the repository: pack examples by pack, Tool examples, Test cases."""
    cases = []
    for pack_id in sorted(repo.packs):
        for index, example in enumerate(repo.packs[pack_id].examples):
            expected: dict[str, Any] = {"expect": example.expect}
            if example.violations is not None:
                expected["violations"] = example.violations
            if example.shadow is not None:
                expected["shadow"] = example.shadow
            cases.append(CaseResult(EXAMPLE, pack_id, example.name, example.input, expected,
                                    example.loc, f"example_{package_segment(pack_id)}_{index}",
                                    pack=pack_id))
    for tool in sorted(repo.tools.values(), key=lambda t: t.id):
        for index, ex in enumerate(tool.examples):
            # A tool example is a decision on a tool call: {agent, tool, usage}.
            doc: dict[str, Any] = {"agent": ex.agent,
                                   "tool": {"name": tool.tool, "arguments": ex.arguments}}
            if ex.usage is not None:
                doc["usage"] = ex.usage
            expected = {"expect": ex.expect}
            if ex.violations is not None:
                expected["violations"] = ex.violations
            if ex.action is not None:
                expected["action"] = ex.action
            cases.append(CaseResult(TOOL, tool.id, ex.name, doc, expected, ex.loc,
                                    f"tool_{package_segment(tool.id)}_{index}"))
    for suite_id in sorted(repo.tests):
        for index, case in enumerate(repo.tests[suite_id].cases):
            cases.append(CaseResult(CASE, suite_id, case.name, case.input, case.expected,
                                    case.loc, f"case_{package_segment(suite_id)}_{index}",
                                    now_ns=expires_ns(case.at) if case.at else None))
    return cases


def agent_packs(compiled: CompiledPolicy, doc: Any) -> set[str]:
    """The packs the input's agent has (its resolved table, and the base when the table
    uses it; an undeclared agent's is the unknownAgents table)."""
    resolved = compiled.config["resolved"]
    table = table_of(resolved, doc.get("agent") if isinstance(doc, dict) else None)
    # a table with base: true holds only the packs beyond the shared scope-all ones
    return set(table["packs"]) | (set(resolved["base"]["packs"]) if table["base"] else set())


def select(cases: list[CaseResult], compiled: CompiledPolicy, packs: Iterable[str] = (),
           tests: Iterable[str] = ()) -> list[CaseResult]:
    """The cases ``--pack`` and ``--test`` ask for (all of them when neither is given):
    a pack's own examples and every whole-agent case (Tool example, Test case) whose
    agent has the pack; a Test document's cases."""
    wanted_packs, wanted_tests = set(packs), set(tests)
    if not (wanted_packs or wanted_tests):
        return cases
    chosen = []
    for case in cases:
        if case.kind == CASE and case.owner in wanted_tests:
            chosen.append(case)
        elif case.kind == EXAMPLE:
            if case.owner in wanted_packs:
                chosen.append(case)
        elif wanted_packs & agent_packs(compiled, case.input):
            chosen.append(case)
    return chosen


def cases_ref(identity_id: str) -> str:
    return rego_ref(["data", "policypacks_cases", package_segment(identity_id)])


def cases_document(cases: list[CaseResult], now_ns: int | None = None) -> dict[str, Any]:
    """The data document the test module reads: test id -> {pack, input, assertions,
    now_ns}; ``now_ns`` (``test --at``) is the clock of the cases that set none."""
    return {c.test_id: {"pack": c.pack, "input": c.input, "assertions": c.assertions(),
                        "now_ns": c.now_ns if c.now_ns is not None else now_ns}
            for c in cases}


def render_tests(compiled: CompiledPolicy, cases: list[CaseResult]) -> str:
    return render(f"tests/{TEST_FILE}.j2", compiled.identity,
                  cases_ref=cases_ref(compiled.identity),
                  test_ids=[c.test_id for c in cases])


def write_tests(compiled: CompiledPolicy, cases: list[CaseResult], tests_dir: Path,
                now_ns: int | None = None) -> None:
    """The test module and its cases, laid out as Regal expects (the directory of a
    package mirrors it)."""
    segment = package_segment(compiled.identity)
    module = tests_dir / "policypacks" / segment / TEST_FILE
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(render_tests(compiled, cases))
    data = tests_dir / "policypacks_cases" / segment / "data.json"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text(json.dumps(cases_document(cases, now_ns), sort_keys=True))


def run_tests(repo: Repository, compiled: CompiledPolicy,
              cases: list[CaseResult] | None = None, now_ns: int | None = None) -> TestReport:
    """Check the bundle and run ``cases`` (default: every case of the repository), with
    OPA's clock at ``now_ns`` for the whole-agent cases that set no moment of their own."""
    report = TestReport(cases=all_cases(repo) if cases is None else cases)
    with tempfile.TemporaryDirectory(prefix="policypacks-test-") as tmp:
        bundle_dir = Path(tmp) / "bundle"
        write_tree(compiled, bundle_dir)
        check = run(["check", "--strict", "--bundle", str(bundle_dir)])
        if check.returncode != 0:
            report.check_errors = (check.stderr or check.stdout).strip().splitlines()
            return report
        tests_dir = Path(tmp) / "tests"
        write_tests(compiled, report.cases, tests_dir, now_ns)
        proc = run(["test", "--format", "json", str(bundle_dir), str(tests_dir)])
        results = _parse_test_output(proc.stdout, proc.stderr)
        report.tests_run = len(results)
        by_name = {f"test_{c.test_id}": c for c in report.cases}
        for result in results:
            if not (result.get("fail") or result.get("error")):
                continue
            case = by_name.get(result["name"])
            if case is None:
                detail = (result.get("error") or {}).get("message", "failed")
                report.failed_tests.append(f"{result['name']}: {detail}")
            else:
                case.passed = False
        if report.failures:
            _explain(compiled, report.failures, bundle_dir, tests_dir)
    return report


def _explain(compiled: CompiledPolicy, failed: list[CaseResult], bundle_dir: Path,
             tests_dir: Path) -> None:
    """The decision each failed case was judged by and the assertions it broke, from the
    same Rego that judged it."""
    module = "data." + test_package(compiled.identity)
    query = (f'{{"actual": {{id: d | some id in input; d := {module}.outcome[id]}}, '
             f'"failed": {{id: f | some id in input; f := {module}.failed[id]}}}}')
    answer = eval_json(query, bundle=bundle_dir, data=[tests_dir],
                       input_doc=[c.test_id for c in failed])
    if not isinstance(answer, dict):
        raise OpaError("opa eval gave no outcome for the failed cases")
    for case in failed:
        case.actual = answer["actual"].get(case.test_id)
        case.failed = answer["failed"].get(case.test_id, case.assertions())


def _parse_test_output(stdout: str, stderr: str) -> list[dict[str, Any]]:
    try:
        results = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise OpaError(f"opa test failed:\n{(stderr or stdout).strip()}") from exc
    if not isinstance(results, list):
        raise OpaError(f"opa test printed an unexpected document: {stdout[:200]}")
    return results
