"""SPEC section 4, "The input contract", through the real OPA: a malformed input is
`block` with exactly one `_system/invalid-input` violation naming every offending field
path, decided before any rule; a well-formed one is decided by the rules as before.

Inputs are judged in batches, one `opa eval` per table and per hypothesis example.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reference_spec as ref  # noqa: E402

from policypacks import input_contract  # noqa: E402
from policypacks.compile import CompiledPolicy  # noqa: E402
from policypacks.opa import evaluate  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INVALID = {"pack": "_system", "rule": "invalid-input", "type": "invalid_input",
           "category": "safety", "enforcement": "block", "level": "identity"}


@pytest.fixture(scope="module")
def example() -> tuple[Any, CompiledPolicy]:
    """The example repository (packs/): every rule type, four agents."""
    return compile_path(ROOT / "packs", "contract-test")


def judged(compiled: CompiledPolicy, inputs: list[Any]) -> list[tuple[dict[str, Any], list[str]]]:
    """(decision, the contract's messages) for each input, from one `opa eval`."""
    contract = "{prefix}.lib.input_contract"
    answer = evaluate.query(compiled, "[[d, e, v] | some x in input; "
                                      "d := {prefix}.decision with input as x; "
                                      f"e := {contract}.errors with input as x; "
                                      f"v := [1 | {contract}.valid with input as x]]",
                            inputs)
    assert isinstance(answer, list) and len(answer) == len(inputs), answer
    for document, (_, errors, valid) in zip(inputs, answer, strict=True):
        # The verdict's rule bodies and the message tables say the same.
        assert bool(valid) == (not errors), (document, errors)
    return [(decision, sorted(errors)) for decision, errors, _ in answer]


def paths(errors: list[str]) -> list[str]:
    return sorted({e.split(": expected ", 1)[0] for e in errors})


def assert_refused(decision: dict[str, Any], errors: list[str], document: Any) -> None:
    """The whole SPEC section 5 document of a malformed input."""
    assert decision["decision"] == "block" and decision["allow"] is False, document
    assert len(decision["violations"]) == 1, decision
    violation = decision["violations"][0]
    assert {k: v for k, v in violation.items() if k != "message"} == INVALID
    assert violation["message"] == "; ".join(errors)
    assert decision["suppressed"] == [] and decision["obligations"] == []
    assert decision["approval"] is None
    assert decision["identity"] == "acme" and decision["revision"] == "contract-test"
    agent = document.get("agent") if isinstance(document, dict) else None
    assert decision["agent"] == (agent if isinstance(agent, str) else None)


SPEND = {"agent": "sales-bot", "action": {"type": "spend", "amount": 600, "currency": "USD"}}
EMAIL = {"agent": "support-bot", "action": {
    "type": "send_email", "recipient": {"address": "x@evil.com"},
    "content": {"text": "Your SSN 078-05-1123 is on file.\n-- The Acme Team"}}}


def at(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `document` with `value` at the dotted `path` (created as needed)."""
    out = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = out
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value
    return out


def without(document: dict[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(document)
    *parents, last = path.split(".")
    node = out
    for name in parents:
        node = node[name]
    del node[last]
    return out


# Every malformed shape issue 8 found allowed, and the paths the message must name.
MALFORMED: list[tuple[str, Any, list[str]]] = [
    ("amount as a string", at(SPEND, "action.amount", "600"), ["action.amount"]),
    ("amount as a boolean", at(SPEND, "action.amount", True), ["action.amount"]),
    ("amount null", at(SPEND, "action.amount", None), ["action.amount"]),
    ("amount in a list", at(SPEND, "action.amount", [600]), ["action.amount"]),
    ("negative amount", at(SPEND, "action.amount", -600), ["action.amount"]),
    ("spend without an amount", without(SPEND, "action.amount"), ["action.amount"]),
    ("refund without an amount", {"agent": "support-bot", "action": {"type": "refund"}},
     ["action.amount"]),
    ("currency with a space", at(SPEND, "action.currency", "USD "), ["action.currency"]),
    ("currency null", at(SPEND, "action.currency", None), ["action.currency"]),
    ("currency of two letters", at(SPEND, "action.currency", "US"), ["action.currency"]),
    ("currency with a symbol", at(SPEND, "action.currency", "US$"), ["action.currency"]),
    ("attachments as an object",
     at(EMAIL, "action.attachments", {"name": "virus.exe", "size_bytes": 1}),
     ["action.attachments"]),
    ("attachments as a list of strings", at(EMAIL, "action.attachments", ["virus.exe"]),
     ["action.attachments.0"]),
    ("attachment name not a string", at(EMAIL, "action.attachments", [{"name": ["a.exe"]}]),
     ["action.attachments.0.name"]),
    ("attachment size as a string",
     at(EMAIL, "action.attachments", [{"name": "a.pdf"}, {"size_bytes": "99999999"}]),
     ["action.attachments.1.size_bytes"]),
    ("attachment size negative", at(EMAIL, "action.attachments", [{"size_bytes": -1}]),
     ["action.attachments.0.size_bytes"]),
    ("attachment size fractional", at(EMAIL, "action.attachments", [{"size_bytes": 1.5}]),
     ["action.attachments.0.size_bytes"]),
    ("content as a string", at(EMAIL, "action.content", "SSN 078-05-1123"),
     ["action.content"]),
    ("text as a list", at(EMAIL, "action.content.text", ["SSN 078-05-1123"]),
     ["action.content.text"]),
    ("subject as a number", at(EMAIL, "action.content.subject", 7),
     ["action.content.subject"]),
    ("tone as a list", at(EMAIL, "action.content.tone", ["casual"]), ["action.content.tone"]),
    ("topics as a string", at(EMAIL, "action.content.topics", "legal"),
     ["action.content.topics"]),
    ("topics holding a number", at(EMAIL, "action.content.topics", ["legal", 1]),
     ["action.content.topics.1"]),
    ("action missing", {"agent": "sales-bot"}, ["action"]),
    ("action as a string", {"agent": "sales-bot", "action": "spend"}, ["action"]),
    ("action null", {"agent": "sales-bot", "action": None}, ["action"]),
    ("action.type missing", without(SPEND, "action.type"), ["action.type"]),
    ("action.type empty", at(SPEND, "action.type", ""), ["action.type"]),
    ("action.type a number", at(SPEND, "action.type", 1), ["action.type"]),
    ("agent missing", without(SPEND, "agent"), ["agent"]),
    ("agent empty", at(SPEND, "agent", ""), ["agent"]),
    ("agent a list", at(SPEND, "agent", ["sales-bot"]), ["agent"]),
    ("input a list", [SPEND], ["input"]),
    ("input a string", "spend 600", ["input"]),
    ("spend counter as a string", at(SPEND, "usage", {"spend": {"day": "0"}}),
     ["usage.spend.day"]),
    ("spend counter negative", at(SPEND, "usage", {"spend": {"month": -1000}}),
     ["usage.spend.month"]),
    ("action counter as a string",
     at(EMAIL, "usage", {"actions": {"send_email": {"hour": "0"}}}),
     ["usage.actions.send_email.hour"]),
    ("api counter null", {"agent": "sales-bot", "action": {"type": "api_call", "api": "crm"},
                          "usage": {"apis": {"crm": {"minute": None}}}},
     ["usage.apis.crm.minute"]),
    ("usage as a list", at(SPEND, "usage", [0]), ["usage"]),
    ("usage.spend as a number", at(SPEND, "usage", {"spend": 0}), ["usage.spend"]),
    ("usage.actions entry as a number", at(SPEND, "usage", {"actions": {"spend": 0}}),
     ["usage.actions.spend"]),
    ("recipient domain hiding the address's",
     at(EMAIL, "action.recipient", {"address": "x@evil.com", "domain": "acme.com"}),
     ["action.recipient.domain"]),
    ("address without @", at(EMAIL, "action.recipient", {"address": "evil.com"}),
     ["action.recipient.address"]),
    ("address with two @", at(EMAIL, "action.recipient", {"address": "a@acme.com@evil.com"}),
     ["action.recipient.address"]),
    ("recipient as a string", at(EMAIL, "action.recipient", "x@evil.com"),
     ["action.recipient"]),
    ("domain as a list", at(EMAIL, "action.recipient", {"domain": ["evil.com"]}),
     ["action.recipient.domain"]),
    ("api as a number", {"agent": "sales-bot", "action": {"type": "api_call", "api": 1}},
     ["action.api"]),
    ("data as a list", {"agent": "data-bot", "action": {"type": "export_data", "data": []}},
     ["action.data"]),
    ("classes as a string",
     {"agent": "data-bot", "action": {"type": "share_data", "data": {"classes": "pii"}}},
     ["action.data.classes"]),
    ("classes holding null",
     {"agent": "data-bot", "action": {"type": "share_data", "data": {"classes": [None]}}},
     ["action.data.classes.0"]),
    ("records as a string",
     {"agent": "data-bot", "action": {"type": "export_data", "data": {"records": "10"}}},
     ["action.data.records"]),
    ("records negative",
     {"agent": "data-bot", "action": {"type": "export_data", "data": {"records": -1}}},
     ["action.data.records"]),
    ("retention as a string",
     {"agent": "data-bot", "action": {"type": "store_data", "data": {"retention_days": "9"}}},
     ["action.data.retention_days"]),
    ("consent as a string",
     {"agent": "data-bot", "action": {"type": "share_data", "data": {"consent": "true"}}},
     ["action.data.consent"]),
    ("destination, region, purpose not strings",
     {"agent": "data-bot", "action": {"type": "export_data", "data": {
         "destination": 1, "region": ["eu"], "purpose": None}}},
     ["action.data.destination", "action.data.purpose", "action.data.region"]),
    ("content type as a number", at(EMAIL, "action.attachments", [{"content_type": 1}]),
     ["action.attachments.0.content_type"]),
    ("every bad field is named, under an undeclared agent",
     {"agent": "ghost", "action": {"type": "spend", "amount": "600", "currency": None,
                                   "content": {"text": 1}},
      "usage": {"spend": {"day": "0"}}},
     ["action.amount", "action.content.text", "action.currency", "usage.spend.day"]),
]


def test_every_malformed_shape_is_refused_with_its_paths(example: Any) -> None:
    results = judged(example[1], [document for _, document, _ in MALFORMED])
    for (name, document, expected), (decision, errors) in zip(MALFORMED, results, strict=True):
        assert paths(errors) == expected, name
        assert len(errors) == len(expected), (name, errors)  # one message per path
        assert_refused(decision, errors, document)
        assert ref.contract_errors(document) == expected, name  # the reference agrees


def test_messages_say_what_was_expected_and_what_came(example: Any) -> None:
    table = [
        (at(SPEND, "action.amount", "600"), "action.amount: expected a number, got string"),
        (at(SPEND, "action.amount", -5), "action.amount: expected a non-negative number, got -5"),
        (without(SPEND, "action.amount"),
         "action.amount: expected a non-negative number (spend needs one), got nothing"),
        (at(SPEND, "action.currency", "USD "),
         'action.currency: expected three letters (a currency code), got "USD "'),
        (at(SPEND, "action.currency", None),
         "action.currency: expected a string, got null"),
        (at(SPEND, "action.currency", "x" * 50),
         'action.currency: expected three letters (a currency code), got "' + "x" * 40 + '"...'),
        (without(SPEND, "action"), "action: expected an object, got nothing"),
        (at(SPEND, "agent", True), "agent: expected a string, got boolean"),
        (at(EMAIL, "action.recipient", {"address": "x@evil.com", "domain": "ACME.com"}),
         'action.recipient.domain: expected "evil.com" (the domain of '
         'action.recipient.address), got "ACME.com"'),
        (at(EMAIL, "action.attachments", [{"size_bytes": 2.5}]),
         "action.attachments.0.size_bytes: expected a non-negative integer, got 2.5"),
        ("x", "input: expected an object, got string"),
    ]
    results = judged(example[1], [document for document, _ in table])
    for (document, message), (decision, errors) in zip(table, results, strict=True):
        assert errors == [message]
        assert_refused(decision, errors, document)


# Well-formed inputs, some on the edge of the contract: the rules decide them.
WELL_FORMED: list[tuple[str, dict[str, Any]]] = [
    ("lower-case currency", at(SPEND, "action.currency", "usd")),
    ("a whole size written as a float", at(EMAIL, "action.attachments", [{"size_bytes": 2.0}])),
    ("zero amount", at(SPEND, "action.amount", 0)),
    ("undocumented fields anywhere",
     at(at(SPEND, "action.order_id", {"any": [None, 1]}), "custom", "x")),
    ("undocumented usage windows", at(SPEND, "usage", {"spend": {"week": "x"},
                                                       "other": None})),
    ("empty text, subject, api and lists",
     {"agent": "sales-bot", "action": {"type": "api_call", "api": "", "content": {
         "text": "", "subject": "", "topics": []}, "attachments": []}}),
    ("domain matching the address case-insensitively",
     at(EMAIL, "action.recipient", {"address": "x@Evil.COM", "domain": "evil.com"})),
    ("a domain without an address", at(EMAIL, "action.recipient", {"domain": "evil.com"})),
    ("amount not needed beyond spend and refund", {"agent": "sales-bot",
                                                   "action": {"type": "send_message"}}),
    ("an undeclared agent", at(SPEND, "agent", "ghost")),
]


def test_well_formed_inputs_reach_the_rules(example: Any) -> None:
    results = judged(example[1], [document for _, document in WELL_FORMED])
    for (name, document), (decision, errors) in zip(WELL_FORMED, results, strict=True):
        assert errors == [], name
        assert ref.contract_errors(document) == [], name
        assert all(v["rule"] != "invalid-input" for v in decision["violations"]), name
    ghost = results[-1][0]
    assert [v["rule"] for v in ghost["violations"]] == ["unknown-agent"]


def test_pack_examples_are_well_formed(example: Any) -> None:
    """Every example of the example repository satisfies the contract (its decisions are
    checked by `policypacks test`, tests/test_cli.py)."""
    documents = [e.input for p in example[0].packs.values() for e in p.examples]
    assert documents
    for document, (_, errors) in zip(documents, judged(example[1], documents), strict=True):
        assert errors == [], (document, errors)


# ---- attachment names as a file system judges them --------------------------------

EXTENSIONS = [
    ("report.pdf", "pdf"), ("a.tar.EXE", "exe"), ("virus.exe.", "exe"), ("virus.exe ", "exe"),
    ("virus.exe. . .", "exe"), ("virus.exe..", "exe"), ("README", ""), ("README.", ""),
    ("...", ""), ("", ""), (".hidden", "hidden"), ("a.exe.txt", "txt"), ("a .exe", "exe"),
    ("a.ex e", "ex e"), ("a.exe\t", "exe\t"),
]


def test_attachment_extensions(example: Any) -> None:
    answer = evaluate.query(example[1], "[{prefix}.rules.attachment.extension(name) | "
                                        "some name in input]", [n for n, _ in EXTENSIONS])
    assert answer == [ext for _, ext in EXTENSIONS]


def test_trailing_dots_and_spaces_do_not_hide_a_blocked_extension(example: Any) -> None:
    """safety-core blocks .exe attachments for every agent (packs/packs/safety-core.yaml)."""
    names = ["virus.exe.", "virus.exe ", "virus.EXE . ", "virus.exe"]
    documents = [at(EMAIL, "action.attachments", [{"name": n, "size_bytes": 10}])
                 for n in names]
    for (decision, errors), name in zip(judged(example[1], documents), names, strict=True):
        assert errors == []
        assert decision["decision"] == "block", name
        assert any(v["type"] == "attachment" for v in decision["violations"]), name


# ---- the model, its tables, its JSON Schema and its docs page ----------------------

def test_docs_page_is_generated_from_the_model() -> None:
    assert (ROOT / "docs" / "input.md").read_text() == input_contract.markdown(), \
        "docs/input.md is out of date: run scripts/gen_docs.py"


def test_every_field_of_the_model_is_in_the_tables() -> None:
    data = input_contract.contract_data()
    tabled = {tuple(g["path"] + [name]) for g in data["objects"] for name in g["fields"]}
    tabled |= {tuple(g["path"] + ["*"]) for g in data["collections"]}
    tabled |= {tuple(g["path"] + ["*", name]) for g in data["collections"]
               for name in g["fields"]}
    modelled = {tuple(s.path.replace("[]", ".*").split(".")) for s in input_contract.FIELDS}
    assert tabled == modelled
    for spec in input_contract.FIELDS:
        assert spec.type in input_contract.TYPE_TEXT
        assert set(spec.constraints) <= set(input_contract.CONSTRAINTS)
        assert not spec.pattern or (spec.type == "string" and not spec.constraints)


# ---- hypothesis: wrong-typed values in every documented field -----------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text("abcxyz", max_size=3), inner, max_size=3),
    max_leaves=6)


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def breaking(spec: input_contract.Field) -> st.SearchStrategy[Any]:
    """Values that break the field: another JSON type, or the right type out of bounds."""
    wrong = JSON.filter(lambda v: json_type(v) != spec.type)
    bad: list[st.SearchStrategy[Any]] = [wrong]
    if "non_negative" in spec.constraints:
        bad.append(st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False)
                   | st.integers(max_value=-1))
    if "integer" in spec.constraints:
        bad.append(st.floats(0.01, 1e6).filter(lambda v: not v.is_integer()))
    if "non_empty" in spec.constraints:
        bad.append(st.just(""))
    if spec.pattern == input_contract.CURRENCY_PATTERN:
        bad.append(st.text(max_size=5).filter(lambda v: not (
            len(v) == 3 and v.isascii() and v.isalpha())))
    if spec.pattern == input_contract.ADDRESS_PATTERN:
        bad.append(st.text("ab@.", max_size=6).filter(lambda v: v.count("@") != 1))
    return st.one_of(bad)


def concrete(path: str, document: dict[str, Any]) -> str:
    """A concrete path for a model path: [] is element 0, * the action's type (for
    usage.actions) or an API name."""
    action = document.get("action")
    kind = action.get("type") if isinstance(action, dict) else None
    key = kind if ".actions." in path and isinstance(kind, str) and kind else "crm"
    return path.replace("[]", ".0").replace("*", key)


def place(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy with `value` at a concrete dotted path (numeric segments index lists); the
    containers on the way are made, or replace what stood there."""
    out = copy.deepcopy(document)
    node: Any = out
    segments = path.split(".")
    for segment, after in zip(segments, segments[1:], strict=False):
        kind: type = list if after.isdigit() else dict
        if isinstance(node, list):
            key: Any = int(segment)
            node.extend({} for _ in range(key + 1 - len(node)))
        else:
            key = segment
        if not isinstance(node[key] if isinstance(node, list) else node.get(key), kind):
            node[key] = kind()
        node = node[key]
    if isinstance(node, list):
        node.extend(None for _ in range(int(segments[-1]) + 1 - len(node)))
        node[int(segments[-1])] = value
    else:
        node[segments[-1]] = value
    return out


@pytest.fixture(scope="module")
def refused_twins(example: Any) -> list[dict[str, Any]]:
    """The example repository's well-formed inputs that it refuses (block or approval)."""
    documents = [e.input for p in example[0].packs.values() for e in p.examples
                 if e.expect in ("block", "require_approval")]
    results = judged(example[1], documents)
    twins = [d for d, (decision, errors) in zip(documents, results, strict=True)
             if not errors and not decision["allow"]]
    assert len(twins) > 10
    return twins


FIELD_INDEX = st.integers(0, len(input_contract.FIELDS) - 1)


@settings(max_examples=6, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_breaking_a_field_of_a_refused_input_never_allows(example: Any, refused_twins: Any,
                                                          data: st.DataObject) -> None:
    batch = []
    for _ in range(40):
        twin = data.draw(st.sampled_from(refused_twins))
        spec = input_contract.FIELDS[data.draw(FIELD_INDEX)]
        path = concrete(spec.path, twin)
        batch.append((place(twin, path, data.draw(breaking(spec))), path))
    results = judged(example[1], [document for document, _ in batch])
    for (document, path), (decision, errors) in zip(batch, results, strict=True):
        assert not decision["allow"], document
        assert path in paths(errors) or any(path.startswith(p + ".") for p in paths(errors)), \
            (path, errors)
        assert_refused(decision, errors, document)
        assert paths(errors) == ref.contract_errors(document), document


def maybe_broken(spec: input_contract.Field) -> st.SearchStrategy[Any]:
    return breaking(spec) | JSON


@settings(max_examples=6, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_any_input_gets_the_references_verdict(example: Any, refused_twins: Any,
                                               data: st.DataObject) -> None:
    """Arbitrary values in several documented fields at once: OPA names exactly the
    paths the reference names, and an input is refused whenever one is named."""
    batch = []
    for _ in range(40):
        document = data.draw(st.sampled_from(refused_twins))
        for index in data.draw(st.lists(FIELD_INDEX, min_size=1, max_size=4)):
            spec = input_contract.FIELDS[index]
            document = place(document, concrete(spec.path, document),
                             data.draw(maybe_broken(spec)))
        batch.append(document)
    results = judged(example[1], batch)
    for document, (decision, errors) in zip(batch, results, strict=True):
        assert paths(errors) == ref.contract_errors(document), json.dumps(document)
        if errors:
            assert_refused(decision, errors, document)
        else:
            assert all(v["rule"] != "invalid-input" for v in decision["violations"])


@settings(max_examples=4, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(JSON, min_size=30, max_size=30))
def test_opa_json_schema_of_the_model_agrees(example: Any, values: list[Any]) -> None:
    """The model's JSON Schema, checked by OPA's json.match_schema, gives the same verdict
    as the Rego tables (except the domain check, which a schema cannot state)."""
    documents: list[Any] = []
    for value, spec in zip(values, input_contract.FIELDS * 2, strict=False):
        documents.append(place(SPEND, concrete(spec.path, SPEND), value))
    schema = json.dumps(input_contract.json_schema()).replace("{", "{{").replace("}", "}}")
    answer = evaluate.query(example[1], "[[count(e) == 0, ok] | some x in input; "
                                        "e := {prefix}.lib.input_contract.errors with input as x; "
                                        f"[ok, _] := json.match_schema(x, {schema})]",
                            documents)
    assert answer == [[ok, ok] for ok, _ in answer]
