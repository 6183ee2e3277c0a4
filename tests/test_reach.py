"""What a decision reads of the data (compiler/deploy/reach.py): the reached part of the
config document decides every input as the whole does, and two bundles whose reached
data agree for an input decide it alike, so replay may skip it."""

# ruff: noqa: E501  (tables: one case per line)

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from handwritten.inputs import generated, pack_examples  # noqa: E402

from policypacks.bundle import write_bundle  # noqa: E402
from policypacks.deploy.publish import Bundle, read_bundle  # noqa: E402
from policypacks.deploy.reach import reached, selector, unaffected  # noqa: E402
from policypacks.opa.binary import eval_json  # noqa: E402
from policypacks.pipeline import compile_path  # noqa: E402

AGENTS = ["support-bot", "sales-bot", "marketing-bot", "data-bot", "unknown-bot"]
CONFIG = "policypacks/acme/config"


def inputs() -> list[dict[str, Any]]:
    """Pack examples and generated inputs, each asked as every agent (and an unknown one),
    plus inputs the tables do not govern alone."""
    base = [*pack_examples(), *generated(160)]
    every = [{**doc, "agent": agent} for i, doc in enumerate(base)
             for agent in AGENTS[i % 2::2]]
    return every + [{"agent": 7, "action": {"type": "spend"}}, {"agent": "sales-bot"},
                    {"agent": "sales-bot", "tool": {"name": "stripe.refund", "arguments": {}}}]


def edited(tmp: Path, name: str, edits: dict[str, tuple[str, str]]) -> Bundle:
    """The example repository with text replaced in some files, built."""
    repo = tmp / name
    shutil.copytree(ROOT / "packs", repo)
    for file, (old, new) in edits.items():
        path = repo / file
        text = path.read_text() if path.exists() else ""
        assert old in text or not old, f"{file}: {old!r} not found"
        path.write_text(text.replace(old, new, 1) if old else text + new)
    write_bundle(compile_path(repo, name)[1], tmp / f"{name}.tar.gz")
    return read_bundle(tmp / f"{name}.tar.gz")


def decide(bundle: Bundle, docs: list[dict[str, Any]], reach: bool = False) -> list[Any]:
    """Decisions by OPA over the bundle (revision and digest left out); with ``reach``,
    each decided with the config document replaced by what reached() keeps for it."""
    if reach:
        config = {**bundle.data[CONFIG], "bundle": bundle.data[f"{CONFIG}/bundle"]}
        items = [{"input": doc, "config": reached(config, *key)}
                 for doc in docs if (key := selector(doc))]
        # Each bound first: a `with` value that reads `input` would read the replaced one.
        query = ("[d | some x in input; i := x.input; c := x.config; "
                 "d := data.policypacks.acme.decision with input as i "
                 "with data.policypacks.acme.config as c]")
    else:
        items = docs
        query = "[d | some x in input; d := data.policypacks.acme.decision with input as x]"
    answer = eval_json(query, bundle=bundle.path, input_doc=items, raw=True)
    return [{k: v for k, v in d.items() if k not in ("revision", "digest")} for d in answer]


REPOS: list[tuple[str, dict[str, tuple[str, str]]]] = [
    ("example", {}),
    ("unknown agents get the defaults", {"identity.yaml": ("unknownAgents: block",
                                                           "unknownAgents: defaults")}),
]


@pytest.mark.parametrize("name, edits", REPOS, ids=[r[0] for r in REPOS])
def test_the_reached_data_decides_as_the_whole(tmp_path: Path, name: str,
                                               edits: dict[str, tuple[str, str]]) -> None:
    bundle = edited(tmp_path, "repo", edits)
    docs = [doc for doc in inputs() if selector(doc) is not None]
    whole, part = decide(bundle, docs), decide(bundle, docs, reach=True)
    assert len(whole) == len(part) == len(docs)
    differing = [(doc, w, p) for doc, w, p in zip(docs, whole, part, strict=True) if w != p]
    assert not differing, f"{len(differing)} of {len(docs)} differ; first: {differing[0]}"
    assert {d["decision"] for d in whole} == {"allow", "warn", "require_approval", "block"}


