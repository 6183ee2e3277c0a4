"""What a pack author reads when YAML goes wrong: syntax errors in words with the line
and a hint, no follow-on errors from a file that failed to load, and YAML files that
are not policy files skipped with a note (docs/repository.md)."""

# The corpus is a table, one case per line: its lines stay long.
# ruff: noqa: E501

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from policypacks.errors import PolicyWarning, Problems, ValidationFailed
from policypacks.load import Document, parse_text
from policypacks.validate import validate_repository
from policypacks.yaml_errors import TABS

POLICYPACKS = Path(sys.executable).with_name("policypacks")
IDENTITY = "apiVersion: policypacks/v1\nkind: Identity\nmetadata: {id: acme}\nspec: {}\n"
CAPS = """\
apiVersion: policypacks/v1
kind: PolicyPack
metadata: {id: caps}
spec:
  enforcement: block
  rules: [{id: daily, type: spending_limit, max: 100, period: day}]
"""
BOT = "apiVersion: policypacks/v1\nkind: Agent\nmetadata: {id: bot}\nspec: {packs: [caps]}\n"


def syntax_error(text: str, parser: str) -> str:
    problems = Problems()
    docs: list[Document] = []
    parse_text("apiVersion: policypacks/v1\n---\n" + text, Path("f.yaml"), problems, docs,
               pure_python=parser == "python")
    assert len(problems.items) == 1, problems.items
    problem = problems.items[0]
    return f"{problem.location.line - 2}: {problem.message}"


@pytest.mark.parametrize("parser", ["libyaml", "python"])
@pytest.mark.parametrize(("text", "line", "hint"), [
    ("a:\n\tb: 1\n",                 2, TABS),
    ("key: value\n\tother: 1\n",     2, TABS),
    ("items:\n  - a\n\t- b\n",       3, TABS),
    ("a: |\n\tx\n",                  2, TABS),
    ("a: 'abc\nb: 2\n",              1, "unclosed quote: the string that starts on this line with ' is never closed; add the closing '"),
    ('a: "abc\nb: 2\n',              1, 'unclosed quote: the string that starts on this line with " is never closed'),
    ('a: "x\n---\n"\n',              1, "unclosed quote"),
    ('a: "\\d+"\n',                  1, "in double quotes a backslash starts an escape (\\n, \\t, \\\\, \\u00e9); write regular expressions and other text with backslashes in single quotes ('\\d+')"),
    ("a: 1\n b: 2\n",                2, "a ': ' where no key can start: if this line is a new key, indent it like the keys above it"),
    ("a: b: c\n",                    1, "a ': ' where no key can start: if this line is a new key, indent it like the keys above it; if the ': ' is part of a value, put the value in quotes"),
    ("spec:\n  enforcement block\n  scope: all\n", 2, "a ':' is missing after the key on this line: did you mean 'enforcement: block'?"),
    ("a: 1\nb\nc: 2\n",              2, "this line is neither 'key: value' nor a list item: is a ':' missing after the key"),
    ("a: [1, 2\nb: 3\n",             2, "the '[' opened on line 3 is not closed with ']', or a ',' is missing between its items"),
    ("a: {x: 1\nb: 2\n",             2, "the '{' opened on line 3 is not closed with '}'"),
    ("a: [\n",                       2, "the '[' or '{' opened on line 3 is not closed, or a value is missing after a ','"),
    ("a:\n  b: 1\n c: 2\n",          3, "bad indentation, or text after a quoted value: this line does not line up with the keys of the mapping that starts on line 3"),
    ('key: "va"lue"\n',              1, "bad indentation, or text after a quoted value"),
    ("a:\n  - 1\n - 2\n",            3, "bad indentation: a list item where the mapping of line 3 expects a key"),
    ("- a\nb: 1\n",                  2, "bad indentation: every item of the list that starts on line 3 starts with '-' at the same indentation"),
    ("a: @x\n",                      1, "'@' is reserved in YAML and cannot start a value; put the value in quotes"),
    ("a: `x`\n",                     1, "'`' is reserved in YAML"),
    ("a: &\n",                       1, "'&' and '*' start anchors and aliases in YAML; put a value that starts with them in quotes"),
    ("a: !<x y\n",                   1, "'!' starts a tag in YAML; put a value that starts with '!' in quotes"),
    ("a: 1\n...\nb\n",               3, "more content after the document's top-level value; separate documents with '---'"),
])
def test_syntax_errors_are_explained(text: str, line: int, hint: str, parser: str) -> None:
    message = syntax_error(text, parser)
    assert message.startswith(f"{line}: YAML syntax error: {hint}"), message
    assert " (parser: " in message  # the parser's own words follow


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as failed:
        validate_repository(root)
    return [line.replace(f"{root}/", "") for line in failed.value.lines()]


