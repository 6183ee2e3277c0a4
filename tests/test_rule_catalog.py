"""Every rule type's table of allowed/blocked examples, decided by the real OPA."""

from __future__ import annotations

import pytest
from support import catalog_repo, decide

from policypacks.catalog import rule_types


@pytest.mark.parametrize("type_name", sorted(rule_types()))
def test_examples_of_rule_type(type_name: str, tmp_path) -> None:
    examples = rule_types()[type_name].examples
    documents, inputs = catalog_repo(type_name, examples)
    results = decide(tmp_path, documents, inputs)
    failures = []
    for example, result in zip(examples, results, strict=True):
        violated = any(v["rule"] == "r" for v in result["violations"])
        expected = example.expect == "violated"
        if violated != expected:
            failures.append(f"{example.name}: expected {example.expect}, got "
                            f"{result['decision']} {result['violations']}")
        if example.obligations is not None and result["obligations"] != example.obligations:
            failures.append(f"{example.name}: obligations {result['obligations']} != "
                            f"{example.obligations}")
    assert not failures, "\n".join(failures)