# Which inputs a change reaches, by SPEC sections 3 and 4 (an undeclared agent is blocked
# whatever it does, under the example's unknownAgents: block).
def declared(doc: dict[str, Any]) -> bool:
    return doc.get("agent") != "unknown-bot"


def declared_spend(doc: dict[str, Any]) -> bool:
    return declared(doc) and doc["action"].get("type") == "spend"


def support_bot_content(doc: dict[str, Any]) -> bool:
    return doc.get("agent") == "support-bot" and doc["action"].get("content") is not None


def sales_bot(doc: dict[str, Any]) -> bool:
    return doc.get("agent") == "sales-bot"


def nothing(doc: dict[str, Any]) -> bool:
    return False


NEW_AGENT = "apiVersion: policypacks/v1\nkind: Agent\nmetadata: {id: new-bot}\nspec: {packs: []}\n"
# A pack no agent attaches, whose id sorts before every other: its rules come first in
# config.rules, so the other rules' positions there move.
NEW_PACK = ("apiVersion: policypacks/v1\nkind: PolicyPack\nmetadata: {id: aaa-unused, category: safety}\n"
            "spec: {enforcement: block, scope: none, rules: [{id: cap, type: spending_limit, max: 1, period: day},\n"
            "  {id: route, type: escalation, match: {categories: [safety]}, approvers: [x]}]}\n")
Edits = dict[str, tuple[str, str]]
# change             file: (text, replaced by)                                   reaches         skips at least
CHANGES: list[tuple[str, Edits, Callable[[dict[str, Any]], bool], float]] = [
    ("a lower cap",      {"packs/ops-caps.yaml": ("max: 100\n", "max: 60\n")},     declared_spend,      0.6),
    ("one agent's pack", {"packs/casual-tone.yaml": ("[friendly, casual]", "[friendly]")},
                                                                                 support_bot_content, 0.7),
    ("an agent added",   {"agents/new-bot.yaml": ("", NEW_AGENT)},                  nothing,             1.0),
    ("an unused pack",   {"packs/aaa-unused.yaml": ("", NEW_PACK)},                 nothing,             1.0),
    ("internal domains", {"identity.yaml": ("[acme.com]", "[acme.com, acme.io]")}, declared,            0.0),
    ("a waiver expiry",  {"waivers/sales-bot-gbp-refunds.yaml": ("2027-06-30", "2027-07-30")},
                                                                                 sales_bot,           0.7),
]


@pytest.mark.parametrize("name, edits, decided, skipped", CHANGES, ids=[c[0] for c in CHANGES])
def test_inputs_a_change_cannot_reach_are_decided_alike(
        tmp_path: Path, name: str, edits: Edits, decided: Callable[[dict[str, Any]], bool],
        skipped: float) -> None:
    old, new = edited(tmp_path, "old", {}), edited(tmp_path, "new", edits)
    alike = unaffected(old, new)
    docs = inputs()
    governed = [doc for doc in docs if selector(doc) is not None]
    kept = [doc for doc in docs if alike(doc)]
    assert not [doc for doc in docs if selector(doc) is None and alike(doc)]
    assert not [doc for doc in kept if decided(doc)], "skipped an input the change reaches"
    assert len(kept) >= skipped * len(governed)
    # What the two bundles decide for the skipped inputs is indeed the same.
    assert decide(old, kept) == decide(new, kept)


def test_other_rego_or_data_of_another_shape_reaches_every_input(tmp_path: Path) -> None:
    old = edited(tmp_path, "old", {})
    doc = inputs()[0]
    assert unaffected(old, old)(doc)
    other = dataclasses.replace(old, modules={**old.modules, "x.rego": "package x\n"})
    assert not unaffected(old, other)(doc)
    config = {k: v for k, v in old.data[CONFIG].items() if k != "resolved"}  # an older build
    older = dataclasses.replace(old, data={**old.data, CONFIG: config})
    assert not unaffected(older, older)(doc)
