"""Pieces the text rule types share (tone, signature, formatting, terminology, pii,
disclaimer)."""

from __future__ import annotations

import re

from ..schema import Str
from ._common import quote_meta

# A text an author requires (a signature, a disclaimer): not empty, not only whitespace.
REQUIRED_TEXT = Str(re.compile(r"[\s\S]*\S[\s\S]*"), "must contain more than whitespace",
                    non_empty=True)

TEXT_ACTIONS_DOC = "narrow the rule to these action types (default: every action with content)"


def phrase_pattern(phrase: str) -> str:
    """Whole-word, case-insensitive RE2 pattern for a phrase; any run of whitespace
    between its words matches."""
    words = r"\s+".join(quote_meta(word) for word in phrase.split())
    return rf"(?i)\b{words}\b"
