"""The benchmarks' baseline, benchmarks/handwritten/support_bot.rego, decides exactly as
the generated policy for support-bot: on every pack example (asked as support-bot), the
four inputs the benchmarks time and a few hundred generated ones."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from handwritten.inputs import REPRESENTATIVE, generated, pack_examples  # noqa: E402
from handwritten.policy import REVISION, both_decisions  # noqa: E402

from policypacks.pipeline import compile_path  # noqa: E402


def test_handwritten_policy_decides_as_the_generated_one(tmp_path: Path) -> None:
    compiled = compile_path(ROOT / "packs", REVISION)[1]
    inputs = [*REPRESENTATIVE.values(), *pack_examples(), *generated(400)]
    differing = [(doc, generated_decision, handwritten)
                 for doc, (generated_decision, handwritten)
                 in zip(inputs, both_decisions(compiled, inputs, tmp_path), strict=True)
                 if generated_decision != handwritten]
    assert not differing, f"{len(differing)} of {len(inputs)} differ; first: {differing[0]}"
    outcomes = {d["decision"] for _, (d, _) in zip(inputs, both_decisions(
        compiled, inputs, tmp_path / "again"), strict=True)}
    assert outcomes == {"allow", "warn", "require_approval", "block"}  # the inputs cover all
