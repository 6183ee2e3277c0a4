"""``@client.guard("stripe.create_charge")``: policy around a plain Python tool.

Before the tool runs, its arguments go to OPA as a tool call: the tool's binding (kind
``Tool``) maps them onto an action there, the decision is taken on that action, and
usage is counted. Then, as configured:

- ``block`` raises :class:`PolicyBlocked`; the tool's body never runs;
- ``require_approval`` raises :class:`ApprovalRequired` (``approval="raise"``, the
  default) or waits for a human (``approval="wait"``): approved runs the tool once,
  denied raises :class:`ApprovalDenied`, and a wait that times out takes the route's
  fallback;
- obligations (``append_signature``, ``redact``) rewrite the arguments the tool gets
  (``obligations=True``, the default) and the rewritten call is decided again;
- once the tool returned, its usage stays counted; when it raised, it is given back.

The same steps serve the framework adapters (``policypacks.integrations``): they call
:meth:`ToolGuard.admit` and :meth:`ToolGuard.finish` around the framework's own tool
call. Nothing here imports a framework.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from ..vocabulary import package_segment
from . import obligations
from .client import ApprovalRequest, ApprovalRequired, Decision, PolicyBlocked

if TYPE_CHECKING:
    from .client import PolicyClient

log = logging.getLogger("policypacks.guard")

F = TypeVar("F", bound=Callable[..., Any])

class ApprovalDenied(PolicyBlocked):  # noqa: N818 - reads as what happened
    """A human denied the tool call (or its wait ran out and the fallback is block)."""

    def __init__(self, decision: Decision, request: ApprovalRequest | None, reason: str):
        super().__init__(decision)
        self.request = request
        self.reason = reason
        self.args = (f"{reason}: {self.args[0]}",)


@dataclass
class Admission:
    """A tool call that may go ahead: the arguments to run it with (obligations
    applied), the action OPA mapped them to, and the decision that admitted it."""

    tool: str
    arguments: dict[str, Any]
    action: dict[str, Any]
    decision: Decision
    approval: ApprovalRequest | None = None
    rewritten: bool = False  # obligations changed the arguments
    sources: dict[str, list[str]] = field(default_factory=dict)


def tool_call(name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, "arguments": dict(arguments)}


def map_tool(client: PolicyClient, name: str, arguments: Mapping[str, Any]
             ) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The action OPA maps this call to, and which argument each mapped field came from.

    Only for counting usage and writing obligations back: the decision maps the call
    again itself, so a failure here cannot let anything through; it falls back to a
    plain ``tool_call`` action and the decision (which will fail closed too) says why.
    """
    call = tool_call(name, arguments)
    url = (f"{client.opa_url}/v1/data/policypacks/{package_segment(client.identity)}"
           "/lib/tools/mapping")
    try:
        reply = client.session.post(url, json={"input": {"agent": client.agent, "tool": call}},
                                    timeout=client.timeout)
        result = reply.json().get("result") if reply.status_code == 200 else None
    except Exception as exc:  # noqa: BLE001 - the decision will say what is wrong
        log.warning("could not map tool %s through OPA: %s", name, exc)
        result = None
    if isinstance(result, dict) and isinstance(result.get("action"), dict):
        sources = result.get("sources")
        return result["action"], sources if isinstance(sources, dict) else {}
    return {"type": "tool_call", "tool": call}, {}


