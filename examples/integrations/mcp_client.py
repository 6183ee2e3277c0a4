"""An MCP client talking to mcp_files_server.py through `policypacks mcp-proxy`
(pip install 'policypacks[mcp]'), as data-bot, with packs/tools/filesystem.yaml and
packs/packs/tool-access.yaml deciding.

    python examples/integrations/mcp_client.py   (OPA as in guard_agent.py)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from _scripted import OPA_URL, STORE
from mcp import ClientSession, StdioServerParameters, stdio_client

HERE = Path(__file__).resolve().parent


async def main() -> None:
    files = tempfile.mkdtemp(prefix="mcp-files-")
    proxy = StdioServerParameters(command=str(Path(sys.executable).parent / "policypacks"), args=[
        "mcp-proxy", "--opa", OPA_URL, "--identity", "acme", "--agent", "data-bot",
        "--server", "filesystem", "--store", STORE,
        "--upstream-command", f"{sys.executable} {HERE / 'mcp_files_server.py'} {files}"])
    async with stdio_client(proxy) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        print("listed:", sorted(t.name for t in (await session.list_tools()).tools))
        for tool, arguments in [
            ("write_file", {"path": "/srv/shared/report.csv", "content": "a,b\n1,2\n"}),
            ("read_file", {"path": "/srv/shared/report.csv"}),
            ("write_file", {"path": "/etc/passwd", "content": "root::0:0"}),
            ("delete_file", {"path": "/srv/shared/report.csv"}),
        ]:
            result = await session.call_tool(tool, arguments)
            text = " ".join(getattr(c, "text", "") for c in result.content)
            print(f"{tool} {arguments['path']}: {'REFUSED ' if result.is_error else ''}{text}")


asyncio.run(main())
