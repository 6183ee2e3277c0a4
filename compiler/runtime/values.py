"""Python values as the JSON OPA reads, exactly, and never an exception.

An agent's action is built by Python code an LLM steers: ``Decimal`` amounts, datetimes,
sets, UUIDs, and now and then something that has no JSON meaning at all. :func:`convert`
turns what has an obvious JSON meaning into it and names the path of everything else
(the client then blocks with ``_system/invalid-input`` without asking OPA);
:func:`to_json` writes the result with Decimals digit for digit (the standard encoder
would turn them into floats or fail).

- ``Decimal``: kept, written with the same digits (``Decimal("0.10")`` is ``0.10``);
- ``datetime``: RFC 3339 (naive ones are taken as UTC, as the store does); ``date`` as
  ``YYYY-MM-DD``; ``time`` as ``HH:MM:SS[.ffffff]``; ``UUID`` as its text;
- tuples as lists; sets and frozensets as lists, sorted when their items compare;
- NaN, infinities (float or Decimal), bytes, non-string keys, cycles, nesting deeper than
  ``MAX_DEPTH`` and any other object: refused, by path.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

MAX_DEPTH = 64

_encode_string = json.encoder.encode_basestring_ascii  # lone surrogates too


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def convert(value: Any, path: str = "", depth: int = 0,
            problems: list[str] | None = None) -> tuple[Any, list[str]]:
    """``value`` as JSON-ready Python (dict, list, str, int, float, Decimal, bool, None),
    and the problems found (``"action.amount: NaN is not a JSON number"``). A refused
    value is replaced by a short placeholder text, so the result can still be recorded."""
    problems = [] if problems is None else problems
    where = path or "value"
    if depth > MAX_DEPTH:
        problems.append(f"{where}: nested deeper than {MAX_DEPTH} levels")
        return "[too deep]", problems
    if value is None or isinstance(value, bool | str):
        return value, problems
    if isinstance(value, int):
        return int(value), problems
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(f"{where}: {value} is not a JSON number")
            return f"[{value}]", problems
        return float(value), problems
    if isinstance(value, Decimal):
        if not value.is_finite():
            problems.append(f"{where}: {value} is not a JSON number")
            return f"[{value}]", problems
        return value, problems
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.isoformat(), problems
    if isinstance(value, date):
        return value.isoformat(), problems
    if isinstance(value, time):
        return value.isoformat(), problems
    if isinstance(value, UUID):
        return str(value), problems
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                problems.append(f"{where}: key {key!r} is not a string")
                continue
            out[key] = convert(item, _path(path, key), depth + 1, problems)[0]
        return out, problems
    if isinstance(value, list | tuple):
        return [convert(item, _path(path, i), depth + 1, problems)[0]
                for i, item in enumerate(value)], problems
    if isinstance(value, set | frozenset):
        items = [convert(item, _path(path, i), depth + 1, problems)[0]
                 for i, item in enumerate(value)]
        try:
            return sorted(items), problems
        except TypeError:  # mixed types: a stable order all the same
            return sorted(items, key=lambda item: to_json(item)), problems
    problems.append(f"{where}: a {type(value).__name__} has no JSON value")
    return f"[{type(value).__name__}]", problems


def to_json(value: Any, sort_keys: bool = True) -> str:
    """JSON text of a :func:`convert` result; Decimals keep their digits."""
    parts: list[str] = []

    def write(item: Any) -> None:
        if item is None:
            parts.append("null")
        elif item is True:
            parts.append("true")
        elif item is False:
            parts.append("false")
        elif isinstance(item, str):
            parts.append(_encode_string(item))
        elif isinstance(item, int):
            parts.append(int.__repr__(item))
        elif isinstance(item, float):
            parts.append(float.__repr__(item))
        elif isinstance(item, Decimal):
            parts.append(str(item))  # finite Decimals print as JSON numbers
        elif isinstance(item, dict):
            parts.append("{")
            for index, key in enumerate(sorted(item) if sort_keys else item):
                if index:
                    parts.append(",")
                parts.append(_encode_string(key))
                parts.append(":")
                write(item[key])
            parts.append("}")
        elif isinstance(item, list):
            parts.append("[")
            for index, element in enumerate(item):
                if index:
                    parts.append(",")
                write(element)
            parts.append("]")
        else:
            raise TypeError(f"not a converted value: {type(item).__name__}")

    write(value)
    return "".join(parts)


def _numbers_by_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        exact = value if isinstance(value, Decimal) else Decimal(repr(value)) \
            if isinstance(value, float) else Decimal(value)
        return Decimal(format(exact.normalize(), "f"))
    if isinstance(value, dict):
        return {k: _numbers_by_value(v) for k, v in value.items()}
    return [_numbers_by_value(v) for v in value]


def digest(action: Any) -> str:
    """The canonical digest of an action: SHA-256 of its sorted-key JSON after
    :func:`convert`, with every number written by value (``600``, ``600.0`` and
    ``Decimal("600.00")`` are the same number to OPA, so the same action here)."""
    converted, _ = convert(action)
    text = to_json(_numbers_by_value(converted))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
