"""OpenAI Agents SDK ``Runner`` with ``PolicyTools``: a real agent loop whose model is a
scripted implementation of the SDK's ``Model`` interface (no network, no API key). It
calls a tool that is allowed, one that is blocked (the body never runs; the violations
are in the result), one that needs approval (the SDK's approval hook: approved runs
once, rejected and expired do not) and one whose obligations rewrite the arguments."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from agents import Agent, ModelResponse, RunConfig, Runner, Usage, function_tool
from agents.models.interface import Model
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from tool_support import AGENT, IDENTITY, SIGNATURE, agent_tools, counting, tool_opa

from policypacks import PolicyClient
from policypacks.deploy.sidecar import LocalOpa
from policypacks.integrations.openai_agents import PolicyTools

_ids = itertools.count()


class ScriptedModel(Model):
    """Answers with one tool call, then (once the tool's output is in) with text."""

    def __init__(self, tool: str, arguments: dict[str, Any]):
        self.call = ResponseFunctionToolCall(
            id=f"fc-{next(_ids)}", call_id=f"call-{next(_ids)}", type="function_call",
            name=tool, arguments=json.dumps(arguments))
        self.seen_outputs: list[str] = []

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        outputs = [item.get("output") for item in (input if isinstance(input, list) else [])
                   if isinstance(item, dict) and item.get("type") == "function_call_output"]
        if outputs:
            self.seen_outputs = [str(o) for o in outputs]
            text = ResponseOutputText(type="output_text", text="done", annotations=[])
            reply: Any = ResponseOutputMessage(id="m", type="message", role="assistant",
                                               status="completed", content=[text])
        else:
            reply = self.call
        return ModelResponse(output=[reply], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError("the tests run the agent without streaming")


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    with tool_opa(tmp_path_factory.mktemp("agents")) as server:
        yield server


@pytest.fixture
def client(opa: LocalOpa, tmp_path: Path) -> Iterator[PolicyClient]:
    with PolicyClient(opa.url, IDENTITY, AGENT, store=f"sqlite:///{tmp_path / 'a.db'}",
                      timeout=5) as c:
        yield c


def agent_for(client: PolicyClient, model: ScriptedModel) -> tuple[Agent[Any],
                                                                   dict[str, list[Any]]]:
    calls, note = counting()

    lookup_order, delete_customer, refund, send_email = (
        function_tool(f) for f in agent_tools(note))

    tools = PolicyTools(client, approver="ops").wrap(
        [lookup_order, delete_customer, refund, send_email])
    return Agent(name="support", model=model, tools=tools), calls


def run(agent: Agent[Any], input: Any) -> Any:
    return asyncio.run(Runner.run(agent, input, run_config=RunConfig(tracing_disabled=True)))


def test_allowed_tool_runs(client: PolicyClient) -> None:
    model = ScriptedModel("lookup_order", {"order_id": "A-1"})
    agent, calls = agent_for(client, model)
    result = run(agent, "where is my order?")
    assert result.final_output == "done" and model.seen_outputs == ["order A-1: shipped"]
    assert calls == {"lookup_order": ["A-1"]}
    [checked] = result.tool_input_guardrail_results
    assert checked.output.output_info["decision"] == "allow"


def test_blocked_tool_never_runs_and_the_result_says_why(client: PolicyClient) -> None:
    model = ScriptedModel("delete_customer", {"customer": "cus_1"})
    agent, calls = agent_for(client, model)
    result = run(agent, "delete me")
    assert calls == {}
    assert "tools/no-deletes" in model.seen_outputs[0]
    [checked] = result.tool_input_guardrail_results
    assert checked.output.behavior["type"] == "reject_content"
    assert [v["rule"] for v in checked.output.output_info["violations"]] == ["no-deletes"]


@pytest.mark.parametrize("approve, wait, runs", [
    (True, 0, True),
    (False, 0, False),
    (True, 2.2, False),  # approved in the SDK after the route's 2s: the fallback (block)
])
def test_approval_through_the_sdk_hook(client: PolicyClient, approve: bool, wait: float,
                                       runs: bool) -> None:
    model = ScriptedModel("refund", {"cents": 9000})
    agent, calls = agent_for(client, model)
    paused = run(agent, "refund it")
    [item] = paused.interruptions
    assert calls == {}
    time.sleep(wait)
    state = paused.to_state()
    if approve:
        state.approve(item)
    else:
        state.reject(item)
    result = run(agent, state)
    assert calls == ({"refund": [9000]} if runs else {})
    assert result.final_output == "done"
    if runs:
        assert model.seen_outputs == ["refunded 9000"]
        [request] = client.store.list_approvals() if client.store else []
        assert (request["status"], request["resolved_by"]) == ("approved", "ops")
    elif wait:
        assert "approval expired" in model.seen_outputs[0]


def test_obligations_rewrite_the_arguments(client: PolicyClient) -> None:
    model = ScriptedModel("send_email", {"to": "jane@example.com", "body": "On its way."})
    agent, calls = agent_for(client, model)
    run(agent, "tell her")
    assert calls == {"send_email": [f"On its way.\n{SIGNATURE}"]}
