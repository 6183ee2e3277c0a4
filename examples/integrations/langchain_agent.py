"""A LangChain 1.x agent whose tool calls go through OPA (pip install 'policypacks[langchain]').

The model is scripted so that this runs offline; use any chat model instead (for
example `init_chat_model("openai:gpt-4.1")`): the middleware does not change.

    python examples/integrations/langchain_agent.py   (OPA as in guard_agent.py)
"""

from __future__ import annotations

from _scripted import OPA_URL, STORE
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from policypacks import PolicyClient
from policypacks.integrations.langchain import PolicyMiddleware


class ScriptedModel(GenericFakeChatModel):
    def bind_tools(self, tools, **kwargs):  # type: ignore[no-untyped-def]
        return self


def model_calling(name: str, **args: object) -> ScriptedModel:
    call = {"name": name, "args": args, "id": f"call-{name}", "type": "tool_call"}
    return ScriptedModel(messages=iter([AIMessage("", tool_calls=[call]), AIMessage("done")]))


@tool
def create_charge(amount: int, currency: str = "usd") -> str:
    """Charge the customer's card (amount in cents)."""
    return f"charged {amount} {currency}"


client = PolicyClient(OPA_URL, identity="acme", agent="sales-bot", store=STORE)
config = {"configurable": {"thread_id": "demo"}}
for cents in (2000, 9000):
    # The tool is `create_charge` to the model and `stripe.create_charge` to the policy.
    policy = PolicyMiddleware(client, tools={"create_charge": "stripe.create_charge"})
    agent = create_agent(model_calling("create_charge", amount=cents), [create_charge],
                         middleware=[policy], checkpointer=InMemorySaver())
    result = agent.invoke({"messages": [HumanMessage("buy the tickets")]}, config)
    if "__interrupt__" in result:  # over the daily cap: a human decides
        pending = result["__interrupt__"][0].value
        print(f"{cents} cents: approval {pending['approval_id']} needed from "
              f"{pending['approvers']}: {pending['violations'][0]['message']}")
        result = agent.invoke(Command(resume={"approval_id": pending["approval_id"],
                                              "approved": True, "by": "finance-lead"}), config)
    print(f"{cents} cents: {result['messages'][-2].content}")
client.close()
