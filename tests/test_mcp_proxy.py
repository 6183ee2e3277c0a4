"""``policypacks mcp-proxy`` between a real MCP client (``mcp.ClientSession``) and a real
MCP server (``MCPServer`` from the ``mcp`` SDK), over stdio and over streamable HTTP, with
the real OPA deciding: listed tools, an allowed call, a blocked one (the upstream body
never runs), approvals (approved runs once; denied and timed out take the fallback)
and obligations rewriting the arguments before the upstream sees them."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from tool_support import AGENT, IDENTITY, SIGNATURE, Approver, tool_opa

from policypacks.deploy.sidecar import LocalOpa, free_port

HERE = Path(__file__).resolve().parent
POLICYPACKS = str(Path(sys.executable).parent / "policypacks")


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    with tool_opa(tmp_path_factory.mktemp("mcp")) as server:
        yield server


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited early"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def proxy_args(opa: LocalOpa, store: Path) -> list[str]:
    return ["mcp-proxy", "--opa", opa.url, "--identity", IDENTITY, "--agent", AGENT,
            "--server", "shop", "--store", f"sqlite:///{store}", "--approval", "wait",
            "--approval-timeout", "1.5", "--timeout", "5"]


@asynccontextmanager
async def connect(transport: str, opa: LocalOpa, tmp: Path) -> AsyncIterator[ClientSession]:
    log, store = tmp / "upstream.log", tmp / "agent.db"
    log.touch()
    upstream = f"{sys.executable} {HERE / 'mcp_shop_server.py'} {log}"
    if transport == "stdio":
        params = StdioServerParameters(command=POLICYPACKS, args=[
            *proxy_args(opa, store), "--upstream-command", upstream])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield session
        return
    up_port, proxy_port = free_port(), free_port()
    processes = [subprocess.Popen([*upstream.split(), "http", str(up_port)])]
    try:
        wait_port(up_port, processes[0])
        processes.append(subprocess.Popen([
            POLICYPACKS, *proxy_args(opa, store), "--upstream-url",
            f"http://127.0.0.1:{up_port}/mcp", "--transport", "http", "--port", str(proxy_port)]))
        wait_port(proxy_port, processes[1])
        async with streamable_http_client(f"http://127.0.0.1:{proxy_port}/mcp") as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=10)


def ran(tmp: Path) -> list[list[Any]]:
    return [json.loads(line) for line in (tmp / "upstream.log").read_text().splitlines()]


def text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


# (what, tool, arguments, approver's answer, refused, upstream log line or None)
CALLS = [
    ("allowed", "lookup_order", {"order_id": "A-1"}, None, False, ["lookup_order", "A-1"]),
    ("blocked", "delete_customer", {"customer": "cus_1"}, None, True, None),
    ("unbound", "hidden_helper", {}, None, True, None),
    ("approved", "refund", {"cents": 9000}, "approved", False, ["refund", 9000]),
    ("denied", "refund", {"cents": 9100}, "denied", True, None),
    ("timed out", "refund", {"cents": 9200}, "", True, None),
    ("obligation", "send_email", {"to": "jane@example.com", "body": "On its way."}, None,
     False, ["send_email", f"On its way.\n{SIGNATURE}"]),
]


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_proxy(transport: str, opa: LocalOpa, tmp_path: Path) -> None:
    results: list[tuple[str, bool, str]] = []

    async def main() -> list[str]:
        async with connect(transport, opa, tmp_path) as session:
            listed = sorted(t.name for t in (await session.list_tools()).tools)
            for what, tool, arguments, answer, _, _ in CALLS:
                with Approver(tmp_path / "agent.db", answer or None):
                    result = await session.call_tool(tool, arguments)
                results.append((what, bool(result.is_error), text(result)))
            return listed
    listed = asyncio.run(main())
    assert listed == ["lookup_order", "refund", "send_email"]  # delete_*, unbound: hidden
    expected_log = [line for *_, line in CALLS if line is not None]
    assert ran(tmp_path) == expected_log
    for (what, _, _, _, refused, _), (_, is_error, message) in zip(CALLS, results, strict=True):
        assert is_error == refused, f"{what}: {message}"
    messages = {what: message for what, _, message in results}
    assert "tools/no-deletes" in messages["blocked"]
    assert "_system/unbound-tool" in messages["unbound"]
    assert "approval denied by ops" in messages["denied"]
    assert "no answer in time" in messages["timed out"]
