"""An OpenAI Agents SDK agent whose tool calls go through OPA
(pip install 'policypacks[openai-agents]').

The model is a scripted implementation of the SDK's Model interface so that this runs
offline; with a real model, drop `model=` and set OPENAI_API_KEY.

    python examples/integrations/openai_agents_agent.py   (OPA as in guard_agent.py)
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from _scripted import OPA_URL, STORE
from agents import Agent, ModelResponse, RunConfig, Runner, Usage, function_tool
from agents.models.interface import Model
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from pydantic import BaseModel

from policypacks import PolicyClient
from policypacks.integrations.openai_agents import PolicyTools


class ScriptedModel(Model):
    def __init__(self, tool: str, arguments: dict[str, Any]):
        self.call = ResponseFunctionToolCall(id="fc-1", call_id="call-1", type="function_call",
                                             name=tool, arguments=json.dumps(arguments))

    async def get_response(self, system_instructions, input, *args, **kwargs):  # type: ignore[no-untyped-def]
        done = isinstance(input, list) and any(
            isinstance(i, dict) and i.get("type") == "function_call_output" for i in input)
        text = ResponseOutputText(type="output_text", text="done", annotations=[])
        reply = ResponseOutputMessage(id="m", type="message", role="assistant",
                                      status="completed", content=[text]) if done else self.call
        return ModelResponse(output=[reply], usage=Usage(), response_id=None)

    def stream_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise NotImplementedError


class Metadata(BaseModel):
    order_id: str


@function_tool
def refund(charge: str, amount: int, metadata: Metadata) -> str:
    """Refund part of a charge (amount in cents)."""
    return f"refunded {amount} cents"


async def main() -> None:
    client = PolicyClient(OPA_URL, identity="acme", agent="support-bot", store=STORE)
    for cents in (4000, 15000):
        model = ScriptedModel("refund", {"charge": "ch_1", "amount": cents,
                                                "metadata": {"order_id": "A-1001"}})
        agent = Agent(name="support", model=model, tools=PolicyTools(
            client, tools={"refund": "stripe.refund"}).wrap([refund]))
        result = await Runner.run(agent, "refund the order",
                                  run_config=RunConfig(tracing_disabled=True))
        [checked] = result.tool_input_guardrail_results
        info = checked.output.output_info
        print(f"{cents} cents: {info['decision']}",
              *[f"{v['pack']}/{v['rule']}: {v['message']}" for v in info["violations"]])
    client.close()


asyncio.run(main())
