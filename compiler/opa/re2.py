"""Check every regular expression of a repository with OPA's own RE2 (Go regexp).

Python's ``re`` accepts look-arounds and backreferences that OPA's ``regex.match``
refuses at evaluation time, so the only faithful check is OPA itself: all patterns go
to one ``opa eval`` and come back valid or not.
"""

from __future__ import annotations

import json

from ..errors import Location, Problems
from .binary import eval_json

_QUERY = "[regex.is_valid(pattern) | some pattern in input]"


def check_regexes(found: list[tuple[Location, str]], problems: Problems) -> None:
    if not found:
        return
    patterns = sorted({pattern for _, pattern in found})
    verdicts = eval_json(_QUERY, input_doc=patterns)
    valid = {pattern for pattern, ok in zip(patterns, verdicts, strict=True) if ok}
    for location, pattern in found:
        if pattern not in valid:
            problems.add(location, f"invalid regular expression {json.dumps(pattern)}: OPA's "
                         "RE2 (Go regexp) cannot compile it; it has no look-arounds "
                         "((?=...), (?!...), (?<=...)), no backreferences (\\1), and "
                         "repeat counts stop at 1000")
