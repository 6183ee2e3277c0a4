"""Helpers the tests share: writing repositories, compiling them, asking real OPA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from policypacks.catalog import Example
from policypacks.compile import CompiledPolicy
from policypacks.opa import evaluate
from policypacks.pipeline import compile_path

API = "policypacks/v1"


def identity(id: str = "acme", **spec: Any) -> dict[str, Any]:
    spec.setdefault("internalDomains", ["acme.com"])
    return {"apiVersion": API, "kind": "Identity", "metadata": {"id": id, "name": id},
            "spec": spec}


def pack(id: str, enforcement: str = "block", rules: list[dict[str, Any]] | None = None,
         category: str = "safety", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "PolicyPack",
            "metadata": {"id": id, "name": id, "category": category},
            "spec": {"enforcement": enforcement, "rules": rules or [], **spec}}


def agent(id: str, packs: list[Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Agent", "metadata": {"id": id, "name": id},
            "spec": {"packs": packs or [], **spec}}


class Yaml12Dumper(yaml.SafeDumper):
    """PyYAML writes YAML 1.1: a string such as ``0E0`` or ``0o17`` goes out unquoted,
    and the repository loader (YAML 1.2 core) rightly reads it back as a number. Strings
    that are not plain words are written double-quoted, so every string stays a string."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    plain = value.isidentifier() and value.lower() not in ("true", "false", "null", "y", "n")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


Yaml12Dumper.add_representer(str, _represent_str)


def write_repo(root: Path, documents: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "repo.yaml").write_text(yaml.dump_all(documents, Dumper=Yaml12Dumper,
                                                  sort_keys=False, allow_unicode=True))
    return root


def compile_docs(root: Path, documents: list[dict[str, Any]]) -> CompiledPolicy:
    return compile_path(write_repo(root, documents), revision="test")[1]


def decide(root: Path, documents: list[dict[str, Any]],
           inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return evaluate.decisions(compile_docs(root, documents), inputs)


def catalog_repo(type_name: str, examples: list[Example]) -> tuple[list[dict[str, Any]],
                                                                   list[dict[str, Any]]]:
    """One repository for a rule type's whole table: example i gets pack p<i> (block,
    scope none) holding the rule, and agent a<i> attaching it."""
    documents: list[dict[str, Any]] = [identity("catalog")]
    inputs = []
    for index, example in enumerate(examples):
        rule = {"id": "r", "type": type_name, **example.params}
        documents.append(pack(f"p{index}", "block", [rule], scope="none"))
        documents.append(agent(f"a{index}", [{"pack": f"p{index}"}]))
        inputs.append({**example.input, "agent": f"a{index}"})
    return documents, inputs
