"""Validation warnings (docs/validation.md), as a person and CI see them: through the CLI.

Every case of the table is one pack file whose only rule sits on line 7; one run of
``policypacks validate --json`` over the whole table answers every case (and a second,
without --json, what stderr says)."""
# ruff: noqa: E501  (tables: one case per line)

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import agent, decide, identity, pack

CLI = [sys.executable, "-m", "policypacks.cli"]
HEAD = ("apiVersion: policypacks/v1\nkind: PolicyPack\nmetadata: {{id: {id}}}\nspec:\n"
        "  enforcement: block\n  rules:\n")
IDENTITY = "apiVersion: policypacks/v1\nkind: Identity\nmetadata: {id: acme}\nspec: {}\n"
LINE = 7
C = "type: condition, message: m"

# the rule (YAML, written as is on line 7)                                   kind     says
CASES: list[tuple[str, str | None, str]] = [
    (r'{id: r, type: prohibited_topics, patterns: {x: ["\bword\b"]}}',          "warning", r'''patterns.x[0]: pattern contains the control character U+0008 (backspace): in YAML double quotes "\b" becomes a backspace, not RE2's word boundary \b; write the pattern in single quotes ('\bword\b') or as "\\b"'''),
    (r"{id: r, type: prohibited_topics, patterns: {x: ['\bword\b']}}",          None,      ""),
    (r'{id: r, type: prohibited_topics, patterns: {x: ["\\bword\\b"]}}',        None,      ""),
    (r'{id: r, type: tone, allowed: [formal], markers: {casual: ["\bdude"]}}',  "warning", "markers.casual[0]: pattern contains the control character U+0008 (backspace)"),
    (r'{id: r, type: formatting, forbid: ["\e(31)"]}',                          "warning", "forbid[0]: pattern contains the control character U+001B (escape), which text almost never holds"),
    (r'{id: r, type: formatting, require: ["a", "\x01\a"]}',                    "warning", "require[1]: pattern contains the control characters U+0001, U+0007 (bell)"),
    (r'{id: r, type: formatting, forbid: [""]}',                                "warning", "forbid[0]: an empty pattern matches every text"),
    (r"{id: r, type: formatting, forbid: ['\t']}",                              None,      ""),
    (rf'{{id: r, {C}, when: {{field: action.content.text, matches: "\bx"}}}}',  "warning", "when.matches: pattern contains the control character U+0008 (backspace)"),
    (r'{id: r, type: terminology, forbid: ["C\b"]}',                            "warning", "forbid[0]: term contains the control character U+0008 (backspace), which text almost never holds: a backslash escape in YAML double quotes made it; write the term in single quotes"),
    (r'{id: r, type: terminology, forbid: ["C++ "]}',                           "warning", 'forbid[0]: term "C++ " starts or ends with whitespace, which is part of the term'),
    (r'{id: r, type: prohibited_topics, topics: {x: [" lawsuit"]}}',            "warning", 'topics.x[0]: keyword " lawsuit" starts or ends with whitespace'),
    (r"{id: r, type: terminology, forbid: [C++, $100, .NET]}",                  None,      ""),
    (r'{id: r, type: prohibited_topics, topics: {x: [refund, " "]}}',           "error",   'topics.x[1]: a blank keyword (" ") would match almost every text: write a word or phrase, or remove it'),
    (r'{id: r, type: prohibited_topics, topics: {x: [""]}}',                    "error",   'topics.x[0]: a blank keyword ("") would match almost every text'),
    (r'{id: r, type: terminology, forbid: ["\t"]}',                             "error",   'forbid[0]: a blank term ("\\t") would match almost every text'),
    (r'{id: r, type: terminology, replace: {"  ": client}}',                    "error",   'replace.  : a blank term ("  ") would match almost every text'),
    (r'{id: r, type: terminology, replace: {customer: " "}}',                   "error",   "replace.customer: \" \" is not valid: must contain more than whitespace"),
    (rf'{{id: r, {C}, when: {{field: action.amount, gt: "10"}}}}',              "error",   'when.gt: action.amount is a number (docs/input.md), so \'gt\' with string "10" never holds; write 10 without quotes'),
    (rf'{{id: r, {C}, when: {{field: usage.actions.refund.day, gte: "3"}}}}',   "error",   "when.gte: usage.actions.refund.day is a number (docs/input.md), so 'gte' with string \"3\" never holds; write 3 without quotes"),
    (rf'{{id: r, {C}, when: {{field: action.type, lt: 5}}}}',                   "error",   "when.lt: action.type is a string (docs/input.md), so 'lt' with integer 5 never holds"),
    (rf'{{id: r, {C}, when: {{field: action.discount, lte: "5"}}}}',            "warning", "when.lte: 'lte' with the string \"5\" compares text: it never holds for a field that is a number (a number and a string do not compare), and text compares by character (\"9\" is after \"10\"); write 5 without quotes"),
    (rf'{{id: r, {C}, when: {{field: action.discount, lt: " 2.5 "}}}}',         "warning", "when.lt: 'lt' with the string \" 2.5 \" compares text"),
    (rf'{{id: r, {C}, when: {{field: action.when, gte: "2024-01-01"}}}}',       None,      ""),
    (rf'{{id: r, {C}, when: {{field: action.discount, lt: 5}}}}',               None,      ""),
    (rf'{{id: r, {C}, when: {{field: action.amount, equals: "100"}}}}',         "warning", "when.equals: action.amount is a number (docs/input.md), so 'equals' with string \"100\" never holds; write 100 without quotes"),
    (rf'{{id: r, {C}, when: {{field: action.amount, not_equals: "100"}}}}',     "warning", "when.not_equals: action.amount is a number (docs/input.md), so 'not_equals' with string \"100\" always holds"),
    (rf'{{id: r, {C}, when: {{field: action.data.consent, equals: "true"}}}}',  "warning", "when.equals: action.data.consent is true or false (docs/input.md), so 'equals' with string \"true\" never holds; write true without quotes"),
    (rf'{{id: r, {C}, when: {{field: action.gift, equals: "False"}}}}',         "warning", "when.equals: 'equals' compares with the string \"False\": a field that is true or false never equals it; write false without quotes"),
    (rf'{{id: r, {C}, when: {{field: action.amount, matches: "^1"}}}}',         "warning", "when.matches: action.amount is a number (docs/input.md), so 'matches' never holds"),
    (rf'{{id: r, {C}, when: {{field: action.order_id, equals: "100"}}}}',       None,      ""),
    (r'{id: r, type: disclaimer, text: T, when: {field: action.amount, lt: "1"}}', "error", "when.lt: action.amount is a number"),
]


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={**os.environ, **(env or {})})


