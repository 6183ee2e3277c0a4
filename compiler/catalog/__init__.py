"""The rule catalog: every rule type of SPEC section 4, one module each.

A rule type is a unit. Its module here holds the parameter schema, the conflict key,
the compilation of parameters into the data its Rego reads, its documentation and its
table of allowed/blocked examples; its fixed Rego lives in
``rego_templates/rules/<type>.rego.j2`` and its docs page in ``docs/rules/<type>.md``
(generated from this module by ``scripts/gen_docs.py``). ``tests/test_registry.py``
fails when any part is missing.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..schema import Field


class Example(NamedTuple):
    """One row of a rule type's table: parameters, the input, and what must happen.

    ``expect`` is ``violated`` or ``ok``. ``obligations`` (optional) is the exact list
    the decision must carry. ``input`` is the whole input minus ``agent``.
    """

    name: str
    params: Mapping[str, Any]
    input: Mapping[str, Any]
    expect: str
    obligations: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class CompileContext:
    """What a rule's compilation may need beyond its own parameters."""

    internal_domains: list[str]


def _no_data(params: dict[str, Any], ctx: CompileContext) -> dict[str, Any]:
    return {}


#: What ``RuleType.fires_on`` answers besides a list of action types: any action, or any
#: action that carries one field (not null): ``content`` (the text rules without
#: ``actions``), ``data``, ``attachments`` or ``tool``.
ANY_ACTION = "any"
WITH_CONTENT = "content"
WITH_DATA = "data"
WITH_ATTACHMENTS = "attachments"
WITH_TOOL = "tool"
#: The fields a rule can need an action to carry (the groups `carrying` of a table).
CARRIED_FIELDS = (WITH_CONTENT, WITH_DATA, WITH_ATTACHMENTS, WITH_TOOL)
FiresOn = list[str] | str


def _any_action(rule: dict[str, Any]) -> FiresOn:
    return ANY_ACTION


def text_actions(rule: dict[str, Any]) -> FiresOn:
    """A text rule fires only on actions with content: its ``actions``, else any such."""
    actions: list[str] | None = rule.get("actions")
    return actions if actions is not None else WITH_CONTENT


def listed_actions(rule: dict[str, Any]) -> FiresOn:
    """A rule that fires only on its ``actions`` (the type gives the default)."""
    actions: list[str] | None = rule.get("actions")
    return actions if actions is not None else ANY_ACTION


def _own_key(params: dict[str, Any]) -> str | None:
    return None


@dataclass(frozen=True)
class RuleType:
    name: str
    summary: str  # one line: what the rule guards
    violated_when: str  # SPEC section 4's "violated when", in words
    params: Mapping[str, Field]
    examples: list[Example]
    # The conflict key of SPEC section 3; None means "own" (conflicts only via `key`).
    conflict_key: Callable[[dict[str, Any]], str | None] = _own_key
    # Extra, precomputed fields the Rego template reads besides the parameters.
    compile: Callable[[dict[str, Any], CompileContext], dict[str, Any]] = _no_data
    key_doc: str = "own"  # the conflict key as SPEC section 4 writes it
    notes: str = ""  # further documentation (markdown)
    doc_params: Mapping[str, str] = field(default_factory=dict)  # parameter -> meaning
    # Which actions a rule can fire on, given its compiled data: a list of action types,
    # ANY_ACTION or a field the action must carry (WITH_CONTENT, WITH_DATA...). The build
    # groups each agent's rules by it, a decision walks only the groups its action fires,
    # and no template checks a rule's `actions` again: this answer *is* where the rule
    # applies, so it must be exactly the rule's `actions` (the default is any action);
    # the template may still find nothing to report on an action it receives.
    fires_on: Callable[[dict[str, Any]], FiresOn] = _any_action


_registry: dict[str, RuleType] = {}


def rule_types() -> dict[str, RuleType]:
    """Every rule type, by name; discovered from the modules of this package."""
    if not _registry:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            rule_type: RuleType = module.RULE_TYPE
            _registry[rule_type.name] = rule_type
    return _registry
