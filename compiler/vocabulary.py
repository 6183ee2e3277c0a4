"""The contract's words (SPEC sections 2, 3 and 5), in one place and with no third-party
imports, so the compiler, the agent runtime and the CLI all spell them the same way."""

from __future__ import annotations

import re

#: The apiVersion of every policy document; YAML files whose documents name no
#: policypacks apiVersion are skipped (docs/repository.md).
API_VERSION = "policypacks/v1"
#: Enforcement levels, strictest first (SPEC section 3: block > require_approval > warn).
ENFORCEMENTS = ("block", "require_approval", "warn")
#: The enforcement of a rule that is evaluated and reported (under ``shadow`` in the
#: decision) but never changes the decision: a dry run before promotion (docs/shadow.md).
SHADOW = "shadow"
#: What a pack, an attachment or a rule may set as its enforcement.
AUTHORED_ENFORCEMENTS = (*ENFORCEMENTS, SHADOW)
#: Decisions, most permissive first; a decision's strictness is its index here.
DECISIONS = ("allow", "warn", "require_approval", "block")
#: Decisions under which the action may go ahead (``allow`` in the decision document).
ALLOWING = frozenset({"allow", "warn"})
PRECEDENCES = ("identity_overrides", "most_restrictive", "agent_overrides")
CATEGORIES = ("brand", "safety", "compliance", "operational", "data_governance", "escalation")
FALLBACKS = ("block", "allow")
APPROVAL_STATUSES = ("pending", "approved", "denied", "expired")

#: Ids of identities, packs, agents and rules.
ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
#: The pseudo-pack of violations the decision itself raises (unknown agent, bad input,
#: engine unavailable).
SYSTEM_PACK = "_system"
DEFAULT_APPROVAL_TIMEOUT = 24 * 3600
#: The environment variable naming the agent store (client, CLI, doctor).
ENV_STORE = "POLICYPACKS_STORE"


def strictness(decision: str) -> int:
    """How strict a decision is: 0 for ``allow`` up to 3 for ``block``."""
    return DECISIONS.index(decision)


def package_segment(identity_id: str) -> str:
    """The identity's segment of the data path: its id with '-' as '_' (SPEC section 5)."""
    return identity_id.replace("-", "_")


def decision_path(identity_id: str) -> str:
    """The REST path of an identity's decision (SPEC section 5)."""
    return f"/v1/data/policypacks/{package_segment(identity_id)}/decision"
