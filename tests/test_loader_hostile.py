"""A malicious-repository corpus: a pull request may be hostile to CI (docs/repository.md,
"Limits"). Every case runs `policypacks validate` and `policypacks build` as
subprocesses; each must exit 2 with `FILE:LINE: message`, write nothing, show no
traceback and no byte of what a link points at, and stay under 5 s of CPU and 200 MB.

Time is the command's own CPU time (user + system): the machine running the suite is
shared, so wall-clock time measures the neighbours; wall time only guards against a
hang. Memory is the command's peak RSS. Both come from getrusage(RUSAGE_CHILDREN) in a
small wrapper process whose only child is the command.
"""

# The corpus is a table, one case per line: its lines stay long.
# ruff: noqa: E501

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from policypacks.errors import Problems
from policypacks.load import parse_text

POLICYPACKS = Path(sys.executable).with_name("policypacks")
CPU_SECONDS = 5.0
MAX_RSS_MB = 200
HANG_SECONDS = 120.0
SECRET = "SECRET-7f3a9c"  # in every file outside the repository
MiB = 1024 * 1024

IDENTITY = "apiVersion: policypacks/v1\nkind: Identity\nmetadata: {id: acme}\nspec: {}\n"
VALID = """\
apiVersion: policypacks/v1
kind: PolicyPack
metadata: {id: caps, category: operational}
spec:
  enforcement: block
  rules: [{id: daily, type: spending_limit, max: 100, period: day}]
---
apiVersion: policypacks/v1
kind: Agent
metadata: {id: bot}
spec: {packs: [caps]}
"""
PACK = "apiVersion: policypacks/v1\nkind: PolicyPack\nmetadata: {id: x}\nspec:\n"


