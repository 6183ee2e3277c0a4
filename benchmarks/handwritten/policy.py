"""Loading the hand-written support-bot policy next to the generated bundle."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from policypacks.bundle import write_tree
from policypacks.compile import CompiledPolicy
from policypacks.opa.binary import eval_json

HERE = Path(__file__).resolve().parent
MODULE = HERE / "support_bot.rego"
QUERY = "data.handwritten.support_bot.decision"
REVISION = "handwritten"  # what the hand-written policy reports as its revision


def write_side_by_side(compiled: CompiledPolicy, directory: Path) -> Path:
    """The generated bundle's files plus the hand-written module, as one data directory
    (no .manifest: the hand-written module lives outside the bundle's root)."""
    write_tree(compiled, directory)
    (directory / ".manifest").unlink()
    target = directory / "handwritten" / "support_bot" / MODULE.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MODULE, target)
    return directory


def both_decisions(compiled: CompiledPolicy, inputs: list[dict[str, Any]],
                   tmp: Path) -> list[list[dict[str, Any]]]:
    """[generated decision, hand-written decision] for each input, in one `opa eval`."""
    tree = write_side_by_side(compiled, tmp / "side-by-side")
    # The generated decision also names its bundle's content digest, which a policy
    # written by hand has no bundle build to know.
    query = (f"[[g, h] | some x in input; d := {compiled.query_prefix}.decision with input as x; "
             f'g := object.remove(d, {{"digest"}}); h := {QUERY} with input as x]')
    answer = eval_json(query, data=[tree], input_doc=inputs)
    if not isinstance(answer, list) or len(answer) != len(inputs):
        raise AssertionError("some decision was undefined")
    return answer
