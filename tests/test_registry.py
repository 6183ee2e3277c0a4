"""Every rule type is a complete unit: schema, Rego template, docs page, examples."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from policypacks.catalog import CompileContext, rule_types
from policypacks.compile import fires_on

ROOT = Path(__file__).resolve().parent.parent

# The 17 rule types of SPEC section 4.
SPEC_TYPES = {
    "tone", "signature", "formatting", "terminology", "prohibited_topics", "pii",
    "disclaimer", "condition", "spending_limit", "rate_limit", "api_limit", "attachment",
    "retention", "export", "third_party_sharing", "privacy", "escalation",
    "tool_access",  # issue 12: tool authorization
}


def test_catalog_has_exactly_the_spec_types() -> None:
    assert set(rule_types()) == SPEC_TYPES


@pytest.mark.parametrize("name", sorted(rule_types()))
def test_rule_type_is_complete(name: str) -> None:
    rule_type = rule_types()[name]
    assert rule_type.params, "no parameter schema"
    assert (ROOT / "rego_templates" / "rules" / f"{name}.rego.j2").is_file(), "no template"
    assert (ROOT / "docs" / "rules" / f"{name}.md").is_file(), "no docs page"
    outcomes = {e.expect for e in rule_type.examples}
    assert outcomes == {"ok", "violated"} or name == "escalation", \
        "examples need both allowed and blocked rows"
    names = [e.name for e in rule_type.examples]
    assert len(names) == len(set(names)), "example names repeat"
    for example in rule_type.examples:  # raises for a field no decision looks up
        compiled = rule_type.compile(example.params, CompileContext(["acme.com"]))
        fires_on(name, {**dict.fromkeys(rule_type.params), **example.params, **compiled})


def test_no_template_without_a_rule_type() -> None:
    templates = {p.name.removesuffix(".rego.j2")
                 for p in (ROOT / "rego_templates" / "rules").glob("*.rego.j2")}
    assert templates == set(rule_types())


def test_docs_pages_are_up_to_date() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
