"""``policypacks mcp-proxy``: put OPA between an MCP client and an MCP server."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from ..errors import EXIT_BAD_INPUT
from .options import STORE_OPT, command


@command("mcp-proxy")
@click.option("--opa", "opa_url", required=True, envvar="POLICYPACKS_OPA_URL",
              show_envvar=True, help="The OPA sidecar, e.g. http://127.0.0.1:8181.")
@click.option("--identity", required=True, help="Identity id of the policy repository.")
@click.option("--agent", required=True, help="The agent whose calls these are.")
@click.option("--server", "server_name", required=True,
              help="The upstream's name in tool names: bindings and rules see mcp:SERVER/TOOL.")
@click.option("--upstream-command", metavar="CMD",
              help="Run the upstream MCP server and talk to it over stdio ('python srv.py').")
@click.option("--upstream-url", metavar="URL",
              help="An upstream MCP server over streamable HTTP (http://host:port/mcp).")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio",
              show_default=True, help="How MCP clients reach the proxy.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --transport http.")
@click.option("--port", default=8765, show_default=True, help="With --transport http.")
@click.option("--approval", type=click.Choice(["raise", "wait"]), default="raise",
              show_default=True, help="require_approval: a tool error naming the request "
              "(raise), or wait for a human (wait).")
@click.option("--approval-timeout", type=float, metavar="SECONDS",
              help="How long --approval wait waits (default: the route's timeout); then "
              "the route's fallback.")
@click.option("--timeout", default=2.0, show_default=True, help="Seconds per OPA call.")
@STORE_OPT
def mcp_proxy(opa_url: str, identity: str, agent: str, server_name: str,
              upstream_command: str | None, upstream_url: str | None, transport: str,
              host: str, port: int, approval: str, approval_timeout: float | None,
              timeout: float, store_url: str | None) -> None:
    """An MCP server in front of an upstream one: every tools/call is decided by OPA.

    \b
    Tools are named mcp:SERVER/TOOL for the policy: bind them with kind: Tool and
    allow or block them with tool_access rules. tools/list hides the tools the agent
    may never call; a refused call is a tool error naming each violation and never
    reaches the upstream. With Claude Desktop or any MCP client, configure the proxy
    as the server command:
      policypacks mcp-proxy --opa http://127.0.0.1:8181 --identity acme \\
        --agent support-bot --server filesystem \\
        --upstream-command 'npx @modelcontextprotocol/server-filesystem /srv/shared'

    Needs the mcp extra: pip install 'policypacks[mcp]'.
    """
    if bool(upstream_command) == bool(upstream_url):
        click.echo("give exactly one of --upstream-command and --upstream-url", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        from ..integrations import mcp_proxy as proxy_module
    except ImportError as exc:
        click.echo(f"mcp-proxy needs the mcp extra ({exc}): pip install 'policypacks[mcp]'",
                   err=True)
        sys.exit(EXIT_BAD_INPUT)
    from ..runtime.client import PolicyClient

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)  # stdout is the protocol
    client = PolicyClient(opa_url, identity, agent, store=store_url, timeout=timeout)
    proxy = proxy_module.PolicyProxy(client, server_name, approval=approval,  # type: ignore[arg-type]
                                     approval_timeout=approval_timeout)
    try:
        if transport == "stdio":
            asyncio.run(proxy_module.serve_stdio(proxy, upstream_command, upstream_url))
        else:
            asyncio.run(proxy_module.serve_http(proxy, upstream_command, upstream_url, host,
                                                port))
    except KeyboardInterrupt:
        pass
    finally:
        client.close()