def billion_laughs() -> str:
    """The classic: nine levels of nine aliases, ~10^9 strings once expanded."""
    levels = ['    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 9):
        prev, name = chr(96 + index), chr(97 + index)
        levels.append(f"    {name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return PACK + "  enforcement: block\n  examples:\n  - name: lol\n    expect: allow\n" \
        "    input:\n" + "\n".join("  " + line for line in levels) + "\n"


def merge_bomb() -> str:
    levels = ["  a: &a {x: 1, y: 2, z: 3}"]
    for index in range(1, 12):
        prev, name = chr(96 + index), chr(97 + index)
        levels.append(f"  {name}: &{name} {{<<: [" + ", ".join([f"*{prev}"] * 6) +
                      f"], k{index}: [" + ", ".join([f"*{prev}"] * 6) + "]}")
    return PACK + "\n".join(levels) + "\n"


Make = Callable[[Path, Path], None]  # (repository, a directory outside it)


def text(name: str, content: str | bytes) -> Make:
    data = content.encode() if isinstance(content, str) else content

    def make(repo: Path, outside: Path) -> None:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    make.file = (name, data)  # type: ignore[attr-defined]
    return make


def link(name: str, target: str) -> Make:
    """A symbolic link; `OUT` in the target is the directory outside the repository."""
    def make(repo: Path, outside: Path) -> None:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).symlink_to(target.replace("OUT", str(outside)))
    return make


def sparse(name: str, size: int) -> Make:
    def make(repo: Path, outside: Path) -> None:
        with open(repo / name, "wb") as handle:
            handle.truncate(size)
    return make


def fifo(name: str) -> Make:
    def make(repo: Path, outside: Path) -> None:
        os.mkfifo(repo / name)
    return make


def each(*makes: Make) -> Make:
    def make(repo: Path, outside: Path) -> None:
        for step in makes:
            step(repo, outside)
    return make


@dataclass
class Hostile:
    name: str
    make: Make
    where: str  # FILE:LINE below the repository
    says: str  # part of the message on that line


CORPUS = [
    Hostile("file link out", link("x.yaml", "OUT/secret.yaml"), "x.yaml:1", "symbolic link to a place outside the repository"),
    Hostile("relative file link out", link("sub/x.yaml", "../../outside/secret.yaml"), "sub/x.yaml:1", "symbolic link to a place outside"),
    Hostile("link to /etc/passwd", link("passwd.yaml", "/etc/passwd"), "passwd.yaml:1", "symbolic link to a place outside"),
    Hostile("directory link out", link("vendor", "OUT"), "vendor:1", "symbolic link to a place outside"),
    Hostile("link to a link out", each(link("a.yaml", "b.yml"), link("b.yml", "OUT/secret.yaml")), "a.yaml:1", "symbolic link to a place outside"),
    Hostile("broken link", link("x.yaml", "nowhere.yaml"), "x.yaml:1", "broken symbolic link"),
    Hostile("billion laughs", text("x.yaml", billion_laughs()), "x.yaml:15", "YAML limit: aliases in this file"),
    Hostile("merge-key bomb", text("x.yaml", merge_bomb()), "x.yaml:9", "YAML limit: aliases in this file"),
    Hostile("alias fan-out", text("x.yaml", PACK + "  a: &a x\n  b: [" + ", ".join(["*a"] * 10_001) + "]\n"), "x.yaml:6", "YAML limit: aliases"),
    Hostile("recursive alias", text("x.yaml", PACK + "  a: &a [*a]\n"), "x.yaml:5", "alias *a is used inside the value it names"),
    Hostile("300 levels of flow nesting", text("x.yaml", PACK + "  a: " + "[" * 300 + "]" * 300 + "\n"), "x.yaml:5", "YAML limit: nested deeper than 64 levels"),
    Hostile("100,000 levels of flow nesting", text("x.yaml", PACK + "  a: " + "[" * 100_000 + "\n"), "x.yaml:5", "YAML limit: nested deeper than 64 levels"),
    Hostile("300 levels of block nesting", text("x.yaml", PACK + "".join(f"{' ' * (i + 2)}k:\n" for i in range(300))), "x.yaml:68", "YAML limit: nested deeper than 64 levels"),
    Hostile("a file over 4 MiB", sparse("x.yaml", 4 * MiB + 1), "x.yaml:1", "file too large: 4,194,305 bytes, over the limit of 4 MiB"),
    Hostile("a sparse 64 GiB file", sparse("x.yaml", 64 * 1024 * MiB), "x.yaml:1", "file too large"),
    Hostile("half a million values", text("x.yaml", PACK + "  a: [" + "1," * 2_000_000 + "1]\n"), "x.yaml:5", "YAML limit: more than 500,000 values in one file"),
    Hostile("a million empty documents", text("x.yaml", "---\n" * MiB), "x.yaml:250001", "YAML limit: more than 500,000 values"),
    Hostile("32 MiB of YAML in total", each(*[text(f"big{i}.yaml", "#" * (4 * MiB - 1) + "\n") for i in range(9)]), "big8.yaml:1", "pass the limit of 32 MiB in total"),
    Hostile("octal or decimal", text("x.yaml", PACK + "  enforcement: block\n  rules: [{id: a, type: spending_limit, max: 0100, period: day}]\n"), "x.yaml:6", "0100 is ambiguous"),
    Hostile("base 60", text("x.yaml", PACK + "  enforcement: block\n  rules:\n    - {id: a, type: spending_limit, max: 1:40, period: day}\n"), "x.yaml:7", 'max: expected a number, got string "1:40"'),
    Hostile("infinity", text("x.yaml", PACK + "  enforcement: block\n  rules: [{id: a, type: spending_limit, max: -.inf, period: day}]\n"), "x.yaml:6", "is not a finite number"),
    Hostile("not a number", text("x.yaml", PACK + "  a: .NaN\n"), "x.yaml:5", "is not a finite number"),
    Hostile("a float too large", text("x.yaml", PACK + "  a: 1e999\n"), "x.yaml:5", "is not a finite number"),
    Hostile("an integer of 5,000 digits", text("x.yaml", PACK + "  a: " + "9" * 5000 + "\n"), "x.yaml:5", "has more than 100 digits"),
    Hostile("python object tag", text("x.yaml", PACK + "  a: !!python/object/apply:os.system [touch pwned]\n"), "x.yaml:5", "is not supported"),
    Hostile("a lone surrogate", text("x.yaml", PACK.replace("{id: x}", '{id: x, name: "\\ud800"}') + "  enforcement: block\n"), "x.yaml:3", "surrogate"),
    Hostile("a surrogate pair escape", text("x.yaml", PACK + '  name: "\\ud83d\\ude00"\n'), "x.yaml:5", "surrogate"),
    Hostile("invalid UTF-8", text("x.yaml", PACK.encode() + b"  name: caf\xe9\n"), "x.yaml:5", "not UTF-8 text: byte 0xe9"),
    Hostile("UTF-16", text("x.yaml", PACK.encode("utf-16")), "x.yaml:1", "not UTF-8 text"),
    Hostile("a binary file", text("logo.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))), "logo.yaml:1", "not UTF-8 text"),
    Hostile("a NUL byte", text("x.yaml", PACK + "  a: b\x00c\n"), "x.yaml:5", "the character #x0000 is not allowed"),
    Hostile("terminal escapes", text("x.yaml", PACK + "  a: \x1b[2J\x1b[31mred\n"), "x.yaml:5", "the character #x001b is not allowed"),
    Hostile("a FIFO", fifo("pipe.yaml"), "pipe.yaml:1", "not a regular file"),
    Hostile("undefined alias", text("x.yaml", PACK + "  a: *nothing\n"), "x.yaml:5", "found undefined alias 'nothing'"),
]


@dataclass
class Run:
    code: int
    output: str  # stdout and stderr
    cpu: float
    wall: float
    rss_mb: float


# Runs the command and writes its CPU time and peak RSS. A small wrapper process of its
# own, because a child's ru_maxrss starts from its parent's RSS at fork time (the mm it
# was vforked from): measured from the test process it would be the suite's size.
MEASURE = """
import json, resource, subprocess, sys
code = subprocess.call(sys.argv[2:], stdin=subprocess.DEVNULL)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "rss_kb": usage.ru_maxrss}, out)
sys.exit(code)
"""


def run(args: list[str], cwd: Path) -> Run:
    return run_all([args], cwd)[0]


def run_all(commands: list[list[str]], cwd: Path) -> list[Run]:
    """Run the commands side by side (each measured on its own) and wait for all."""
    with tempfile.TemporaryDirectory() as scratch:
        started = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-c", MEASURE, f"{scratch}/{i}.json",
                                   str(POLICYPACKS), *args], cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
                 for i, args in enumerate(commands)]
        runs = []
        for i, proc in enumerate(procs):
            output, _ = proc.communicate(timeout=HANG_SECONDS)
            usage = json.loads(Path(f"{scratch}/{i}.json").read_text())
            runs.append(Run(proc.returncode, output.decode("utf-8", "replace"), usage["cpu"],
                            time.monotonic() - started, usage["rss_kb"] / 1024))
    return runs


def listing(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_size, p.lstat().st_mtime_ns)
                  for p in root.rglob("*"))


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_a_hostile_repository_fails_fast_and_says_where(case: Hostile, tmp_path: Path) -> None:
    repo, outside, out = tmp_path / "repo", tmp_path / "outside", tmp_path / "out"
    for directory in (repo, outside, out):
        directory.mkdir()
    (repo / "identity.yaml").write_text(IDENTITY)
    (repo / "valid.yaml").write_text(VALID)
    (outside / "secret.yaml").write_text(f"apiVersion: policypacks/v1\nkind: Agent\n"
                                         f"metadata: {{id: {SECRET}}}\nspec: {{}}\n")
    case.make(repo, outside)
    before = listing(tmp_path)
    commands = [["validate", "repo"], ["build", "repo", "-o", "out/bundle.tar.gz"]]
    for args, result in zip(commands, run_all(commands, tmp_path), strict=True):
        shown = result.output[:2000]
        assert result.code == 2, (args, shown)
        assert any(line.startswith(f"repo/{case.where}: ") and case.says in line
                   for line in result.output.splitlines()), (args, case.where, shown)
        assert "Traceback" not in result.output, shown
        for leak in (SECRET, str(outside), "root:x:", "/etc/passwd"):
            assert leak not in result.output, (leak, shown)
        assert result.cpu < CPU_SECONDS, (args, result.cpu)
        assert result.rss_mb < MAX_RSS_MB, (args, result.rss_mb)
        assert result.wall < HANG_SECONDS
    assert listing(tmp_path) == before and not (tmp_path / "pwned").exists()