def apply_obligations(action: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """The action with the decision's obligations carried out (signatures appended,
    findings redacted); raises :class:`~.obligations.ObligationError` when one cannot be."""
    return obligations.apply(action, decision)


def write_back(arguments: dict[str, Any], before: dict[str, Any], after: dict[str, Any],
               sources: Mapping[str, list[str]]) -> dict[str, Any]:
    """Arguments with each mapped field that ``after`` changed written to its source."""
    out = _deep_copy(arguments)
    for pointer, path in sources.items():
        keys = [k for k in pointer.split("/") if k]
        new, old = _get(after, keys), _get(before, keys)
        if new is not _NOTHING and new != old and path:
            target = out
            for key in path[:-1]:
                target = target.setdefault(key, {}) if isinstance(target, dict) else {}
            if isinstance(target, dict):
                target[path[-1]] = new
    return out


_NOTHING = object()


def _get(document: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return _NOTHING
        document = document[key]
    return document


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


class ToolGuard:
    """Policy for one tool; a decorator for sync and ``async def`` functions.

    ``approval``: ``"raise"`` (``ApprovalRequired``) or ``"wait"`` (block until a human
    answers, at most ``approval_timeout`` seconds, else the route's timeout).
    ``obligations``: carry out the decision's obligations on the arguments.
    """

    def __init__(self, client: PolicyClient, tool: str, *,
                 approval: Literal["raise", "wait"] = "raise",
                 approval_timeout: float | None = None, obligations: bool = True,
                 poll_interval: float = 0.2):
        if approval not in ("raise", "wait"):
            raise ValueError("approval is 'raise' or 'wait'")
        self.client, self.tool = client, tool
        self.approval, self.approval_timeout = approval, approval_timeout
        self.obligations, self.poll_interval = obligations, poll_interval

    # -- the steps, for adapters ----------------------------------------------------------

    def admit(self, arguments: Mapping[str, Any], *,
              approval: Literal["raise", "wait"] | None = None) -> Admission:
        """Decide the call; return how to run it, or raise ``PolicyBlocked``
        (``ApprovalRequired``, ``ApprovalDenied``)."""
        args = _deep_copy(dict(arguments))
        action, sources = map_tool(self.client, self.tool, args)
        try:
            return self._enforce(args, action, sources)
        except ApprovalRequired as exc:
            if (approval or self.approval) == "raise" or exc.request is None:
                raise
            return self.resume(args, exc, self.wait(exc.request))

    def _enforce(self, args: dict[str, Any], action: dict[str, Any],
                 sources: dict[str, list[str]]) -> Admission:
        try:
            decision = self.client.enforce(action)
        except PolicyBlocked as exc:
            fixed = self._obliged(args, action, sources, exc.decision)
            if fixed is None:
                raise
            # The rewritten call (signed, redacted) is a new call: decide it again.
            args, action, sources = fixed
            return Admission(self.tool, args, action, self.client.enforce(action),
                             rewritten=True, sources=sources)
        fixed = self._obliged(args, action, sources, decision)
        if fixed is None:
            return Admission(self.tool, args, action, decision, sources=sources)
        return Admission(self.tool, fixed[0], action, decision, rewritten=True,
                         sources=fixed[2])

    def _obliged(self, args: dict[str, Any], action: dict[str, Any],
                 sources: dict[str, list[str]], decision: Decision
                 ) -> tuple[dict[str, Any], dict[str, Any], dict[str, list[str]]] | None:
        """The call with the obligations carried out, when they change its arguments."""
        if not (self.obligations and decision.obligations):
            return None
        try:
            obliged = apply_obligations(action, decision)
        except Exception as exc:  # noqa: BLE001 - an obligation not carried out: refuse
            log.error("cannot carry out the obligations of %s for %s: %s", decision.decision,
                      self.tool, exc)
            raise PolicyBlocked(decision) from exc
        rewritten = write_back(args, action, obliged, sources)
        if rewritten == args:
            return None
        new_action, new_sources = map_tool(self.client, self.tool, rewritten)
        return rewritten, new_action, new_sources

    def wait(self, request: ApprovalRequest) -> ApprovalRequest:
        """The request once resolved, or as it stands when the wait ran out."""
        waiter = getattr(self.client, "wait_for_approval", None)
        if waiter is not None:
            return cast(ApprovalRequest, waiter(request, timeout=self.approval_timeout))
        limit = self.approval_timeout if self.approval_timeout is not None \
            else float(request.timeout_seconds)
        deadline = time.monotonic() + limit
        current = self.client.approval_status(request.id)
        while current.status == "pending" and time.monotonic() < deadline:
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            current = self.client.approval_status(request.id)
        return current

    def resume(self, args: dict[str, Any], pending: ApprovalRequired,
               request: ApprovalRequest) -> Admission:
        """Go on after a human answered (or did not): approved, or a timed-out wait whose
        fallback is ``allow``, runs the call once; anything else raises ApprovalDenied."""
        if request.status == "pending":
            outcome, reason = request.fallback, "no answer in time, fallback " \
                                                f"{request.fallback}"
        else:
            outcome = request.outcome or ("allow" if request.status == "approved" else "block")
            reason = f"approval {request.status}" + (
                f" by {request.resolved_by}" if request.resolved_by else "")
        if outcome != "allow":
            raise ApprovalDenied(pending.decision, request, reason)
        action, sources = map_tool(self.client, self.tool, args)
        if request.status == "approved":  # redeemed once, and its usage reserved
            decision = self.client.enforce(action, approval=request.id)
        else:
            decision = pending.decision  # the route's fallback allowed it: counted after
        return Admission(self.tool, args, action, decision, approval=request, sources=sources)

    def finish(self, admission: Admission, succeeded: bool) -> None:
        """After the tool ran: keep its usage when it succeeded, give it back when not."""
        if admission.decision.reservation is not None:
            if succeeded:
                self.client.commit(admission.decision)
            else:
                self.client.release(admission.decision)
        elif succeeded:
            self.client.record(admission.action)

    # -- the decorator --------------------------------------------------------------------

    def __call__(self, fn: F) -> F:
        signature = inspect.signature(fn)

        def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return bound

        def rebind(bound: inspect.BoundArguments, arguments: dict[str, Any]) -> None:
            for name in bound.arguments:
                if name in arguments:
                    bound.arguments[name] = arguments[name]

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                bound = bind(args, kwargs)
                # Every blocking step (OPA, the store, a wait for approval) runs in a
                # thread: the event loop keeps serving other tasks meanwhile.
                admission = await asyncio.to_thread(self.admit, dict(bound.arguments))
                rebind(bound, admission.arguments)
                try:
                    result = await fn(*bound.args, **bound.kwargs)
                except BaseException:
                    await asyncio.to_thread(self.finish, admission, False)
                    raise
                await asyncio.to_thread(self.finish, admission, True)
                return result
            return cast(F, guarded_async)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            bound = bind(args, kwargs)
            admission = self.admit(dict(bound.arguments))
            rebind(bound, admission.arguments)
            try:
                result = fn(*bound.args, **bound.kwargs)
            except BaseException:
                self.finish(admission, False)
                raise
            self.finish(admission, True)
            return result
        return cast(F, guarded)
