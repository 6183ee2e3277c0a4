#!/usr/bin/env python3
"""How many distinct regular expressions a support-bot decision may evaluate: the
patterns in its active rules' data plus the fixed ones in the bundle's Rego, against
OPA's regex caches (1.22: `opa eval`/`opa bench` keep at most 100 compiled patterns per
process and evict at random past that; `opa run --server` keeps them in the
inter-query value cache, unbounded by default). Also counts what the keyword lists
would cost as one pattern per keyword (before one alternation per list).

    .venv/bin/python benchmarks/regex_count.py
"""

from __future__ import annotations

import re
from typing import Any

from common import ROOT, print_table
from handwritten.inputs import AGENT

from policypacks.pipeline import compile_path
from policypacks.resolve import table_of

PATTERN_KEYS = {"pattern", "patterns", "forbid", "require", "any"}
REGEX_LITERAL = re.compile(r"regex\.(?:match|find_n|replace)\(`([^`]*)`")
OPA_EVAL_CACHE = 100


def patterns_in(value: Any, key: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if value.get("op") == "matches" and isinstance(value.get("value"), str):
            found.add(value["value"])
        for k, v in value.items():
            found |= patterns_in(v, k)
    elif isinstance(value, list):
        for v in value:
            found |= patterns_in(v, key)
    elif isinstance(value, str) and key in PATTERN_KEYS:
        found.add(value)
    return found


def _params(compiled: Any, rule: dict[str, Any]) -> list[str]:
    """Every keyword and pattern a prohibited_topics rule was written with."""
    for pack in compiled.config["packs"].values():
        authored = pack["rules"].get(rule["id"])
        if authored and authored["type"] == "prohibited_topics":
            params = authored["params"]
            return [*(k for words in (params.get("topics") or {}).values() for k in words),
                    *(p for pats in (params.get("patterns") or {}).values() for p in pats)]
    return []


def groups(grouping: dict[str, Any]) -> list[dict[str, Any]]:
    """Every group (type -> refs) of a shipped grouping of rules (precedence.by_firing)."""
    return [grouping["any"], *grouping["carrying"].values(), *grouping["actions"].values()]


def measure() -> dict[str, Any]:
    compiled = compile_path(ROOT / "packs", "bench")[1]
    config = compiled.config
    resolved = config["resolved"]
    grouping = table_of(resolved, AGENT)["rules"]
    # a rule of any action is in every action type's group too: each rule once
    refs = sorted({(t, at) for group in groups(grouping) for t, found in group.items()
                   for at in found})
    active = [config["rules"][t][at] for t, at in refs]
    from_data = set().union(*(patterns_in(rule) for rule in active))
    literals = set()
    for source in compiled.modules.values():
        literals |= set(REGEX_LITERAL.findall(source))
        literals |= set(re.findall(r"_pattern := `([^`]*)`", source))
    # On a text that gives nothing away, what the keyword lists cost: one alternation per
    # tone band, term list and topics rule now; one pattern per marker, term and keyword
    # before.
    bands = [band for rule in active for band in rule.get("disallowed", [])]
    term_rules = [rule for rule in active if rule.get("terms")]
    topic_rules = [rule for rule in active if isinstance(rule.get("topics"), list)]
    before = (sum(len(band["patterns"]) for band in bands)
              + sum(len(rule["terms"]) for rule in term_rules)
              + sum(len(_params(compiled, rule)) for rule in topic_rules))
    after = len(bands) + len(term_rules) + len(topic_rules)
    result = {"distinct_regex_count": len(from_data | literals),
              "regex_in_data": len(from_data), "regex_in_rego": len(literals),
              "opa_eval_cache_entries": OPA_EVAL_CACHE,
              "keyword_list_evaluations_on_plain_text": after,
              "keyword_list_evaluations_one_per_keyword": before}
    print_table(f"Distinct regular expressions a {AGENT} decision may evaluate",
                ["what", "count"], [[k, v] for k, v in result.items()])
    return result


if __name__ == "__main__":
    measure()