def test_links_that_stay_inside_are_followed_once(tmp_path: Path) -> None:
    """File and directory links inside the repository are read, each file once (a link to
    a file the walk reaches anyway adds nothing), and a link loop ends."""
    repo = tmp_path / "repo"
    (repo / ".shared").mkdir(parents=True)
    (repo / "identity.yaml").write_text(IDENTITY)
    (repo / ".shared" / "caps.yaml").write_text(VALID)
    (repo / "caps.yaml").symlink_to(".shared/caps.yaml")  # a file link into a dot-dir
    (repo / "again.yaml").symlink_to("caps.yaml")  # the same file again
    (repo / "all").symlink_to(".")  # a loop
    (repo / "sub").mkdir()
    (repo / "sub" / "up").symlink_to("..")  # another loop
    result = run(["validate", "repo"], tmp_path)
    assert result.code == 0, result.output
    assert "ok: identity acme, 1 packs, 1 rules, 1 agents" in result.output
    assert result.cpu < CPU_SECONDS


SMALL = [c for c in CORPUS if hasattr(c.make, "file") and len(c.make.file[1]) < 100_000]


@pytest.mark.parametrize("case", SMALL, ids=[c.name for c in SMALL])
def test_the_pure_python_parser_fails_the_same_way(case: Hostile) -> None:
    """Without libyaml (PyYAML's pure-Python parser) the small cases end the same way:
    a problem on the same line, never an exception."""
    name, data = case.make.file  # type: ignore[attr-defined]
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("decoding fails before any parser runs")
    lines = {}
    for pure_python in (False, True):
        problems = Problems()
        parse_text(content, Path("repo") / name, problems, [], pure_python=pure_python)
        lines[pure_python] = sorted(str(p.location) for p in problems.items)
    assert lines[True] == lines[False]
    if lines[False]:  # the others fail in validation, after loading
        assert f"repo/{case.where}" in lines[False]
