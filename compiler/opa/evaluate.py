"""Asking OPA about a compiled policy without a server: one ``opa eval`` answers a
whole batch of inputs, so tests and ``policypacks test`` start as few processes as
possible."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..bundle import write_tree
from ..compile import CompiledPolicy
from ..errors import OpaError
from .binary import eval_json


def query(compiled: CompiledPolicy, expression: str, input_doc: Any = None) -> Any:
    """Evaluate ``expression`` (``{prefix}`` stands for the identity's data path)."""
    with tempfile.TemporaryDirectory(prefix="policypacks-") as tmp:
        write_tree(compiled, Path(tmp))
        return eval_json(expression.format(prefix=compiled.query_prefix), bundle=Path(tmp),
                         input_doc=input_doc)


def decisions(compiled: CompiledPolicy, inputs: list[Any],
              now_ns: int | None = None) -> list[dict[str, Any]]:
    """The SPEC section 5 decision for each input, in order; with ``now_ns``, as OPA
    decides when its clock reads that (nanoseconds since the epoch: waivers expire)."""
    if not inputs:
        return []
    clock = "" if now_ns is None else f" with time.now_ns as {int(now_ns)}"
    answer = query(compiled, "[d | some x in input; d := {prefix}.decision with input as x"
                   + clock + "]", inputs)
    if not isinstance(answer, list) or len(answer) != len(inputs):
        raise OpaError(f"OPA returned {type(answer).__name__} for {len(inputs)} inputs; "
                       "some decision was undefined")
    return answer


def decision(compiled: CompiledPolicy, input_doc: Any,
             now_ns: int | None = None) -> dict[str, Any]:
    return decisions(compiled, [input_doc], now_ns)[0]


def effective(compiled: CompiledPolicy, agent_id: str) -> dict[str, Any] | None:
    return query(compiled, "{prefix}.effective[input]", agent_id)


def conflicts(compiled: CompiledPolicy) -> dict[str, Any]:
    return query(compiled, "{prefix}.conflicts") or {}
