"""The JSON Schemas editors read: generated from the validator's own model, shipped
unchanged, accepting what the validator accepts and rejecting what it rejects."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from support import agent, identity, pack, write_repo

from policypacks import json_schema
from policypacks.catalog import rule_types
from policypacks.errors import ValidationFailed
from policypacks.validate import validate_repository

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = json_schema.document_schemas()
REGENERATE = "run .venv/bin/python scripts/gen_schema.py"


def validator(stem: str = "policypacks") -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMAS[stem])


@pytest.mark.parametrize("stem", sorted(SCHEMAS))
def test_each_schema_is_a_valid_draft_2020_12_schema(stem: str) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMAS[stem])
    assert SCHEMAS[stem]["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("where", ["docs/schema", "package"])
def test_the_shipped_files_are_what_the_model_generates(where: str) -> None:
    folder: Any = (ROOT / "docs" / "schema" if where == "docs/schema"
                   else resources.files("policypacks").joinpath("schemas"))
    expected = json_schema.rendered()
    shipped = {entry.name: entry.read_text(encoding="utf-8") for entry in folder.iterdir()
               if entry.name.endswith(".schema.json")}
    assert sorted(shipped) == sorted(expected), REGENERATE
    for name, text in expected.items():
        assert shipped[name] == text, f"{where}/{name} is stale: {REGENERATE}"


def test_every_kind_the_validator_knows_has_a_schema() -> None:
    from policypacks.validate import KINDS

    kinds = {body["$ref"].rsplit(".", 1)[-1] for body in SCHEMAS.values() if "$ref" in body}
    assert kinds == set(KINDS)


class Yaml12Timestamps(yaml.SafeLoader):
    """YAML 1.2 as editors read it: a timestamp (a Waiver's expiry) is a string."""

    yaml_implicit_resolvers = {
        first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "packs").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        for index, doc in enumerate(yaml.load_all(text, Loader=Yaml12Timestamps)):
            found.append((f"{path.relative_to(ROOT)}#{index}", doc))
    return found


@pytest.mark.parametrize("name, document", example_documents(), ids=lambda v: str(v)[:50])
def test_every_document_of_the_example_repository_is_valid(name: str,
                                                           document: dict[str, Any]) -> None:
    for stem in ("policypacks", document["kind"].lower()):
        errors = [f"{e.json_path}: {e.message}" for e in validator(stem).iter_errors(document)]
        assert errors == [], f"{name} against {stem}"


def test_every_rule_in_the_catalog_examples_is_valid() -> None:
    """Each rule type's own table of examples: every parameter set is a valid rule."""
    rules = jsonschema.Draft202012Validator(
        {"$ref": "#/$defs/rule", "$defs": SCHEMAS["policypack"]["$defs"]})
    for name, rule_type in rule_types().items():
        for example in rule_type.examples:
            rule = {"id": "r", "type": name, **example.params}
            errors = [e.message for e in rules.iter_errors(rule)]
            assert errors == [], f"{name}: {example.name}"


def valid_pack(**changes: Any) -> dict[str, Any]:
    rule = {"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}
    document = pack("caps", "block", [rule])
    for path, value in changes.items():
        target = document
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return document


DELETE = object()

# what is wrong                                 the broken pack document
INVALID = [
    ("unknown key in spec",                     valid_pack(**{"spec.enforcment": "block"})),
    ("missing enforcement",                     valid_pack(**{"spec.enforcement": DELETE})),
    ("enforcement outside the choices",         valid_pack(**{"spec.enforcement": "deny"})),
    ("id not an id",                            valid_pack(**{"metadata.id": "Caps"})),
    ("unknown category",                        valid_pack(**{"metadata.category": "fun"})),
    ("unknown rule type",                       valid_pack(**{"spec.rules.0.type": "spend_cap"})),
    ("rule parameter of another type",          valid_pack(**{"spec.rules.0.allowed": ["x"]})),
    ("max not a number",                        valid_pack(**{"spec.rules.0.max": "100"})),
    ("period outside the choices",              valid_pack(**{"spec.rules.0.period": "week"})),
    ("missing required parameter",              valid_pack(**{"spec.rules.0.period": DELETE})),
    ("rule without id",                         valid_pack(**{"spec.rules.0.id": DELETE})),
    ("scope neither all/none nor agents",       valid_pack(**{"spec.scope": "some"})),
    ("scope agents not a list",                 valid_pack(**{"spec.scope": {"agents": "bot"}})),
    ("example with an unknown expect",          valid_pack(**{"spec.examples": [
        {"name": "x", "input": {"agent": "bot", "action": {"type": "a"}}, "expect": "deny"}]})),
    ("example input not a mapping",             valid_pack(**{"spec.examples": [
        {"name": "x", "input": "spend", "expect": "allow"}]})),
    ("condition with two operators",            valid_pack(**{"spec.rules": [
        {"id": "c", "type": "condition",
         "when": {"field": "action.amount", "gt": 1, "lt": 5}}]})),
    ("condition with an unknown operator",      valid_pack(**{"spec.rules": [
        {"id": "c", "type": "condition", "when": {"field": "action.amount", "above": 1}}]})),
    ("condition field path with a space",       valid_pack(**{"spec.rules": [
        {"id": "c", "type": "condition", "when": {"field": "action amount", "exists": True}}]})),
    ("escalation timeout not a duration",       valid_pack(**{"spec.rules": [
        {"id": "e", "type": "escalation", "timeout": "soon"}]})),
    ("pii detector unknown",                    valid_pack(**{"spec.rules": [
        {"id": "p", "type": "pii", "detect": ["passport"]}]})),
    ("wrong apiVersion",                        valid_pack(apiVersion="policypacks/v2")),
]


@pytest.mark.parametrize("what, document", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_documents_are_rejected_by_schema_and_validator(
        tmp_path: Path, what: str, document: dict[str, Any]) -> None:
    assert list(validator().iter_errors(document)), f"the schema accepts: {what}"
    assert list(validator("policypack").iter_errors(document)), f"the schema accepts: {what}"
    write_repo(tmp_path, [identity(), document, agent("bot")])
    with pytest.raises(ValidationFailed):
        validate_repository(tmp_path)


def test_the_valid_pack_the_table_starts_from_is_valid(tmp_path: Path) -> None:
    document = valid_pack()
    assert list(validator().iter_errors(document)) == []
    validate_repository(write_repo(tmp_path, [identity(), document, agent("bot")]))


# --kind        schema title
KINDS = [("Identity", "policypacks Identity"), ("PolicyPack", "policypacks PolicyPack"),
         ("Agent", "policypacks Agent"), ("Tool", "policypacks Tool"),
         ("Test", "policypacks Test"),
         ("any", "policypacks document")]


@pytest.mark.parametrize("kind, title", KINDS)
def test_schema_command_prints_each_kind(kind: str, title: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "policypacks.cli", "schema", "--kind", kind],
                          capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["title"] == title


def test_schema_command_writes_the_shipped_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "policypacks.cli", "schema", "-o", str(tmp_path)],
                   check=True, capture_output=True)
    written = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    assert written == json_schema.rendered()


def test_schema_command_refuses_an_unknown_kind() -> None:
    proc = subprocess.run([sys.executable, "-m", "policypacks.cli", "schema", "--kind",
                           "Widget"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert ("--kind Widget: one of Agent, Identity, PolicyPack, Test, Tool, Waiver or any"
            in proc.stderr)


def test_a_kind_this_generator_does_not_know_gets_a_loose_envelope(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind added to the validator before this module learns it: its documents are
    never refused by the schema (the validator stays the judge)."""
    from policypacks import validate

    monkeypatch.setattr(validate, "KINDS", (*validate.KINDS, "Widget"))
    schemas = json_schema.document_schemas()
    widget = {"apiVersion": "policypacks/v1", "kind": "Widget",
              "metadata": {"id": "w", "owner": "x"}, "spec": {"anything": [1]}}
    for stem in ("widget", "policypacks"):
        assert list(jsonschema.Draft202012Validator(schemas[stem]).iter_errors(widget)) == []
    assert list(jsonschema.Draft202012Validator(schemas["widget"]).iter_errors(
        {**widget, "kind": "Agent"})) != []
