"""The upstream MCP server of the proxy tests: the four tools of tool_support, each
writing a line to a log when its body runs (so a test can assert a blocked one never
did), plus `hidden_helper` (no binding: the proxy must not list it).

    python mcp_shop_server.py LOG [stdio | http PORT]
"""

from __future__ import annotations

import json
import sys

from mcp.server.mcpserver import MCPServer

LOG = sys.argv[1]
app = MCPServer("shop")


def note(name: str, value: object) -> None:
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps([name, value]) + "\n")


@app.tool()
def lookup_order(order_id: str) -> str:
    note("lookup_order", order_id)
    return f"order {order_id}: shipped"


@app.tool()
def delete_customer(customer: str) -> str:
    note("delete_customer", customer)
    return "deleted"


@app.tool()
def refund(cents: int) -> str:
    note("refund", cents)
    return f"refunded {cents}"


@app.tool()
def send_email(to: str, body: str) -> str:
    note("send_email", body)
    return "sent"


@app.tool()
def hidden_helper() -> str:
    note("hidden_helper", None)
    return "should not be listed"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        app.run()
