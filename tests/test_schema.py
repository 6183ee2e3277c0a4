"""Pure-Python parts of validation: durations, RE2 quoting (no OPA needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policypacks.catalog._common import quote_meta, word_pattern
from policypacks.errors import Problems
from policypacks.load import Document
from policypacks.schema import MISSING, Ctx, Duration


def check_duration(value: object) -> object:
    ctx = Ctx(Document(Path("x.yaml"), 1, {}), Problems(), [], 1)
    return Duration()(value, ctx)


@pytest.mark.parametrize(("text", "seconds"), [
    ("24h", 86400),
    ("30m", 1800),
    ("90s", 90),
    ("1d12h", 129600),
    ("1w", 604800),
    ("1h30m", 5400),
    (3600, 3600),
    (0, 0),
])
def test_durations(text: object, seconds: int) -> None:
    assert check_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "24", "h", "1h1d", "-1h", "24h\n", 1.5, True, -5, "1 h"])
def test_bad_durations(bad: object) -> None:
    assert check_duration(bad) is MISSING


@pytest.mark.parametrize(("literal", "quoted"), [
    ("a.b", r"a\.b"),
    ("(x)", r"\(x\)"),
    ("$100", r"\$100"),
    ("a|b", r"a\|b"),
    ("c++", r"c\+\+"),
    ("[x]{2}", r"\[x\]\{2\}"),
    ("back\\slash", r"back\\slash"),
    ("^caret", r"\^caret"),
    ("plain words", "plain words"),
    ("émoji 🚀", "émoji 🚀"),
])
def test_quote_meta_escapes_exactly_re2_metacharacters(literal: str, quoted: str) -> None:
    assert quote_meta(literal) == quoted


def test_word_pattern_is_case_insensitive_between_word_boundaries() -> None:
    assert word_pattern("a.b") == r"(?i)\ba\.b\b"
