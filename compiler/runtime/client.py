"""The agent-side client: ask the OPA sidecar "may I do this?" and keep the audit trail.

The decision itself is made in Rego (SPEC section 3); the client only supplies the usage
counters OPA needs for caps, turns every failure to get a valid decision into a ``block``
(an agent must never act because its policy engine or its store was down, or because it
sent a value that has no JSON meaning), and records what was refused, warned about or
sent for approval in the store.

``enforce`` admits and reserves in one step: under the agent's usage lock it reads the
usage, asks OPA, and counts the admitted action before the lock is released, so agents
sharing a store never admit more than a cap (docs/security.md says why and how).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, overload

import requests

from ..vocabulary import ALLOWING, DECISIONS, ID_PATTERN, SYSTEM_PACK, decision_path
from . import obligations, transport
from .store import (
    DEFAULT_CURRENCY,
    DEFAULT_SPEND_ACTIONS,
    ENV_STORE,
    ApprovalNotRedeemable,
    InvalidAmount,
    Store,
    StoreError,
    Tx,
    open_store,
)
from .store.usage import amount_of
from .values import convert, to_json

if TYPE_CHECKING:
    from .guard import ToolGuard

log = logging.getLogger("policypacks.client")

ENGINE_UNAVAILABLE = "policy engine unavailable"
STORE_UNAVAILABLE = "policy store unavailable"


@dataclass
class Decision:
    """OPA's answer (SPEC section 5), or the client's fail-closed stand-in for one."""

    decision: str
    allow: bool
    violations: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)
    approval: dict[str, Any] | None = None
    obligations: list[dict[str, Any]] = field(default_factory=list)
    # what shadow-mode rules reported and what waivers lifted (docs/shadow.md, waivers.md)
    shadow: list[dict[str, Any]] = field(default_factory=list)
    waived: list[dict[str, Any]] = field(default_factory=list)
    revision: str | None = None
    digest: str | None = None  # the content digest of the bundle that decided (docs/replay.md)
    decision_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    incident: str | None = None  # set when no valid decision came from OPA
    record_id: int | None = None  # the row in the store's decisions, when recorded
    reservation: int | None = None  # the usage enforce() reserved for the admitted action
    approved: ApprovalRequest | None = None  # the approval enforce() redeemed for it

    @classmethod
    def from_document(cls, doc: dict[str, Any], decision_id: str | None) -> Decision:
        return cls(decision=doc["decision"], allow=doc["allow"], violations=doc["violations"],
                   suppressed=doc.get("suppressed") or [], approval=doc.get("approval"),
                   obligations=doc.get("obligations") or [], revision=doc.get("revision"),
                   digest=doc["digest"] if isinstance(doc.get("digest"), str) else None,
                   shadow=_objects(doc.get("shadow")), waived=_objects(doc.get("waived")),
                   decision_id=decision_id, raw=doc)

    @property
    def worth_recording(self) -> bool:
        """What the audit trail keeps: every decision but a plain allow (one with nothing
        in shadow and nothing waived)."""
        return (self.decision != "allow" or self.incident is not None
                or bool(self.shadow) or bool(self.waived))

    def document(self) -> dict[str, Any]:
        """What the store keeps of the decision."""
        return {"decision": self.decision, "allow": self.allow, "violations": self.violations,
                "shadow": self.shadow, "waived": self.waived,
                "approval": self.approval, "revision": self.revision,
                "decision_id": self.decision_id}


def _objects(value: Any) -> list[dict[str, Any]]:
    """A list of objects from OPA's answer, or nothing (the extensions are optional)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


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
    admins: list[str] = field(default_factory=list)
    redeemed_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ApprovalRequest:
        return cls(id=row["id"], status=row["status"], approvers=row["approvers"],
                   timeout_seconds=row["timeout_seconds"], fallback=row["fallback"],
                   route=row["route"], created_at=row["created_at"],
                   expires_at=row["expires_at"], outcome=row["outcome"],
                   resolved_by=row["resolved_by"], resolved_at=row["resolved_at"],
                   admins=row.get("admins") or [], redeemed_at=row.get("redeemed_at"),
                   raw=row)


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


