"""OpenAI Agents SDK (``openai-agents`` 0.3 and later): policy on every function tool.

    from policypacks.integrations.openai_agents import PolicyTools

    policy = PolicyTools(client)
    agent = Agent(name="support", tools=policy.wrap([lookup_order, refund]))

Each wrapped tool gets a tool input guardrail (``tool_input_guardrail``) that decides the
call through OPA before the tool runs: a refused call never runs, the model gets the
refusal instead of the output, and ``result.tool_input_guardrail_results`` carries the
decision and its violations (``output.output_info``). Obligations rewrite the arguments
the tool receives. ``require_approval`` uses the SDK's approval hook
(``needs_approval``, ``approval="sdk"``, the default): the run stops with
``result.interruptions``; ``state.approve(item)`` (recorded in the store as approved by
``openai-agents``) or ``state.reject(item)``, then run the state again. An approval that
expired meanwhile takes its route's fallback. ``approval="wait"`` waits for the store
instead; ``approval="reject"`` refuses until someone approved.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from agents import FunctionTool, ToolGuardrailFunctionOutput, ToolInputGuardrailData
from agents.tool_guardrails import ToolInputGuardrail

from ..runtime.client import ApprovalRequired, PolicyBlocked, PolicyClient
from ..runtime.guard import Admission, ToolGuard
from ..runtime.store.approvals import ApprovalRefused
from . import refusal


def _info(decision: Any, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
    info = {"decision": decision.decision, "violations": decision.violations,
            "obligations": decision.obligations}
    if arguments is not None:
        info["arguments"] = dict(arguments)
    return info


class PolicyTools:
    """Wraps function tools so that OPA decides each call (see the module docs)."""

    def __init__(self, client: PolicyClient, *, tools: Mapping[str, str] | None = None,
                 prefix: str = "", approval: Literal["sdk", "wait", "reject"] = "sdk",
                 approval_timeout: float | None = None, obligations: bool = True,
                 approver: str | None = None):
        # approver: who answers the SDK's approval prompts (state.approve), recorded as
        # the request's resolver: it must be one of the route's approvers or admins.
        self.client, self.names, self.prefix = client, dict(tools or {}), prefix
        self.approver = approver
        self.approval, self.approval_timeout = approval, approval_timeout
        self.obligations = obligations
        # Per tool call id: what the approval hook decided, for the guardrail and the
        # invocation that follow it in the same run.
        self._admitted: dict[str, Admission] = {}
        self._awaiting: dict[str, ApprovalRequired] = {}
        self._refused: dict[str, PolicyBlocked] = {}

    def guard(self, name: str) -> ToolGuard:
        return ToolGuard(self.client, self.names.get(name, self.prefix + name),
                         approval="wait" if self.approval == "wait" else "raise",
                         approval_timeout=self.approval_timeout, obligations=self.obligations)

    def wrap(self, tools: Iterable[FunctionTool]) -> list[FunctionTool]:
        return [self.wrap_one(t) for t in tools]

    def wrap_one(self, tool: FunctionTool) -> FunctionTool:
        guard = self.guard(tool.name)
        wrapped = copy.copy(tool)
        wrapped.tool_input_guardrails = [*(tool.tool_input_guardrails or []),
                                         ToolInputGuardrail(self._guardrail(guard),
                                                            name="policypacks")]
        if self.approval == "sdk":
            wrapped.needs_approval = self._needs_approval(guard)
        invoke = tool.on_invoke_tool

        async def on_invoke_tool(ctx: Any, arguments: str) -> Any:
            admission = self._admitted.pop(ctx.tool_call_id, None)
            if admission is None:  # the guardrail did not admit this call: never run it
                return f"policy refused tool {guard.tool}: the call was not decided"
            try:
                result = await invoke(ctx, json.dumps(admission.arguments))
            except BaseException:
                await asyncio.to_thread(guard.finish, admission, False)
                raise
            await asyncio.to_thread(guard.finish, admission, True)
            return result
        wrapped.on_invoke_tool = on_invoke_tool
        return wrapped

    def _needs_approval(self, guard: ToolGuard) -> Any:
        async def needs_approval(run_context: Any, arguments: dict[str, Any], call_id: str
                                 ) -> bool:
            try:
                self._admitted[call_id] = await asyncio.to_thread(guard.admit, arguments,
                                                                  approval="raise")
            except ApprovalRequired as pending:
                if pending.request is None:  # no store, nothing to approve: refuse
                    self._refused[call_id] = pending
                    return False
                self._awaiting[call_id] = pending
                return True
            except PolicyBlocked as refused:
                self._refused[call_id] = refused
            return False
        return needs_approval

    def _guardrail(self, guard: ToolGuard) -> Any:
        async def policypacks(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
            ctx = data.context
            call_id = ctx.tool_call_id
            try:
                arguments = json.loads(ctx.tool_arguments or "{}")
            except ValueError:
                arguments = None
            if not isinstance(arguments, dict):
                return ToolGuardrailFunctionOutput.reject_content(
                    f"policy refused tool {guard.tool}: its arguments are not a JSON object")
            try:
                admission = await self._decide(guard, call_id, arguments)
            except PolicyBlocked as refused:
                self._admitted.pop(call_id, None)
                return ToolGuardrailFunctionOutput.reject_content(
                    refusal(refused, guard.tool), output_info=_info(refused.decision))
            self._admitted[call_id] = admission
            return ToolGuardrailFunctionOutput.allow(
                output_info=_info(admission.decision, admission.arguments))
        return policypacks

    async def _decide(self, guard: ToolGuard, call_id: str, arguments: dict[str, Any]
                      ) -> Admission:
        if call_id in self._refused:
            raise self._refused.pop(call_id)
        pending = self._awaiting.pop(call_id, None)
        if pending is not None and pending.request is not None:
            # The run reached this call again: the SDK's approval hook said yes.
            request = await asyncio.to_thread(self._approve, pending.request.id)
            return await asyncio.to_thread(guard.resume, arguments, pending, request)
        admitted = self._admitted.pop(call_id, None)
        if admitted is not None and admitted.tool == guard.tool:
            return admitted
        return await asyncio.to_thread(guard.admit, arguments)

    def _approve(self, approval_id: str) -> Any:
        current = self.client.approval_status(approval_id)
        if current.status == "pending" and self.client.store is not None:
            if not self.approver:
                raise ApprovalRefused("an approval given through the SDK needs the name of "
                                      "who gives it: PolicyTools(..., approver=NAME), one "
                                      "of the route's approvers or admins")
            self.client.store.resolve_approval(approval_id, "approved", self.approver)
        return self.client.approval_status(approval_id)
