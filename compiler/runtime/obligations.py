"""Carrying out a decision's obligations on the action (SPEC section 5 ``obligations``).

``apply(action, decision)`` returns a new action: every ``redact`` obligation's findings
replaced by the rule's ``mask`` (default ``[ENTITY]``, e.g. ``[EMAIL]``), right to left
per field so that earlier offsets stay valid, then every ``append_signature`` text
appended on a line of its own. Offsets are code points, which is what Python indexes.
Anything the agent cannot carry out as told raises :class:`ObligationError`: an action
must not go out half-redacted. Standard library only (agents import this).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

#: the fields a redact finding may name, and where they live in the action
FIELDS = {"content.text": "text", "content.subject": "subject"}


class ObligationError(ValueError):
    """An obligation that cannot be applied to this action (unknown type, stale spans)."""


def apply(action: Mapping[str, Any], decision: Any) -> dict[str, Any]:
    """``action`` with the obligations of ``decision`` (a ``Decision`` or its document)
    applied; ``action`` itself is not changed."""
    obligations = _obligations(decision)
    result = copy.deepcopy(dict(action))
    redactions = [o for o in obligations if o.get("type") == "redact"]
    signatures = [o for o in obligations if o.get("type") == "append_signature"]
    unknown = [o.get("type") for o in obligations if o not in redactions + signatures]
    if unknown:
        raise ObligationError(f"unknown obligation type(s): {', '.join(map(str, unknown))}")
    if redactions:
        _redact(result, redactions)
    for obligation in signatures:
        _append_signature(result, obligation)
    return result


def _obligations(decision: Any) -> list[dict[str, Any]]:
    found = decision.get("obligations") if isinstance(decision, Mapping) else getattr(
        decision, "obligations", None)
    if found is None:
        return []
    if not isinstance(found, list) or not all(isinstance(o, dict) for o in found):
        raise ObligationError("obligations is not a list of objects")
    return found


def _redact(action: dict[str, Any], obligations: list[dict[str, Any]]) -> None:
    """Replace every finding; two rules may report the same span (it is replaced once)."""
    content = action.get("content")
    if not isinstance(content, dict):
        raise ObligationError("redact obligation for an action without content")
    spans: dict[str, dict[tuple[int, int], str]] = {}
    for obligation in obligations:
        for finding in obligation.get("findings") or []:
            field, start, end = _span(finding, content)
            mask = obligation.get("mask")
            text = mask if isinstance(mask, str) else f"[{str(finding['entity']).upper()}]"
            spans.setdefault(field, {}).setdefault((start, end), text)
    for field, replacements in spans.items():
        key = FIELDS[field]
        value: str = content[key]
        previous_start = len(value) + 1
        for (start, end), text in sorted(replacements.items(), reverse=True):
            if end > previous_start:
                raise ObligationError(f"overlapping findings in {field} at {start}-{end}")
            value = value[:start] + text + value[end:]
            previous_start = start
        content[key] = value


def _span(finding: Any, content: Any) -> tuple[str, int, int]:
    if not isinstance(finding, dict) or finding.get("field") not in FIELDS:
        raise ObligationError(f"finding {finding!r} names no field this client can redact")
    field = finding["field"]
    start, end = finding.get("start"), finding.get("end")
    value = content.get(FIELDS[field]) if isinstance(content, dict) else None
    if not isinstance(value, str):
        raise ObligationError(f"the action has no {field} to redact")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(value)):
        raise ObligationError(f"finding {start}-{end} does not fit {field} "
                              f"({len(value)} characters): was the action changed?")
    return field, start, end


def _append_signature(action: dict[str, Any], obligation: dict[str, Any]) -> None:
    """The signature on a line of its own after the text (the whole text if none)."""
    signature = obligation.get("text")
    if not isinstance(signature, str):
        raise ObligationError("append_signature without a text")
    content = action.setdefault("content", {})
    if not isinstance(content, dict):
        raise ObligationError("the action's content is not an object")
    text = content.get("text")
    if not isinstance(text, str) or text == "":
        content["text"] = signature
    elif not text.rstrip().endswith(signature.rstrip()):
        content["text"] = text + ("" if text.endswith("\n") else "\n") + signature
