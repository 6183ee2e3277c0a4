"""The agent-side client: ask the OPA sidecar "may I do this?" and keep the audit trail.

The decision itself is made in Rego (SPEC section 3); the client only supplies the usage
counters OPA needs for caps, turns every failure to get a valid decision into a ``block``
(an agent must never act because its policy engine was down), and records what was
refused, warned about or sent for approval in the store.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

import requests

from ..vocabulary import ALLOWING, DECISIONS, ID_PATTERN, SYSTEM_PACK, decision_path
from . import obligations
from .store import DEFAULT_CURRENCY, DEFAULT_SPEND_ACTIONS, ENV_STORE, Store, open_store

if TYPE_CHECKING:
    from .guard import ToolGuard

log = logging.getLogger("policypacks.client")

ENGINE_UNAVAILABLE = "policy engine unavailable"


@dataclass
class Decision:
    """OPA's answer (SPEC section 5), or the client's fail-closed stand-in for one."""

    decision: str
    allow: bool
    violations: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    approval: dict[str, Any] | None = None
    obligations: list[dict[str, Any]] = field(default_factory=list)
    revision: str | None = None
    decision_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    incident: str | None = None  # set when no valid decision came from OPA
    record_id: int | None = None  # the row in the store's decisions, when recorded

    @classmethod
    def from_document(cls, doc: dict[str, Any], decision_id: str | None) -> Decision:
        return cls(decision=doc["decision"], allow=doc["allow"], violations=doc["violations"],
                   suppressed=doc.get("suppressed") or [], approval=doc.get("approval"),
                   obligations=doc.get("obligations") or [], revision=doc.get("revision"),
                   decision_id=decision_id, raw=doc)

    def document(self) -> dict[str, Any]:
        """What the store keeps of the decision."""
        return {"decision": self.decision, "allow": self.allow, "violations": self.violations,
                "approval": self.approval, "revision": self.revision,
                "decision_id": self.decision_id}


@dataclass
class ApprovalRequest:
    """A pending (or resolved) human approval; ``outcome`` is ``allow``/``block`` once
    approved, denied or expired (then the route's fallback)."""

    id: str
    status: str
    approvers: list[str]
    timeout_seconds: int
    fallback: str
    route: str | None
    created_at: str
    expires_at: str
    outcome: str | None = None
    resolved_by: str | None = None
    resolved_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApprovalRequest:
        return cls(id=row["id"], status=row["status"], approvers=row["approvers"],
                   timeout_seconds=row["timeout_seconds"], fallback=row["fallback"],
                   route=row["route"], created_at=row["created_at"],
                   expires_at=row["expires_at"], outcome=row["outcome"],
                   resolved_by=row["resolved_by"], resolved_at=row["resolved_at"], raw=row)


class PolicyBlocked(Exception):  # noqa: N818 - the name says what happened to the action
    """The action must not happen. ``ApprovalRequired`` is a subclass, so an agent that
    only catches ``PolicyBlocked`` also stops when a human has to approve first."""

    def __init__(self, decision: Decision):
        self.decision = decision
        reasons = "; ".join(v.get("message", "") for v in decision.violations) or "no reason"
        super().__init__(f"{decision.decision}: {reasons}")


class ApprovalRequired(PolicyBlocked):  # noqa: N818
    """The action needs a human's approval; ``request`` is the pending request."""

    def __init__(self, decision: Decision, request: ApprovalRequest | None):
        super().__init__(decision)
        self.request = request


def unavailable(reason: str, enforcement: str = "block") -> Decision:
    """The decision standing in for one OPA did not give."""
    message = f"{ENGINE_UNAVAILABLE}: {reason}"
    violation = {"pack": SYSTEM_PACK, "rule": "engine-unavailable", "type": "engine_unavailable",
                 "category": "operational", "enforcement": enforcement, "level": "system",
                 "message": message}
    return Decision(decision=enforcement, allow=enforcement != "block", violations=[violation],
                    raw={}, incident=message)


def invalid_reason(doc: Any) -> str | None:
    """Why ``doc`` is not a decision document of SPEC section 5 (None when it is)."""
    if not isinstance(doc, dict):
        return f"the result is {type(doc).__name__}, not a decision document"
    if doc.get("decision") not in DECISIONS:
        return f"decision {doc.get('decision')!r} is not one of {', '.join(DECISIONS)}"
    if doc.get("allow") is not (doc["decision"] in ALLOWING):
        return f"allow {doc.get('allow')!r} contradicts decision {doc['decision']!r}"
    violations = doc.get("violations")
    if not isinstance(violations, list) or not all(isinstance(v, dict) for v in violations):
        return "violations is not a list of objects"
    if doc["decision"] != "allow" and not violations:
        return f"decision {doc['decision']!r} without a violation"
    if doc["decision"] == "require_approval" and not isinstance(doc.get("approval"), dict):
        return "require_approval without an approval route"
    for key in ("suppressed", "obligations"):
        if not isinstance(doc.get(key, []), list):
            return f"{key} is not a list"
    return None


class PolicyClient:
    """Ask OPA about an agent's actions; record refusals, usage and approvals.

    ``store`` is a store URL (``sqlite:///path.db``), a :class:`Store`, or None for
    ``$POLICYPACKS_STORE`` (with neither, nothing is recorded and ``usage`` must be
    passed to :meth:`check` for caps to see earlier actions). ``on_error="allow"`` lets
    actions through when OPA cannot answer: an explicit, logged and recorded opt-out of
    failing closed. ``spend_actions`` are the action types whose amounts count as spend
    (list the ``actions`` of your ``spending_limit`` rules if they are not ``[spend]``).
    ``token`` (default ``$POLICYPACKS_OPA_TOKEN``) is the sidecar's agent token.
    """

    def __init__(self, opa_url: str, identity: str, agent: str,
                 store: str | Store | None = None, timeout: float = 1.0,
                 on_error: Literal["block", "allow"] = "block", keep_text: bool = False,
                 spend_actions: Iterable[str] = DEFAULT_SPEND_ACTIONS,
                 session: requests.Session | None = None, token: str | None = None):
        if not ID_PATTERN.match(identity):
            raise ValueError(f"identity {identity!r} is not an identity id")
        if on_error not in ("block", "allow"):
            raise ValueError("on_error is 'block' or 'allow'")
        self.opa_url = opa_url.rstrip("/")
        self.identity, self.agent = identity, agent
        self.timeout, self.on_error, self.keep_text = timeout, on_error, keep_text
        self.spend_actions = tuple(spend_actions)
        self.url = self.opa_url + decision_path(identity)
        self.session = session or requests.Session()
        # The agent token of an OPA started by `policypacks opa run` (never logged).
        token = token or os.environ.get("POLICYPACKS_OPA_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token.strip()}"
        store = store if store is not None else os.environ.get(ENV_STORE)
        self.store: Store | None = open_store(store) if isinstance(store, str) else store
        if self.store is None:
            log.warning("policy client for %s/%s has no store: usage, refusals and approvals "
                        "are not recorded", identity, agent)
        if on_error == "allow":
            log.warning("policy client for %s/%s lets actions through when OPA is "
                        "unavailable (on_error='allow')", identity, agent)

    def close(self) -> None:
        self.session.close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- asking OPA --------------------------------------------------------------------

    def usage(self, action: dict[str, Any]) -> dict[str, Any]:
        """The usage document for ``action`` (spend in the action's currency)."""
        if self.store is None:
            return {}
        currency = str(action.get("currency") or DEFAULT_CURRENCY)
        return self.store.usage(self.identity, self.agent, currency=currency,
                                spend_actions=self.spend_actions)

    def check(self, action: dict[str, Any], usage: dict[str, Any] | None = None) -> Decision:
        """OPA's decision on ``action``; never raises because OPA or the store failed."""
        if not isinstance(action, dict):
            raise TypeError("action must be a dict with at least a 'type'")
        try:
            usage = self.usage(action) if usage is None else usage
        except (sqlite3.Error, OSError) as exc:
            decision = self._failed(f"usage store unreadable: {exc}")
        else:
            decision = self._ask(action, usage)
        if decision.decision != "allow" or decision.incident:
            self._record(action, decision)
        return decision

    def _ask(self, action: dict[str, Any], usage: dict[str, Any]) -> Decision:
        body = {"input": {"agent": self.agent, "action": action, "usage": usage}}
        try:
            answer = self.session.post(self.url, json=body, timeout=self.timeout)
        except requests.Timeout:
            return self._failed(f"no answer from {self.opa_url} within {self.timeout:g}s")
        except requests.RequestException as exc:
            return self._failed(f"cannot reach {self.opa_url} ({type(exc).__name__})")
        if answer.status_code != 200:
            return self._failed(f"HTTP {answer.status_code} from {self.opa_url}: "
                                f"{answer.text.strip()[:200]}")
        try:
            reply = answer.json()
        except ValueError:
            return self._failed(f"{self.opa_url} answered something that is not JSON")
        if not isinstance(reply, dict) or "result" not in reply:
            return self._failed(f"no decision for identity {self.identity!r} (undefined "
                                "result: is its bundle loaded?)")
        reason = invalid_reason(reply["result"])
        if reason:
            return self._failed(f"invalid decision document: {reason}")
        decision_id = reply.get("decision_id")
        return Decision.from_document(reply["result"],
                                      decision_id if isinstance(decision_id, str) else None)

    def _failed(self, reason: str) -> Decision:
        """Fail closed, or (opted out) let the action through as a warning."""
        if self.on_error == "allow":
            log.warning("%s: %s; allowing because on_error='allow'", ENGINE_UNAVAILABLE, reason)
            return unavailable(reason, enforcement="warn")
        log.error("%s: %s; blocking", ENGINE_UNAVAILABLE, reason)
        return unavailable(reason)

    def _record(self, action: dict[str, Any], decision: Decision) -> None:
        if self.store is None:
            log.warning("%s for %s/%s not recorded (no store): %s", decision.decision,
                        self.identity, self.agent, decision.violations)
            return
        try:
            decision.record_id = self.store.record_decision(
                self.identity, self.agent, action, decision.document(), decision.decision_id,
                incident=decision.incident, keep_text=self.keep_text)
        except (sqlite3.Error, OSError) as exc:  # the decision stands; the trail is best effort
            log.error("could not record the %s decision: %s", decision.decision, exc)

    # -- acting on decisions -----------------------------------------------------------

    @overload
    def enforce(self, action: dict[str, Any], usage: dict[str, Any] | None = None,
                apply_obligations: Literal[False] = False) -> Decision: ...

    @overload
    def enforce(self, action: dict[str, Any], usage: dict[str, Any] | None = None, *,
                apply_obligations: Literal[True]) -> dict[str, Any]: ...

    def enforce(self, action: dict[str, Any], usage: dict[str, Any] | None = None,
                apply_obligations: bool = False) -> Decision | dict[str, Any]:
        """The decision if the action may go ahead (warnings logged); otherwise raise
        ``PolicyBlocked``, or ``ApprovalRequired`` after opening an approval request.
        With ``apply_obligations``, the action to send instead: the decision's
        obligations applied (``policypacks.obligations.apply``)."""
        if apply_obligations:
            return obligations.apply(action, self.enforce(action, usage))
        decision = self.check(action, usage)
        if decision.decision == "warn":
            log.warning("policy warning for %s/%s %s: %s", self.identity, self.agent,
                        action.get("type"),
                        "; ".join(v.get("message", "") for v in decision.violations))
        if decision.allow:
            return decision
        if decision.decision == "require_approval":
            request = self.request_approval(decision, action) if self.store else None
            raise ApprovalRequired(decision, request)
        raise PolicyBlocked(decision)

    def record(self, action: dict[str, Any], at: datetime | None = None) -> None:
        """Count ``action`` against the caps: call it once the action really happened."""
        if self.store is None:
            log.warning("usage of %s not recorded (no store)", action.get("type"))
            return
        self.store.record_usage(self.identity, self.agent, action, at=at)

    def request_approval(self, decision: Decision, action: dict[str, Any]) -> ApprovalRequest:
        """A pending request routed as the decision says (approvers, timeout, fallback)."""
        if self.store is None:
            raise RuntimeError("approval requests need a store")
        row = self.store.create_approval(self.identity, self.agent, action, decision.document(),
                                         decision.decision_id, keep_text=self.keep_text)
        log.info("approval %s requested from %s for %s/%s %s", row["id"],
                 ", ".join(row["approvers"]) or "nobody", self.identity, self.agent,
                 action.get("type"))
        return ApprovalRequest.from_row(row)

    def guard(self, tool: str, **options: Any) -> ToolGuard:
        """Policy around a tool function, sync or async: ``@client.guard("gmail.send")``
        (options and steps: :mod:`policypacks.runtime.guard`)."""
        from .guard import ToolGuard
        return ToolGuard(self, tool, **options)

    def approval_status(self, approval_id: str) -> ApprovalRequest:
        """The request as it stands now (an expired one has resolved to its fallback)."""
        if self.store is None:
            raise RuntimeError("approval requests need a store")
        row = self.store.get_approval(approval_id)
        if row is None:
            raise KeyError(f"no approval request {approval_id}")
        return ApprovalRequest.from_row(row)