@pytest.mark.parametrize(("files", "expected"), [
    # the pack the agent attaches is in a broken file: no "unknown pack" on top
    ({"identity.yaml": IDENTITY, "agents/bot.yaml": BOT, "packs/caps.yaml": CAPS + "\tbad: 1\n"},
     ["packs/caps.yaml:7: YAML syntax error: " + TABS]),
    # the Identity is in a broken file: no "no Identity document"
    ({"identity.yaml": IDENTITY.replace("{id: acme}", "{id: acme"), "caps.yaml": CAPS},
     ["identity.yaml:4: YAML syntax error: the '{' opened on line 3 is not closed"]),
    # a value the loader refuses loses its document the same way
    ({"identity.yaml": IDENTITY, "bot.yaml": BOT, "caps.yaml": CAPS.replace("100", "0100")},
     ["caps.yaml:6: unsupported YAML value: 0100 is ambiguous"]),
    # documents that did load are still checked on their own
    ({"identity.yaml": IDENTITY, "caps.yaml": CAPS.replace("block", "blok") + "---\nkind: [\n"},
     ["caps.yaml:5: spec.enforcement: must be one of block, require_approval, warn",
      "caps.yaml:9: YAML syntax error: the '[' or '{' opened on line 8 is not closed"]),
])
def test_no_follow_on_errors_from_a_file_that_failed(tmp_path: Path, files: dict[str, str],
                                                     expected: list[str]) -> None:
    lines = problems_of(write(tmp_path, files))
    assert len(lines) == len(expected), lines
    for line, start in zip(lines, expected, strict=True):
        assert line.startswith(start), (line, start)


FOREIGN = {
    "docker-compose.yaml": "services:\n  opa:\n    image: openpolicyagent/opa\n    volumes: ['./x:/x:ro']\n    user: 0755\n",
    ".pre-commit-config.yaml": "repos:\n  - repo: local\n    hooks: [{id: validate, entry: policypacks validate}]\n",
    "ci/workflow.yml": "name: CI\non: [push]\njobs:\n  test: {runs-on: ubuntu-latest, steps: [{run: make}]}\n",
    "k8s.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: opa}\nspec: {replicas: 1}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: opa}\n",
    "list.yaml": "- just\n- a list\n",
    "cfn.yaml": "Resources:\n  Bucket: {Type: 'AWS::S3::Bucket', Properties: {BucketName: !Ref Name}}\n",
    "empty.yaml": "# nothing here\n",
}


def test_yaml_that_is_not_policy_is_skipped_with_a_note(tmp_path: Path) -> None:
    write(tmp_path, {"identity.yaml": IDENTITY, "caps.yaml": CAPS, "bot.yaml": BOT, **FOREIGN})
    with pytest.warns(PolicyWarning) as caught:
        repo = validate_repository(tmp_path)
    assert set(repo.packs) == {"caps"} and set(repo.agents) == {"bot"}
    warned = sorted(str(w.message).replace(f"{tmp_path}/", "") for w in caught)
    assert warned == [f"{name}:1: note: skipped: no document in this file has apiVersion: "
                      "policypacks/v1, so it is not a policy file"
                      for name in sorted(FOREIGN) if name != "empty.yaml"]


@pytest.mark.parametrize(("document", "line", "message"), [
    ("apiVersion: policypacks/v2\nkind: Agent\nmetadata: {id: b}\nspec: {}\n", 1, "apiVersion must be 'policypacks/v1', got string \"policypacks/v2\""),
    ("apiVersion: policypack/v1\nkind: Agent\nmetadata: {id: b}\nspec: {}\n", 1, "apiVersion must be 'policypacks/v1'"),
    ("apiVersion: polcypacks/v1\nkind: Agent\nmetadata: {id: b}\nspec: {}\n", 1, "apiVersion must be 'policypacks/v1'"),
    ("apiVersion: PolicyPacks/V1\nkind: Agent\nmetadata: {id: b}\nspec: {}\n", 1, "apiVersion must be 'policypacks/v1'"),
    ("kind: Agent\nmetadata: {id: b}\nspec: {}\n", 1, "apiVersion must be 'policypacks/v1', got null"),
    ("apiVersion: policypacks/v1\nkind: Agent\nmetadata: {id: b}\nspec: {}\n---\nservices: {}\n", 6, "unknown key 'services'"),
])
def test_a_policy_document_gone_wrong_is_still_an_error(tmp_path: Path, document: str,
                                                         line: int, message: str) -> None:
    lines = problems_of(write(tmp_path, {"identity.yaml": IDENTITY, "x.yaml": document}))
    assert any(entry.startswith(f"x.yaml:{line}: ") and message in entry for entry in lines), lines


def test_the_cli_prints_warnings_on_stderr(tmp_path: Path) -> None:
    write(tmp_path, {"identity.yaml": IDENTITY, "caps.yaml": CAPS,
                     "docker-compose.yaml": FOREIGN["docker-compose.yaml"]})
    proc = subprocess.run([str(POLICYPACKS), "validate", "."], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok: identity acme, 1 packs")
    assert proc.stderr == ("docker-compose.yaml:1: note: skipped: no document in this file "
                           "has apiVersion: policypacks/v1, so it is not a policy file\n")
    failing = subprocess.run([str(POLICYPACKS), "build", ".", "-o", str(tmp_path / "b.tgz")],
                             cwd=write(tmp_path, {"bot.yaml": BOT.replace("caps", "cpas")}),
                             capture_output=True, text=True, timeout=120)
    assert failing.returncode == 2 and not (tmp_path / "b.tgz").exists()
    assert failing.stderr.splitlines()[0].startswith("docker-compose.yaml:1: note: skipped")
    assert "bot.yaml:4: agent 'bot' attaches unknown pack 'cpas'" in failing.stderr