def system_decision(rule: str, message: str, category: str = "operational",
                    level: str = "system", enforcement: str = "block",
                    incident: bool = True) -> Decision:
    """A decision the client makes itself, with one ``_system`` violation."""
    violation = {"pack": SYSTEM_PACK, "rule": rule, "type": rule.replace("-", "_"),
                 "category": category, "enforcement": enforcement, "level": level,
                 "message": message}
    return Decision(decision=enforcement, allow=enforcement in ALLOWING,
                    violations=[violation], raw={}, incident=message if incident else None)


def unavailable(reason: str, enforcement: str = "block") -> Decision:
    """The decision standing in for one OPA did not give."""
    return system_decision("engine-unavailable", f"{ENGINE_UNAVAILABLE}: {reason}",
                           enforcement=enforcement)


def store_unavailable(reason: str) -> Decision:
    """The store failed: caps cannot be counted, so nothing is admitted."""
    return system_decision("store-unavailable", f"{STORE_UNAVAILABLE}: {reason}")


def invalid_input(problems: list[str]) -> Decision:
    """SPEC section 4's input-contract violation, made by the client for values that
    cannot even be sent (NaN, bytes, ...) and amounts that must not reach the store."""
    return system_decision("invalid-input", "; ".join(problems), category="safety",
                           level="identity", incident=False)


