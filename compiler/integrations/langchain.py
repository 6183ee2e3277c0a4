"""LangChain / LangGraph 1.x: a policy middleware around every tool call of an agent.

    from langchain.agents import create_agent
    from policypacks.integrations.langchain import PolicyMiddleware

    agent = create_agent(model, tools, middleware=[PolicyMiddleware(client)],
                         checkpointer=InMemorySaver())

Each tool call is decided by OPA as the tool of the same name (or ``tools[name]``, or
``prefix + name``) before the tool runs. A refused call never runs: the model gets a
``ToolMessage`` with ``status="error"`` naming each violation. Obligations rewrite the
call's arguments. ``require_approval`` becomes a LangGraph ``interrupt`` (needs a
checkpointer) whose value names the approval request; resume the graph with
``Command(resume={"approval_id": ..., "approved": True, "by": "alice"})``: an approval
that expired meanwhile takes its route's fallback, a denial is an error message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolCall, ToolMessage
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command, interrupt

from ..runtime.client import ApprovalRequest, ApprovalRequired, PolicyBlocked, PolicyClient
from ..runtime.guard import Admission, ToolGuard
from . import refusal

INTERRUPT_TYPE = "policypacks_approval"


class PolicyMiddleware(AgentMiddleware):
    """Decide every tool call through OPA before it runs (see the module docs).

    ``approval``: ``"interrupt"`` (human in the loop, the default), ``"wait"`` (block
    the tool call until the approval is answered in the store) or ``"raise"``
    (``ApprovalRequired`` ends the run).
    """

    def __init__(self, client: PolicyClient, *, tools: Mapping[str, str] | None = None,
                 prefix: str = "",
                 approval: Literal["interrupt", "wait", "raise"] = "interrupt",
                 approval_timeout: float | None = None, obligations: bool = True):
        super().__init__()
        self.client, self.names, self.prefix = client, dict(tools or {}), prefix
        self.approval, self.approval_timeout = approval, approval_timeout
        self.obligations = obligations

    def guard(self, name: str) -> ToolGuard:
        return ToolGuard(self.client, self.names.get(name, self.prefix + name),
                         approval="wait" if self.approval == "wait" else "raise",
                         approval_timeout=self.approval_timeout, obligations=self.obligations)

    # -- deciding ---------------------------------------------------------------------------

    def _admit(self, guard: ToolGuard, request: ToolCallRequest) -> Admission | ToolMessage:
        call = request.tool_call
        arguments = dict(call.get("args") or {})
        try:
            return guard.admit(arguments)
        except ApprovalRequired as pending:
            if self.approval != "interrupt" or pending.request is None:
                raise
            answer = interrupt({
                "type": INTERRUPT_TYPE, "approval_id": pending.request.id,
                "tool": guard.tool, "arguments": arguments,
                "violations": pending.decision.violations,
                "approvers": pending.request.approvers,
                "expires_at": pending.request.expires_at,
            })
            try:
                return guard.resume(arguments, pending, self._answered(pending.request, answer))
            except PolicyBlocked as refused:
                return self._refused(call, refusal(refused, guard.tool))
        except PolicyBlocked as refused:
            return self._refused(call, refusal(refused, guard.tool))

    def _answered(self, current: ApprovalRequest, answer: Any) -> ApprovalRequest:
        """The approval as the human's resume value leaves it, recorded in the store.

        The graph re-runs the tool node on resume, so ``current`` is a new request for the
        same call; the one the human saw is ``answer["approval_id"]``. Both are resolved
        alike (an expired one keeps its fallback)."""
        answer = answer if isinstance(answer, dict) else {"approved": answer is True}
        status = "approved" if answer.get("approved") is True else "denied"
        by = str(answer.get("by") or "langgraph")
        shown = answer.get("approval_id")
        target = current
        if isinstance(shown, str) and shown != current.id:
            target = self.client.approval_status(shown)
            self._resolve(current.id, status if target.status == "pending" else "denied", by)
        if target.status == "pending":
            self._resolve(target.id, status, by)
        return self.client.approval_status(target.id)

    def _resolve(self, approval_id: str, status: str, by: str) -> None:
        assert self.client.store is not None  # an approval request exists, so a store does
        self.client.store.resolve_approval(approval_id, status, by)

    @staticmethod
    def _refused(call: Mapping[str, Any], text: str) -> ToolMessage:
        return ToolMessage(content=text, name=call.get("name"), tool_call_id=call.get("id") or "",
                           status="error")

    @staticmethod
    def _succeeded(result: ToolMessage | Command[Any]) -> bool:
        return not (isinstance(result, ToolMessage) and result.status == "error")

    # -- the middleware hooks ---------------------------------------------------------------

    def wrap_tool_call(self, request: ToolCallRequest,
                       handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]]
                       ) -> ToolMessage | Command[Any]:
        guard = self.guard(request.tool_call["name"])
        admitted = self._admit(guard, request)
        if isinstance(admitted, ToolMessage):
            return admitted
        call: ToolCall = {**request.tool_call, "args": admitted.arguments}
        try:
            result = handler(request.override(tool_call=call))
        except BaseException:
            guard.finish(admitted, False)
            raise
        guard.finish(admitted, self._succeeded(result))
        return result

    async def awrap_tool_call(self, request: ToolCallRequest,
                              handler: Callable[[ToolCallRequest],
                                                Awaitable[ToolMessage | Command[Any]]]
                              ) -> ToolMessage | Command[Any]:
        guard = self.guard(request.tool_call["name"])
        # OPA, the store and any wait run in a thread (it carries this task's context
        # variables, so interrupt() there still reaches the graph).
        admitted = await asyncio.to_thread(self._admit, guard, request)
        if isinstance(admitted, ToolMessage):
            return admitted
        call: ToolCall = {**request.tool_call, "args": admitted.arguments}
        try:
            result = await handler(request.override(tool_call=call))
        except BaseException:
            await asyncio.to_thread(guard.finish, admitted, False)
            raise
        await asyncio.to_thread(guard.finish, admitted, self._succeeded(result))
        return result
