"""``policypacks mcp-proxy``: an MCP server that stands between an MCP client and an
upstream MCP server and puts every tool call through OPA first.

- ``tools/list``: the upstream's tools, minus those the agent may not call whatever the
  arguments (no binding under ``unboundTools: block``, or refused by name by a
  ``tool_access`` rule without ``when``);
- ``tools/call``: decided as the tool ``mcp:<server>/<tool>`` (its binding maps the
  arguments); refused calls never reach the upstream and come back as a tool error
  (``isError``) naming each violation; obligations rewrite the arguments first;
  ``require_approval`` is a tool error with the request id, or (``approval="wait"``) a
  wait for a human.

Upstreams: a command (stdio) or a URL (streamable HTTP); the proxy itself serves stdio
or streamable HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from ..runtime.client import PolicyBlocked, PolicyClient
from ..runtime.guard import ToolGuard
from ..vocabulary import package_segment
from . import refusal

log = logging.getLogger("policypacks.mcp_proxy")


def qualified(server: str, tool: str) -> str:
    """The name bindings and rules use for an MCP tool: ``mcp:<server>/<tool>``."""
    return f"mcp:{server}/{tool}"


@dataclass
class PolicyProxy:
    """The policy half of the proxy: what to list, and how to call."""

    client: PolicyClient
    server: str  # the upstream's name in tool names (mcp:<server>/<tool>)
    approval: Literal["raise", "wait"] = "raise"
    approval_timeout: float | None = None

    def guard(self, tool: str) -> ToolGuard:
        return ToolGuard(self.client, qualified(self.server, tool), approval=self.approval,
                         approval_timeout=self.approval_timeout)

    def hidden(self, tools: list[str]) -> set[str]:
        """The tools refused by name alone; any doubt (OPA unreachable) hides them all."""
        try:
            when_rules = self._rules_with_when()
            return {tool for tool in tools if self._refused_by_name(tool, when_rules)}
        except Exception as exc:  # noqa: BLE001 - fail closed: list nothing
            log.error("cannot ask OPA which tools to list (%s): listing none", exc)
            return set(tools)

    def _rules_with_when(self) -> set[tuple[str, str]]:
        url = (f"{self.client.opa_url}/v1/data/policypacks/"
               f"{package_segment(self.client.identity)}/effective/{self.client.agent}")
        view = self.client.session.get(url, timeout=self.client.timeout).json().get("result")
        return {(p["pack"], r["rule"]) for p in (view or {}).get("packs", [])
                for r in p["rules"] if r["type"] == "tool_access" and r["params"].get("when")}

    def _refused_by_name(self, tool: str, when_rules: set[tuple[str, str]]) -> bool:
        body = {"input": {"agent": self.client.agent,
                          "tool": {"name": qualified(self.server, tool), "arguments": {}}}}
        reply = self.client.session.post(self.client.url, json=body, timeout=self.client.timeout)
        decision = reply.json()["result"]
        if decision["decision"] != "block":
            return False
        blocking = [v for v in decision["violations"] if v["enforcement"] == "block"]
        return all(v["rule"] == "unbound-tool" and v["pack"] == "_system"
                   or v["type"] == "tool_access" and (v["pack"], v["rule"]) not in when_rules
                   for v in blocking)

    async def list_tools(self, upstream: ClientSession) -> types.ListToolsResult:
        listed = await upstream.list_tools()
        hidden = await asyncio.to_thread(self.hidden, [t.name for t in listed.tools])
        return types.ListToolsResult(tools=[t for t in listed.tools if t.name not in hidden])

    async def call_tool(self, upstream: ClientSession, name: str,
                        arguments: dict[str, Any] | None) -> types.CallToolResult:
        guard = self.guard(name)
        try:
            admission = await asyncio.to_thread(guard.admit, arguments or {})
        except PolicyBlocked as exc:  # ApprovalRequired, ApprovalDenied too
            return _error(refusal(exc, guard.tool))
        try:
            result = await upstream.call_tool(name, admission.arguments)
        except BaseException:
            await asyncio.to_thread(guard.finish, admission, False)
            raise
        await asyncio.to_thread(guard.finish, admission, not result.is_error)
        return result


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                is_error=True)


@asynccontextmanager
async def upstream_session(command: str | None = None, url: str | None = None
                           ) -> AsyncIterator[ClientSession]:
    """A session with the upstream MCP server: a command to run (stdio) or a URL."""
    async with AsyncExitStack() as stack:
        if command:
            argv = shlex.split(command)
            params = StdioServerParameters(command=argv[0], args=argv[1:])
            read, write = await stack.enter_async_context(stdio_client(params))
        elif url:
            read, write = await stack.enter_async_context(streamable_http_client(url))
        else:
            raise ValueError("an upstream command or URL is needed")
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        yield session


def proxy_server(proxy: PolicyProxy, upstream: ClientSession) -> Server[Any]:
    async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return await proxy.list_tools(upstream)

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await proxy.call_tool(upstream, params.name, params.arguments)

    return Server("policypacks-mcp-proxy", on_list_tools=on_list_tools,
                  on_call_tool=on_call_tool)


async def serve_stdio(proxy: PolicyProxy, command: str | None, url: str | None) -> None:
    async with upstream_session(command, url) as upstream:
        server = proxy_server(proxy, upstream)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


async def serve_http(proxy: PolicyProxy, command: str | None, url: str | None, host: str,
                     port: int, path: str = "/mcp") -> None:
    import uvicorn

    async with upstream_session(command, url) as upstream:
        app = proxy_server(proxy, upstream).streamable_http_app(streamable_http_path=path,
                                                                host=host)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        await uvicorn.Server(config).serve()
