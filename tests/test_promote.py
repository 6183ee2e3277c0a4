"""``policypacks promote``: shadow mode out, the YAML edited in place with its comments and
layout, nothing written on an error; then OPA decides with the new level."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest

POLICYPACKS = Path(sys.executable).with_name("policypacks")

IDENTITY = """\
apiVersion: policypacks/v1
kind: Identity
metadata: {id: acme, name: Acme}
spec:
  internalDomains: [acme.com]
"""

PACK = """\
# Claims: dry run first.
apiVersion: policypacks/v1
kind: PolicyPack
metadata:
  id: claims
  name: Claims   # legal's
  category: compliance
spec:
  enforcement: {pack}      # the pack's level
  rules:
    - id: brag
      type: condition
      when: {{field: action.type, equals: go}}
    - id: boast
      type: condition
{boast}      when: {{field: action.type, equals: boast}}
  # examples would go here
"""

AGENT = """\
apiVersion: policypacks/v1
kind: Agent
metadata: {{id: {id}, name: Bot}}
spec:
  packs:
    - pack: claims
      enforcement: {level}   # trying it out
"""


def repo(root: Path, pack: str = "shadow", boast: str = "block",
         bot: str = "warn", other: str = "warn") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "identity.yaml").write_text(IDENTITY)
    own = f"      enforcement: {boast}\n" if boast else ""
    (root / "claims.yaml").write_text(PACK.format(pack=pack, boast=own))
    (root / "bot.yaml").write_text(AGENT.format(id="bot", level=bot))
    (root / "other.yaml").write_text(AGENT.format(id="other", level=other))
    return root


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([POLICYPACKS, *map(str, args)], capture_output=True, text=True)


def changed_lines(before: dict[str, str], root: Path) -> list[str]:
    """Every line that differs, as FILE: -old / +new."""
    out = []
    for name, text in before.items():
        after = (root / name).read_text()
        for line in difflib.unified_diff(text.splitlines(), after.splitlines(), lineterm="", n=0):
            if line[:1] in "+-" and not line.startswith(("+++", "---")):
                out.append(f"{name}: {line[0]}{line[1:].strip()}")
    return out


# repository, extra args -> exact changed lines (a comment keeps its column)
CASES: list[tuple[dict[str, str], list[str], list[str]]] = [
    ({}, ["--to", "block"],
     ["claims.yaml: -enforcement: shadow      # the pack's level",
      "claims.yaml: +enforcement: block       # the pack's level"]),
    ({"pack": "warn", "boast": "shadow"}, ["--to", "require_approval"],
     ["claims.yaml: -enforcement: shadow", "claims.yaml: +enforcement: require_approval"]),
    ({"boast": "shadow"}, ["--to", "warn"],
     ["claims.yaml: -enforcement: shadow      # the pack's level",
      "claims.yaml: +enforcement: warn        # the pack's level",
      "claims.yaml: -enforcement: shadow", "claims.yaml: +enforcement: warn"]),
    ({"boast": ""}, ["--to", "block", "--rule", "brag"], ["claims.yaml: +enforcement: block"]),
    ({"pack": "block", "bot": "shadow", "other": "shadow"}, ["--to", "warn"],
     ["bot.yaml: -enforcement: shadow   # trying it out",
      "bot.yaml: +enforcement: warn     # trying it out",
      "other.yaml: -enforcement: shadow   # trying it out",
      "other.yaml: +enforcement: warn     # trying it out"]),
    ({"pack": "block", "bot": "shadow", "other": "shadow"}, ["--to", "warn", "--agent", "other"],
     ["other.yaml: -enforcement: shadow   # trying it out",
      "other.yaml: +enforcement: warn     # trying it out"]),
]


@pytest.mark.parametrize("layout, args, expected", CASES, ids=[" ".join(c[1]) for c in CASES])
def test_promote_changes_exactly_the_shadow_lines(tmp_path: Path, layout: dict[str, str],
                                                   args: list[str], expected: list[str]) -> None:
    root = repo(tmp_path, **layout)
    before = {p.name: p.read_text() for p in root.iterdir()}
    proc = run("promote", "claims", root, *args)
    assert proc.returncode == 0, proc.stderr
    assert changed_lines(before, root) == expected
    assert run("validate", root).returncode == 0


# repository, args -> exit code, message; nothing may change
REFUSED: list[tuple[dict[str, str], list[str], str]] = [
    ({"pack": "block"}, ["--to", "warn"], "pack 'claims' has nothing in shadow mode"),
    ({}, ["--to", "warn", "--rule", "boast"], "rule claims/boast has nothing in shadow mode"),
    ({}, ["--to", "warn", "--rule", "nope"], "pack 'claims' has no rule 'nope'"),
    ({}, ["--to", "warn", "--agent", "bot"], "agent bot's attachment of claims has nothing"),
    ({}, ["--to", "shadow"], "Invalid value for '--to'"),
    ({}, ["--to", "warn", "--rule", "brag", "--agent", "bot"], "give --rule or --agent"),
    ({"pack": "nonsense"}, ["--to", "warn"], "claims.yaml:9:"),
]


@pytest.mark.parametrize("layout, args, message", REFUSED, ids=[m for *_, m in REFUSED])
def test_promote_refuses_and_writes_nothing(tmp_path: Path, layout: dict[str, str],
                                            args: list[str], message: str) -> None:
    root = repo(tmp_path, **layout)
    before = {p.name: p.read_text() for p in root.iterdir()}
    proc = run("promote", "claims", root, *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert changed_lines(before, root) == []
    assert sorted(p.name for p in root.iterdir()) == sorted(before)  # no temporary left


def test_unknown_pack_and_dry_run(tmp_path: Path) -> None:
    root = repo(tmp_path)
    before = {p.name: p.read_text() for p in root.iterdir()}
    assert "no pack 'claim'" in run("promote", "claim", root, "--to", "warn").stderr
    proc = run("promote", "claims", root, "--to", "warn", "--dry-run", "--json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"ok": True, "written": False, "changes": [
        {"file": str(root / "claims.yaml"), "line": 9, "what": "pack claims", "from": "shadow",
         "to": "warn"}]}
    assert changed_lines(before, root) == []


def test_after_promotion_opa_enforces_what_shadow_reported(tmp_path: Path) -> None:
    root = repo(tmp_path, bot="shadow")
    inputs = tmp_path / "input.json"
    inputs.write_text(json.dumps({"agent": "bot", "action": {"type": "go"}}))

    def decide() -> tuple[str, list[str], list[str]]:
        answer = json.loads(run("eval", root, "--input", inputs).stdout)
        return (answer["decision"], [v["rule"] for v in answer["violations"]],
                [v["rule"] for v in answer["shadow"]])

    assert decide() == ("allow", [], ["brag"])
    assert run("promote", "claims", root, "--to", "require_approval").returncode == 0
    assert decide() == ("require_approval", ["brag"], [])
