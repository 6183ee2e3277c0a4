"""The validated policy repository: what the compiler works from.

Everything here is already checked and normalised; ``loc`` remembers where each thing
was written so later steps can still point at the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import Location
from .vocabulary import DEFAULT_APPROVAL_TIMEOUT


@dataclass(frozen=True)
class Escalation:
    approvers: list[str] = field(default_factory=list)
    timeout_seconds: int = DEFAULT_APPROVAL_TIMEOUT
    fallback: str = "block"
    admins: list[str] = field(default_factory=list)  # may resolve every route's requests


@dataclass(frozen=True)
class Identity:
    id: str
    name: str
    precedence: str
    allow_agent_overrides: bool
    unknown_agents: str
    internal_domains: list[str]
    escalation: Escalation
    loc: Location
    unbound_tools: str = "block"  # a tool call no Tool document binds: block | allow


@dataclass(frozen=True)
class Rule:
    id: str
    type: str
    params: dict[str, Any]  # the type's parameters, as authored (validated)
    enforcement: str | None
    message: str | None
    key: str | None  # explicit conflict key
    loc: Location


@dataclass(frozen=True)
class PackExample:
    name: str
    input: dict[str, Any]
    expect: str
    violations: list[str] | None
    loc: Location
    shadow: list[str] | None = None  # the pack's shadow-mode reports (docs/shadow.md)


@dataclass(frozen=True)
class Pack:
    id: str
    name: str
    description: str
    category: str | None
    enforcement: str
    scope: str | list[str]  # "all", "none", or the agent ids listed
    overridable: bool
    rules: list[Rule]
    examples: list[PackExample]
    loc: Location


@dataclass(frozen=True)
class Attachment:
    pack: str
    enforcement: str | None
    loc: Location


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    precedence: str | None
    packs: list[Attachment]
    loc: Location


@dataclass(frozen=True)
class ToolField:
    """Where one action field of a tool binding gets its value: an argument path
    (``source``, optionally divided and with a default) or a constant (``value``)."""

    target: list[str]  # the action field, as path segments: ["recipient", "domain"]
    source: list[str] | None  # the argument path, or None for a constant
    value: Any = None  # the constant
    default: Any = None  # the value when the argument is missing
    has_default: bool = False
    divide: float | None = None  # a unit: 100 turns cents into dollars


@dataclass(frozen=True)
class ToolExample:
    name: str
    agent: str
    arguments: dict[str, Any]
    usage: dict[str, Any] | None
    expect: str
    violations: list[str] | None
    action: dict[str, Any] | None  # the mapped action, without its `tool` field
    loc: Location


@dataclass(frozen=True)
class Tool:
    """A tool binding: the tool a caller names and the action it performs."""

    id: str
    name: str
    tool: str  # the tool's name as callers send it (stripe.create_charge)
    action: str  # the action type
    fields: list[ToolField]
    examples: list[ToolExample]
    loc: Location


@dataclass(frozen=True)
class Waiver:
    """One rule of one pack lifted for one agent until ``expires`` (docs/waivers.md)."""

    id: str
    agent: str
    pack: str
    rule: str
    reason: str
    approved_by: str
    expires: datetime | None  # None only while the document is being checked
    loc: Location


@dataclass(frozen=True)
class Scenario:
    """One case of a Test document: an input and what the whole decision must say."""

    name: str
    input: dict[str, Any]
    expected: dict[str, Any]  # case key (expect, violations, ...) -> value, as checked
    loc: Location
    at: datetime | None = None  # decided with OPA's clock at this moment (waivers)


@dataclass(frozen=True)
class Scenarios:
    """A ``kind: Test`` document: whole-agent scenarios (docs/testing.md)."""

    id: str
    name: str
    cases: list[Scenario]
    loc: Location


@dataclass(frozen=True)
class Repository:
    root: Path
    identity: Identity
    packs: dict[str, Pack]
    agents: dict[str, Agent]
    tools: dict[str, Tool] = field(default_factory=dict)  # by tool name (spec.tool)
    waivers: dict[str, Waiver] = field(default_factory=dict)  # by id
    tests: dict[str, Scenarios] = field(default_factory=dict)  # kind Test, by id
