"""One policy repository with tool bindings for the guard and adapter tests, and a real
OPA serving it. Four tools, one per path a tool call can take:

| tool             | binding                      | decision                                  |
|------------------|------------------------------|-------------------------------------------|
| lookup_order     | api_call, api orders         | allow                                     |
| delete_customer  | api_call, api crm            | block (tool_access: block *delete*)       |
| refund           | refund, amount cents -> USD  | require_approval over 50 USD (route 2s)   |
| send_email       | send_email, body -> text     | block unless signed; append_signature     |
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from live_support import serving
from support import agent, identity, pack

from policypacks.deploy.sidecar import LocalOpa
from policypacks.runtime.store import Store

IDENTITY = "acme"
AGENT = "assistant"
SIGNATURE = "-- Acme Support"
API = "policypacks/v1"
MCP_PREFIX = "mcp:shop/"


def tool(id: str, name: str, action: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Tool", "metadata": {"id": id},
            "spec": {"tool": name, "action": action, "fields": fields}}


DOCS = [
    identity(IDENTITY, escalation={"approvers": ["ops"], "timeout": "2s", "fallback": "block"}),
    pack("tools", "block", rules=[{"id": "no-deletes", "type": "tool_access",
                                   "block": ["*delete*"]}]),
    pack("money", "require_approval", category="operational", rules=[
        {"id": "big-refund", "type": "condition", "message": "refunds over 50 USD need approval",
         "when": {"all": [{"field": "action.type", "equals": "refund"},
                          {"field": "action.amount", "gt": 50}]}}]),
    pack("brand", "block", category="brand", rules=[
        {"id": "signed", "type": "signature", "text": SIGNATURE}]),
    agent(AGENT),
]
# Each tool is bound under its plain name (Python, LangChain, OpenAI Agents) and as the
# MCP proxy names the tools of the upstream `shop` (mcp:shop/<tool>).
for prefix, id_prefix in (("", ""), (MCP_PREFIX, "mcp-")):
    DOCS += [
        tool(f"{id_prefix}lookup-order", f"{prefix}lookup_order", "api_call",
             api={"value": "orders"}),
        tool(f"{id_prefix}delete-customer", f"{prefix}delete_customer", "api_call",
             api={"value": "crm"}),
        tool(f"{id_prefix}refund", f"{prefix}refund", "refund",
             amount={"from": "cents", "divide": 100}, currency={"value": "USD"}),
        tool(f"{id_prefix}send-email", f"{prefix}send_email", "send_email",
             **{"recipient.address": {"from": "to"}, "content.text": {"from": "body"}}),
    ]


@contextmanager
def tool_opa(tmp: Path) -> Iterator[LocalOpa]:
    with serving(tmp, DOCS, "tools-1") as server:
        yield server


class Approver:
    """A human in another thread: answers the next pending approval request."""

    def __init__(self, store_path: Path, answer: str | None, by: str = "ops"):
        self.store_path, self.answer, self.by = store_path, answer, by
        self.answered: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if self.answer is None:
            return  # nobody answers: the wait times out
        with Store(self.store_path) as store:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pending = store.list_approvals(status="pending")
                if pending:
                    store.resolve_approval(pending[0]["id"], self.answer, self.by)
                    self.answered.append(pending[0]["id"])
                    return
                time.sleep(0.02)

    def __enter__(self) -> Approver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(timeout=15)


def counting() -> tuple[dict[str, list[Any]], Callable[[str, Any], None]]:
    """Calls each tool body made, by tool: the tests assert a blocked body never runs."""
    calls: dict[str, list[Any]] = {}

    def note(name: str, value: Any) -> None:
        calls.setdefault(name, []).append(value)
    return calls, note


def agent_tools(note: Callable[[str, Any], None]) -> list[Callable[..., str]]:
    """The tools the framework tests' agents call, as plain functions (each framework
    wraps them with its own decorator); ``note`` records every body that ran."""
    def lookup_order(order_id: str) -> str:
        """Look an order up."""
        note("lookup_order", order_id)
        return f"order {order_id}: shipped"

    def delete_customer(customer: str) -> str:
        """Delete a customer."""
        note("delete_customer", customer)
        return "deleted"

    def refund(cents: int) -> str:
        """Refund an amount in cents."""
        note("refund", cents)
        return f"refunded {cents}"

    def send_email(to: str, body: str) -> str:
        """Send an email."""
        note("send_email", body)
        return "sent"

    return [lookup_order, delete_customer, refund, send_email]
