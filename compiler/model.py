"""The validated policy repository: what the compiler works from.

Everything here is already checked and normalised; ``loc`` remembers where each thing
was written so later steps can still point at the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
class Repository:
    root: Path
    identity: Identity
    packs: dict[str, Pack]
    agents: dict[str, Agent]