@dataclass
class Recorded:
    """What ``record()`` did: ``recorded`` (``event`` is the usage event), ``refused``
    (a bad amount or value: nothing counted), ``no-store`` or ``store-unavailable``."""

    status: str
    detail: str = ""
    event: int | None = None

    def __bool__(self) -> bool:
        return self.status == "recorded"


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
    """Ask OPA about an agent's actions; reserve usage, record refusals and approvals.

    ``store`` is a store URL (``sqlite:////abs/path.db``, ``postgresql://…``), a
    :class:`Store`, or None for ``$POLICYPACKS_STORE`` (with neither, nothing is recorded
    and caps see no earlier actions). ``timeout`` bounds every call in total (waiting for
    the store's lock, asking OPA, reading its reply). ``on_error="allow"`` lets actions
    through when OPA cannot answer: an explicit, logged and recorded opt-out of failing
    closed (a failed store still blocks). ``spend_actions`` are the action types whose
    amounts count as spend (list the ``actions`` of your ``spending_limit`` rules if
    they are not ``[spend]``). ``trust_caller_usage=True`` lets callers pass their own
    ``usage`` document, which then replaces the store's counters: the caller is trusted
    to count honestly (without it, passing ``usage`` raises ``ValueError``).
    ``token`` (default ``$POLICYPACKS_OPA_TOKEN``) is the sidecar's agent token.
    """

    def __init__(self, opa_url: str, identity: str, agent: str,
                 store: str | Store | None = None, timeout: float = 1.0,
                 on_error: Literal["block", "allow"] = "block", keep_text: bool = False,
                 spend_actions: Iterable[str] = DEFAULT_SPEND_ACTIONS,
                 session: requests.Session | None = None, trust_caller_usage: bool = False,
                 max_reply_bytes: int = transport.MAX_REPLY_BYTES,
                 token: str | None = None):
        if not ID_PATTERN.match(identity):
            raise ValueError(f"identity {identity!r} is not an identity id")
        if on_error not in ("block", "allow"):
            raise ValueError("on_error is 'block' or 'allow'")
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.opa_url = opa_url.rstrip("/")
        self.identity, self.agent = identity, agent
        self.timeout, self.on_error, self.keep_text = timeout, on_error, keep_text
        self.trust_caller_usage, self.max_reply_bytes = trust_caller_usage, max_reply_bytes
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
        if trust_caller_usage:
            log.warning("policy client for %s/%s trusts the usage its callers pass "
                        "(trust_caller_usage=True)", identity, agent)

    def close(self) -> None:
        self.session.close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> PolicyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- preparing the input -------------------------------------------------------------

    def _prepare(self, action: Any) -> tuple[dict[str, Any], list[str]]:
        """The action as JSON-ready values and the reasons it cannot be sent, if any."""
        if not isinstance(action, dict):
            return {"type": f"[{type(action).__name__}]"}, [
                f"action: expected an object, got {type(action).__name__}"]
        converted, problems = convert(action, "action")
        if not problems:
            try:
                amount_of(converted)
            except InvalidAmount as exc:
                problems.append(str(exc))
        return converted, problems

    def _caller_usage(self, usage: dict[str, Any] | None) -> dict[str, Any] | None:
        if usage is None:
            return None
        if not self.trust_caller_usage:
            raise ValueError("usage is computed by the client from its store; passing it "
                             "needs PolicyClient(..., trust_caller_usage=True)")
        converted, problems = convert(usage, "usage")
        if problems or not isinstance(converted, dict):
            raise ValueError("usage: " + ("; ".join(problems) or "expected an object"))
        return converted

    def usage(self, action: dict[str, Any], tx: Tx | None = None) -> dict[str, Any]:
        """The usage document for ``action`` (spend in the action's currency)."""
        if self.store is None:
            return {}
        currency = action.get("currency")
        currency = currency if isinstance(currency, str) and currency else DEFAULT_CURRENCY
        return self.store.usage(self.identity, self.agent, currency=currency,
                                spend_actions=self.spend_actions, tx=tx)

    # -- asking OPA --------------------------------------------------------------------

    def check(self, action: dict[str, Any], usage: dict[str, Any] | None = None) -> Decision:
        """OPA's decision on ``action``, reserving nothing; never raises because OPA or
        the store failed or because the action holds a value with no JSON meaning."""
        deadline = time.monotonic() + self.timeout
        given = self._caller_usage(usage)
        converted, problems = self._prepare(action)
        if problems:
            decision = invalid_input(problems)
        else:
            try:
                current = given if given is not None else self.usage(converted)
            except StoreError as exc:
                decision = self._store_failed(exc)
            else:
                decision = self._ask(converted, current, deadline)
        if decision.worth_recording:
            self._record(converted, decision)
        return decision

    def _ask(self, action: dict[str, Any], usage: dict[str, Any], deadline: float) -> Decision:
        body = to_json({"input": {"agent": self.agent, "action": action, "usage": usage}},
                       sort_keys=False).encode()
        try:
            status, data = transport.post(self.session, self.url, body, deadline,
                                          self.max_reply_bytes)
            if status != 200:
                text = data[:200].decode("utf-8", "replace").strip()
                return self._failed(f"HTTP {status} from {self.opa_url}: {text}")
            reply = transport.parse(data)
        except requests.Timeout:
            return self._failed(f"no answer from {self.opa_url} within {self.timeout:g}s")
        except transport.ExchangeFailed as exc:
            return self._failed(f"{self.opa_url}: {exc}")
        except requests.RequestException as exc:
            return self._failed(f"cannot reach {self.opa_url} ({type(exc).__name__})")
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, fail closed
            return self._failed(f"asking {self.opa_url} failed ({type(exc).__name__}: {exc})")
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

    def _store_failed(self, exc: Exception) -> Decision:
        log.error("%s: %s; blocking", STORE_UNAVAILABLE, exc)
        return store_unavailable(str(exc))

    def _record(self, action: dict[str, Any], decision: Decision, tx: Tx | None = None) -> None:
        if self.store is None:
            log.warning("%s for %s/%s not recorded (no store): %s", decision.decision,
                        self.identity, self.agent, decision.violations)
            return
        try:
            decision.record_id = self.store.record_decision(
                self.identity, self.agent, action, decision.document(), decision.decision_id,
                incident=decision.incident, keep_text=self.keep_text, tx=tx)
        except StoreError as exc:
            if tx is not None:
                raise  # inside enforce's transaction: the whole admission fails
            log.error("could not record the %s decision: %s", decision.decision, exc)

    # -- acting on decisions -----------------------------------------------------------

    @overload
    def enforce(self, action: dict[str, Any], usage: dict[str, Any] | None = None,
                approval: str | None = None,
                apply_obligations: Literal[False] = False) -> Decision: ...

    @overload
    def enforce(self, action: dict[str, Any], usage: dict[str, Any] | None = None,
                approval: str | None = None, *,
                apply_obligations: Literal[True]) -> dict[str, Any]: ...

    def enforce(self, action: dict[str, Any], usage: dict[str, Any] | None = None,
                approval: str | None = None,
                apply_obligations: bool = False) -> Decision | dict[str, Any]:
        """Admit ``action`` and reserve its usage in one step, or raise.

        Returns the decision if the action may go ahead (warnings logged), with
        ``reservation`` set: its usage already counts against the caps, and
        :meth:`release` gives it back if the action does not happen after all (do not
        also :meth:`record` it). Otherwise raises ``PolicyBlocked``, or
        ``ApprovalRequired`` after opening an approval request. ``approval`` redeems an
        approved request (see :meth:`wait_for_approval`) for exactly the action it was
        asked for, once: it lifts ``require_approval``, never ``block``.

        With ``apply_obligations``, returns instead the action to carry out: the
        decision's obligations applied (``policypacks.obligations.apply``); its
        reservation then stands as the action's usage.
        """
        if apply_obligations:
            return obligations.apply(action, self.enforce(action, usage, approval))
        deadline = time.monotonic() + self.timeout
        given = self._caller_usage(usage)
        converted, problems = self._prepare(action)
        if problems:
            decision = invalid_input(problems)
            self._record(converted, decision)
        elif self.store is None:
            if approval is not None:
                raise RuntimeError("approvals need a store")
            decision = self._ask(converted, given or {}, deadline)
            if decision.worth_recording:
                self._record(converted, decision)
        else:
            store = self.store

            def admit(tx: Tx) -> Decision:
                current = given if given is not None else self.usage(converted, tx)
                decision = self._ask(converted, current, deadline)
                if approval is not None and decision.decision == "require_approval":
                    decision = self._redeem(tx, approval, converted, decision)
                if decision.allow:
                    decision.reservation = store.reserve(tx, self.identity, self.agent,
                                                         converted)
                if decision.worth_recording:
                    self._record(converted, decision, tx)
                return decision
            try:
                decision = store.locked(self.identity, self.agent, admit, deadline)
            except StoreError as exc:
                decision = self._store_failed(exc)
                self._record(converted, decision)
        return self._act(converted, decision)

    def _redeem(self, tx: Tx, approval: str, action: dict[str, Any],
                decision: Decision) -> Decision:
        assert self.store is not None
        try:
            request = self.store.redeem_approval(tx, approval, self.identity, self.agent,
                                                 action, decision.decision_id)
        except ApprovalNotRedeemable as exc:
            refused = system_decision("approval-refused", str(exc), category="escalation",
                                      level="identity", incident=False)
            refused.violations += decision.violations
            refused.decision_id, refused.revision = decision.decision_id, decision.revision
            return refused
        log.info("approval %s (by %s) used for %s/%s %s", approval, request["resolved_by"],
                 self.identity, self.agent, action.get("type"))
        decision.allow = True
        decision.approved = ApprovalRequest.from_row(request)
        return decision

    def _act(self, action: dict[str, Any], decision: Decision) -> Decision:
        if decision.decision == "warn":
            log.warning("policy warning for %s/%s %s: %s", self.identity, self.agent,
                        action.get("type"),
                        "; ".join(v.get("message", "") for v in decision.violations))
        if decision.allow:
            return decision
        if decision.decision == "require_approval":
            request = None
            if self.store is not None:
                try:
                    request = self.request_approval(decision, action)
                except StoreError as exc:
                    log.error("could not open an approval request: %s", exc)
            raise ApprovalRequired(decision, request)
        raise PolicyBlocked(decision)

    def release(self, reservation: Decision | int | None) -> bool:
        """Give back the usage ``enforce()`` reserved, when the action did not happen.
        True when released; False when there was nothing to release (already released or
        committed, no store) or the store failed (logged). Never raises."""
        event = reservation.reservation if isinstance(reservation, Decision) else reservation
        if event is None or self.store is None:
            return False
        try:
            return self.store.release(self.identity, self.agent, event) == "reserved"
        except StoreError as exc:
            log.error("could not release reservation %s: %s", event, exc)
            return False

    def commit(self, reservation: Decision | int | None) -> bool:
        """Optional: mark a reservation as used (the action happened), so that a later
        ``release()`` of it is refused. Never raises."""
        event = reservation.reservation if isinstance(reservation, Decision) else reservation
        if event is None or self.store is None:
            return False
        try:
            return self.store.commit(self.identity, self.agent, event) == "reserved"
        except StoreError as exc:
            log.error("could not commit reservation %s: %s", event, exc)
            return False

    def record(self, action: dict[str, Any], at: datetime | None = None) -> Recorded:
        """Count ``action`` against the caps once it really happened: for callers of
        :meth:`check` (``enforce()`` has already counted what it admitted). Never raises:
        a bad amount (negative, NaN, infinite, not a number) or value is refused and a
        store failure is logged; the result says which."""
        converted, problems = self._prepare(action)
        if problems:
            log.error("usage of %r not recorded: %s", converted.get("type"), "; ".join(problems))
            return Recorded("refused", "; ".join(problems))
        if self.store is None:
            log.warning("usage of %s not recorded (no store)", converted.get("type"))
            return Recorded("no-store")
        try:
            event = self.store.record_usage(self.identity, self.agent, converted, at=at)
        except StoreError as exc:
            log.error("usage of %s not recorded: %s", converted.get("type"), exc)
            return Recorded("store-unavailable", str(exc))
        return Recorded("recorded", event=event)

    # -- approvals ---------------------------------------------------------------------

    def request_approval(self, decision: Decision, action: dict[str, Any]) -> ApprovalRequest:
        """A pending request routed as the decision says (approvers, timeout, fallback)."""
        if self.store is None:
            raise RuntimeError("approval requests need a store")
        converted, _ = convert(action)
        row = self.store.create_approval(self.identity, self.agent, converted,
                                         decision.document(), decision.decision_id,
                                         keep_text=self.keep_text)
        log.info("approval %s requested from %s for %s/%s %s", row["id"],
                 ", ".join(row["approvers"]) or "nobody", self.identity, self.agent,
                 converted.get("type"))
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

    def wait_for_approval(self, request: ApprovalRequest | str,
                          timeout: float | None = None) -> ApprovalRequest:
        """Block until a human approves or denies ``request`` or its route's timeout
        resolves it to its fallback, polling the store with backoff; ``timeout`` (seconds)
        bounds the wait, after which the request is returned still ``pending``. Then
        ``enforce(action, approval=request.id)`` when its ``outcome`` is ``allow``."""
        approval_id = request.id if isinstance(request, ApprovalRequest) else request
        current = self.approval_status(approval_id)
        if timeout is None:  # until the route's timeout, by the store's clock
            assert self.store is not None
            from .store.db import parse_stamp
            timeout = max(0.0, (parse_stamp(current.expires_at)
                                - self.store.now()).total_seconds()) + 1.0
        deadline = time.monotonic() + timeout
        delay = 0.05
        while current.status == "pending":
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 2.0)
            try:
                current = self.approval_status(approval_id)
            except StoreError as exc:  # keep waiting: the store may come back
                log.warning("waiting for approval %s: %s", approval_id, exc)
        return current
