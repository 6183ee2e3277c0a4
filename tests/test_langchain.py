"""LangChain 1.x ``create_agent`` with ``PolicyMiddleware``: a real agent loop whose
scripted model (no network) calls a tool that is allowed, one that is blocked (its body
never runs), one that needs approval (a LangGraph interrupt; approved runs once, denied
and expired take the fallback) and one whose obligations rewrite the arguments."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from tool_support import AGENT, IDENTITY, SIGNATURE, agent_tools, counting, tool_opa

from policypacks import PolicyClient
from policypacks.deploy.sidecar import LocalOpa
from policypacks.integrations.langchain import INTERRUPT_TYPE, PolicyMiddleware

_ids = itertools.count()


class ScriptedModel(GenericFakeChatModel):
    """GenericFakeChatModel that accepts tools (its answers are scripted anyway)."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


def calls_then_done(name: str, **args: Any) -> ScriptedModel:
    call = AIMessage(content="", tool_calls=[{"name": name, "args": args,
                                              "id": f"call-{next(_ids)}", "type": "tool_call"}])
    return ScriptedModel(messages=iter([call, AIMessage(content="done")]))


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    with tool_opa(tmp_path_factory.mktemp("langchain")) as server:
        yield server


@pytest.fixture
def client(opa: LocalOpa, tmp_path: Path) -> Iterator[PolicyClient]:
    with PolicyClient(opa.url, IDENTITY, AGENT, store=f"sqlite:///{tmp_path / 'a.db'}",
                      timeout=5) as c:
        yield c


def agent_for(client: PolicyClient, model: ScriptedModel) -> tuple[Any, dict[str, list[Any]]]:
    calls, note = counting()

    lookup_order, delete_customer, refund, send_email = (tool(f) for f in agent_tools(note))

    agent = create_agent(model, [lookup_order, delete_customer, refund, send_email],
                         middleware=[PolicyMiddleware(client)], checkpointer=InMemorySaver())
    return agent, calls


def tool_message(result: dict[str, Any]) -> ToolMessage:
    return next(m for m in result["messages"] if isinstance(m, ToolMessage))


CONFIG = {"configurable": {"thread_id": "t1"}}
ASK = {"messages": [HumanMessage("help the customer")]}


def test_allowed_tool_runs(client: PolicyClient) -> None:
    agent, calls = agent_for(client, calls_then_done("lookup_order", order_id="A-1"))
    result = agent.invoke(ASK, CONFIG)
    assert tool_message(result).content == "order A-1: shipped"
    assert calls == {"lookup_order": ["A-1"]} and result["messages"][-1].content == "done"


def test_blocked_tool_never_runs(client: PolicyClient) -> None:
    agent, calls = agent_for(client, calls_then_done("delete_customer", customer="cus_1"))
    message = tool_message(agent.invoke(ASK, CONFIG))
    assert message.status == "error" and "tools/no-deletes" in str(message.content)
    assert calls == {}


@pytest.mark.parametrize("answer, wait, runs, says", [
    ({"approved": True, "by": "ops"}, 0, True, "refunded 9000"),
    ({"approved": False, "by": "ops"}, 0, False, "approval denied by ops"),
    ({"approved": True, "by": "ops"}, 2.2, False, "approval expired"),  # route: 2s, block
])
def test_approval_is_an_interrupt(client: PolicyClient, answer: dict[str, Any], wait: float,
                                  runs: bool, says: str) -> None:
    agent, calls = agent_for(client, calls_then_done("refund", cents=9000))
    paused = agent.invoke(ASK, CONFIG)
    [pending] = paused["__interrupt__"]
    assert pending.value["type"] == INTERRUPT_TYPE and pending.value["tool"] == "refund"
    assert [v["rule"] for v in pending.value["violations"]] == ["big-refund"]
    assert calls == {}
    time.sleep(wait)
    result = agent.invoke(Command(resume={**answer, "approval_id": pending.value["approval_id"]}),
                          CONFIG)
    assert says in str(tool_message(result).content)
    assert calls == ({"refund": [9000]} if runs else {})
    assert client.approval_status(pending.value["approval_id"]).status == (
        "approved" if runs else "expired" if wait else "denied")


def test_obligations_rewrite_the_arguments(client: PolicyClient) -> None:
    agent, calls = agent_for(client, calls_then_done("send_email", to="jane@example.com",
                                                     body="On its way."))
    assert tool_message(agent.invoke(ASK, CONFIG)).content == "sent"
    assert calls == {"send_email": [f"On its way.\n{SIGNATURE}"]}


def test_async_agent(client: PolicyClient) -> None:
    agent, calls = agent_for(client, calls_then_done("refund", cents=9000))

    async def main() -> None:
        paused = await agent.ainvoke(ASK, CONFIG)
        [pending] = paused["__interrupt__"]
        result = await agent.ainvoke(Command(resume={"approved": True, "by": "ops",
                                                     "approval_id": pending.value["approval_id"]}),
                                     CONFIG)
        assert tool_message(result).content == "refunded 9000"
    asyncio.run(main())
    assert calls == {"refund": [9000]}