def write_cases(root: Path, cases: list[tuple[str, str | None, str]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "identity.yaml").write_text(IDENTITY)
    for index, (rule, _, _) in enumerate(cases):
        (root / f"case{index:02d}.yaml").write_text(HEAD.format(id=f"p{index}") + f"    - {rule}\n")
    return root


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = write_cases(tmp_path_factory.mktemp("warnings") / "repo", CASES)
    proc = cli("validate", ".", "--json", cwd=root)
    assert "Traceback" not in proc.stderr
    return {"json": json.loads(proc.stdout), "stderr": proc.stderr, "exit": proc.returncode}


def said(entries: list[dict[str, Any]], index: int) -> list[str]:
    return [f"{e['line']}: {e['field'] or ''}: {e['message']}" for e in entries
            if e["file"] == f"case{index:02d}.yaml"]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0][:60] for c in CASES])
def test_each_case_says_what_it_should_where_it_should(table: dict[str, Any], index: int) -> None:
    _, kind, text = CASES[index]
    result = table["json"]
    warnings = said(result["warnings"], index)
    errors = said(result.get("errors", []), index)
    path, _, message = text.partition(": ")
    if kind is None:
        assert warnings == [] and errors == []
        return
    found, other = (warnings, errors) if kind == "warning" else (errors, warnings)
    assert other == [], other
    assert len(found) == 1, found
    line, field, got = found[0].split(": ", 2)
    assert line == str(LINE)
    assert field == f"spec.rules[0].{path}"
    assert got.startswith(message), got
    # and stderr says it as a person reads it: FILE:LINE: [warning: ]field: message
    marker = "warning: " if kind == "warning" else ""
    assert f"case{index:02d}.yaml:{LINE}: {marker}spec.rules[0].{path}: {message}" in \
        table["stderr"]


