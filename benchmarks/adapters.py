#!/usr/bin/env python3
"""What each tool-call adapter adds over a bare `client.enforce`: measured numbers.

Against one real `opa run --server` (the repository of tests/tool_support.py) and a
SQLite store, the same allowed tool call (`lookup_order`, bound to an api_call) is made:

- bare: `client.enforce(action)` then `client.record(action)` (the baseline);
- guard: a `@client.guard` function, sync and async;
- LangChain: one tool turn of a `create_agent` agent (scripted model, built once) with
  and without `PolicyMiddleware`; the difference is the middleware's share;
- OpenAI Agents: one `Runner.run` tool turn (scripted model) with and without
  `PolicyTools`;
- MCP: `ClientSession.call_tool` through `policypacks mcp-proxy` (stdio) and straight to
  the upstream server.

Each line: p50 and p95 in ms, the p50 the adapter adds, and that as a ratio of the bare
enforce's p50 measured in the same run.

    .venv/bin/python benchmarks/adapters.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tool_support import AGENT, IDENTITY, tool_opa  # noqa: E402

from policypacks import PolicyClient  # noqa: E402
from policypacks.runtime.guard import map_tool  # noqa: E402


def stats(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[int(len(samples) * 0.95)]


def paired(calls: list[Callable[[], Any]], count: int) -> list[tuple[float, float]]:
    """Each call timed `count` times, interleaved, so that all of them see the same load
    (the machine is shared: a slow minute must not land on one side only)."""
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(count):
        for call, into in zip(calls, samples, strict=True):
            started = time.perf_counter()
            call()
            into.append((time.perf_counter() - started) * 1000)
    return [stats(s) for s in samples]


async def apaired(calls: list[Callable[[], Awaitable[Any]]], count: int
                  ) -> list[tuple[float, float]]:
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(count):
        for call, into in zip(calls, samples, strict=True):
            started = time.perf_counter()
            await call()
            into.append((time.perf_counter() - started) * 1000)
    return [stats(s) for s in samples]


def langchain_turns(client: PolicyClient, count: int) -> tuple[tuple[float, float], ...]:
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.tools import tool

    from policypacks.integrations.langchain import PolicyMiddleware

    class Scripted(GenericFakeChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:
            return self

    @tool
    def lookup_order(order_id: str) -> str:
        """Look an order up."""
        return "shipped"

    def turn(middleware: list[Any]) -> Callable[[], Any]:
        # One agent, built once; its scripted model answers tool call, text, tool call...
        call = {"name": "lookup_order", "args": {"order_id": "A-1"}, "id": "c1",
                "type": "tool_call"}
        model = Scripted(messages=itertools.cycle([AIMessage("", tool_calls=[call]),
                                                   AIMessage("ok")]))
        agent = create_agent(model, [lookup_order], middleware=middleware)
        return lambda: agent.invoke({"messages": [HumanMessage("go")]})
    without, with_policy = paired([turn([]), turn([PolicyMiddleware(client)])], count)
    return without, with_policy


def agents_turns(client: PolicyClient, count: int) -> tuple[tuple[float, float], ...]:
    from agents import Agent, ModelResponse, RunConfig, Runner, Usage, function_tool
    from agents.models.interface import Model
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    from policypacks.integrations.openai_agents import PolicyTools

    class Scripted(Model):
        async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                               **kwargs: Any) -> ModelResponse:
            done = isinstance(input, list) and any(
                isinstance(i, dict) and i.get("type") == "function_call_output" for i in input)
            text = ResponseOutputText(type="output_text", text="ok", annotations=[])
            reply: Any = ResponseOutputMessage(
                id="m", type="message", role="assistant", status="completed", content=[text]
            ) if done else ResponseFunctionToolCall(
                id="f", call_id=f"c{time.perf_counter_ns()}", type="function_call",
                name="lookup_order", arguments=json.dumps({"order_id": "A-1"}))
            return ModelResponse(output=[reply], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    @function_tool
    def lookup_order(order_id: str) -> str:
        """Look an order up."""
        return "shipped"

    config = RunConfig(tracing_disabled=True)
    bare = Agent(name="a", model=Scripted(), tools=[lookup_order])
    guarded = Agent(name="a", model=Scripted(), tools=PolicyTools(client).wrap([lookup_order]))

    async def both() -> tuple[tuple[float, float], ...]:
        return tuple(await apaired([lambda: Runner.run(bare, "go", run_config=config),
                                    lambda: Runner.run(guarded, "go", run_config=config)],
                                   count))
    return asyncio.run(both())


def mcp_calls(opa_url: str, store: str, count: int) -> tuple[tuple[float, float], ...]:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    log = Path(tempfile.mkdtemp()) / "upstream.log"
    upstream = [str(ROOT / "tests" / "mcp_shop_server.py"), str(log)]
    direct = StdioServerParameters(command=sys.executable, args=upstream)
    proxied = StdioServerParameters(command=str(Path(sys.executable).parent / "policypacks"),
                                    args=["mcp-proxy", "--opa", opa_url, "--identity", IDENTITY,
                                          "--agent", AGENT, "--server", "shop", "--store", store,
                                          "--upstream-command",
                                          " ".join([sys.executable, *upstream])])

    async def both() -> tuple[tuple[float, float], ...]:
        async with stdio_client(direct) as (r1, w1), ClientSession(r1, w1) as plain, \
                stdio_client(proxied) as (r2, w2), ClientSession(r2, w2) as policed:
            await plain.initialize()
            await policed.initialize()
            args = {"order_id": "A-1"}
            return tuple(await apaired([lambda: plain.call_tool("lookup_order", args),
                                        lambda: policed.call_tool("lookup_order", args)],
                                       count))
    return asyncio.run(both())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    n, few = args.calls, max(20, args.calls // 4)
    tmp = Path(tempfile.mkdtemp(prefix="adapters-bench-"))
    rows: list[tuple[str, tuple[float, float], float]] = []
    with tool_opa(tmp) as opa:
        store = f"sqlite:///{tmp / 'agent.db'}"
        client = PolicyClient(opa.url, IDENTITY, AGENT, store=store, timeout=5)
        action, _ = map_tool(client, "lookup_order", {"order_id": "A-1"})

        def bare() -> None:
            client.enforce(action)
            client.record(action)

        @client.guard("lookup_order")
        def lookup_order(order_id: str) -> str:
            return "shipped"

        @client.guard("lookup_order")
        async def lookup_async(order_id: str) -> str:
            return "shipped"

        baseline, guard = paired([bare, lambda: lookup_order("A-1")], n)
        rows.append(("bare enforce + record (baseline)", baseline, 0.0))
        rows.append(("@client.guard (sync)", guard, guard[0] - baseline[0]))

        async def bare_async() -> None:
            bare()

        async def run_async() -> list[tuple[float, float]]:
            return await apaired([bare_async, lambda: lookup_async("A-1")], n)
        bare_in_loop, guard_async = asyncio.run(run_async())
        rows.append(("@client.guard (async def)", guard_async, guard_async[0] - bare_in_loop[0]))
        for label, (without, with_policy) in [
            ("LangChain create_agent turn", langchain_turns(client, few)),
            ("OpenAI Agents Runner.run turn", agents_turns(client, few)),
            ("MCP call_tool over stdio", mcp_calls(opa.url, store, few)),
        ]:
            rows.append((f"{label}, no policy", without, 0.0))
            rows.append((f"{label}, with policy", with_policy, with_policy[0] - without[0]))
        client.close()
    print(f"{'tool call':<44} {'p50 ms':>8} {'p95 ms':>8} {'adds p50':>9} {'x bare':>7}")
    for label, (p50, p95), added in rows:
        extra = f"{added:9.2f} {added / baseline[0]:7.2f}" if added else f"{'':>9} {'':>7}"
        print(f"{label:<44} {p50:8.2f} {p95:8.2f} {extra}")
    print(f"\n(bare enforce p50 {baseline[0]:.2f} ms: the ratios are what each adapter adds "
          "to one tool call, in units of one bare enforce)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