def test_the_table_has_errors_so_the_run_fails_and_still_lists_warnings(
        table: dict[str, Any]) -> None:
    assert table["exit"] == 2 and table["json"]["valid"] is False
    assert len(table["json"]["warnings"]) == sum(k == "warning" for _, k, _ in CASES)


WARNING_ONLY = [c for c in CASES if c[1] == "warning"][:3]


@pytest.fixture
def warned(tmp_path: Path) -> Path:
    return write_cases(tmp_path / "repo", WARNING_ONLY)


# command line                                      exit   stdout has
COMMANDS = [
    (["validate", "."],                               0, "ok: identity acme, 3 packs, 3 rules, 0 agents, 3 warnings"),
    (["validate", ".", "--strict"],                   2, ""),
    (["validate", ".", "--warnings-as-errors"],       2, ""),
    (["build", ".", "-o", "b.tar.gz"],                0, "wrote b.tar.gz"),
    (["build", ".", "-o", "b.tar.gz", "--strict"],    2, ""),
    (["test", "."],                                   0, "0 passed, 0 failed"),
    (["test", ".", "--strict"],                       2, ""),
]


@pytest.mark.parametrize("args, exit_code, stdout", COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_warnings_leave_the_exit_code_alone_unless_strict(warned: Path, args: list[str],
                                                          exit_code: int, stdout: str) -> None:
    proc = cli(*args, cwd=warned)
    assert proc.returncode == exit_code, proc.stderr
    assert stdout in proc.stdout
    lines = proc.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines[:3]] == ["case00.yaml:7", "case01.yaml:7",
                                                           "case02.yaml:7"]
    assert all(": warning: " in line for line in lines[:3])
    if exit_code:
        assert lines[3:] == [".: 3 warnings, and --strict (strict validation) treats warnings "
                             "as errors"]
    assert (warned / "b.tar.gz").exists() is (args[0] == "build" and not exit_code)


# command line                                      exit
JSON_COMMANDS = [
    (["validate", ".", "--json"],                     0),
    (["validate", ".", "--json", "--strict"],         2),
    (["build", ".", "-o", "b.tar.gz", "--json"],      0),
    (["build", ".", "-o", "b.tar.gz", "--json", "--strict"], 2),
    (["test", ".", "--json"],                         0),
    (["test", ".", "--json", "--strict"],             2),
]


@pytest.mark.parametrize("args, exit_code", JSON_COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_json_lists_the_warnings_on_success_and_failure(warned: Path, args: list[str],
                                                        exit_code: int) -> None:
    proc = cli(*args, cwd=warned)
    assert proc.returncode == exit_code, proc.stderr
    result = json.loads(proc.stdout)
    assert [(w["file"], w["line"]) for w in result["warnings"]] == [
        (f"case{i:02d}.yaml", LINE) for i in range(3)]
    assert result["warnings"][0]["field"] == "spec.rules[0].patterns.x[0]"
    assert result["warnings"][0]["message"].startswith("pattern contains the control character")
    if exit_code:
        assert result["ok"] is False and result["valid"] is False
        assert result["errors"][0]["message"].startswith("3 warnings, and --strict")


def test_warnings_are_python_warnings_for_library_callers(warned: Path) -> None:
    from policypacks.errors import PolicyWarning
    from policypacks.validate import validate_repository

    with pytest.warns(PolicyWarning) as caught:
        validate_repository(warned)
    assert [str(w.message).split(": warning: ")[0] for w in caught] == [
        f"{warned / f'case{i:02d}.yaml'}:{LINE}" for i in range(3)]


# term    text                       fires   (through OPA: terms whose edges are symbols match)
MATCHING = [
    ("C++",   "we use C++ daily",        True),
    ("C++",   "C++",                     True),
    ("C++",   "(c++)",                   True),
    ("C++",   "C++11",                   False),
    ("C++",   "xC++ y",                  False),
    ("$100",  "a $100 refund",           True),
    ("$100",  "US$100",                  False),
    ("$100",  "$1000",                   False),
    (".NET",  "on .net, today",          True),
    (".NET",  "ASP.NET",                 False),
    ("e-mail", "send an e-mail",         True),
    ("a+",    "grade a+!",               True),
    ("a+",    "a+b",                     False),
    ("a+",    "ba+",                     False),
]


@pytest.mark.parametrize("kind", ["terminology", "prohibited_topics"])
def test_terms_with_symbol_edges_fire_through_opa(tmp_path: Path, kind: str) -> None:
    documents: list[dict[str, Any]] = [identity()]
    inputs = []
    for index, (term, text, _) in enumerate(MATCHING):
        params = ({"forbid": [term, "unrelated"]} if kind == "terminology"
                  else {"topics": {"t": ["unrelated", term]}})
        documents.append(pack(f"p{index}", "block", [{"id": "r", "type": kind, **params}],
                              scope="none"))
        documents.append(agent(f"a{index}", [{"pack": f"p{index}"}]))
        inputs.append({"agent": f"a{index}",
                       "action": {"type": "send_message", "content": {"text": text}}})
    decisions = decide(tmp_path, documents, inputs)
    got = [(term, text, d["decision"] == "block") for (term, text, _), d in
           zip(MATCHING, decisions, strict=True)]
    assert got == MATCHING


# where the output goes               yellow "warning:"
COLOUR = [
    ("terminal",                       True),
    ("terminal with NO_COLOR=1",       False),
    ("pipe",                           False),
]


@pytest.mark.parametrize("where, coloured", COLOUR)
def test_warning_is_yellow_only_on_a_terminal(warned: Path, where: str, coloured: bool) -> None:
    from test_cli_json import in_terminal

    if where == "pipe":
        seen = cli("validate", str(warned), cwd=warned, env={"NO_COLOR": ""}).stderr
    else:
        seen = in_terminal("validate", str(warned),
                           env={"NO_COLOR": "1"} if "NO_COLOR" in where else None)
    assert "warning:" in seen and "spec.rules[0].patterns.x[0]" in seen
    assert ("\x1b[33mwarning:\x1b[0m" in seen) is coloured
    assert ("\x1b[" in seen) is coloured


# extra files beside the packs                                    --strict exit  notes  warnings
NOTES = [
    ({"docker-compose.yaml": "services: {opa: {image: opa}}\n"},       0,            1,     0),
    ({".pre-commit-config.yaml": "repos: []\n", "ci.yml": "on: push\n"}, 0,          2,     0),
    ({"docker-compose.yaml": "services: {}\n", "case.yaml": HEAD.format(id="p") + '    - {id: r, type: formatting, forbid: [""]}\n'}, 2, 1, 1),
]


@pytest.mark.parametrize("files, exit_code, notes, warnings", NOTES)
def test_a_skipped_file_is_a_note_that_strict_lets_pass(tmp_path: Path, files: dict[str, str],
                                                        exit_code: int, notes: int,
                                                        warnings: int) -> None:
    (tmp_path / "identity.yaml").write_text(IDENTITY)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = cli("validate", ".", "--strict", "--json", cwd=tmp_path)
    assert proc.returncode == exit_code, proc.stderr
    result = json.loads(proc.stdout)
    assert (len(result["notes"]), len(result["warnings"])) == (notes, warnings)
    assert all(n["message"].startswith("skipped: no document in this file has apiVersion")
               for n in result["notes"])
    assert proc.stderr.count(": note: skipped") == notes


def test_promote_says_each_warning_once(tmp_path: Path) -> None:
    (tmp_path / "identity.yaml").write_text(IDENTITY)
    (tmp_path / "p.yaml").write_text(HEAD.format(id="p").replace("block", "shadow")
                                     + '    - {id: r, type: formatting, forbid: [""]}\n')
    proc = cli("promote", "p", ".", "--to", "block", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "enforcement: block" in (tmp_path / "p.yaml").read_text()
    assert proc.stderr.count("warning: spec.rules[0].forbid[0]: an empty pattern") == 1
