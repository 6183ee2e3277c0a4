"""A small MCP server (the `mcp` SDK's MCPServer) with file tools in one directory; the
upstream of mcp_client.py. `python mcp_files_server.py DIR` serves stdio."""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

ROOT = Path(sys.argv[1])
app = MCPServer("filesystem")


@app.tool()
def read_file(path: str) -> str:
    return (ROOT / Path(path).name).read_text()


@app.tool()
def write_file(path: str, content: str) -> str:
    (ROOT / Path(path).name).write_text(content)
    return f"wrote {len(content)} characters"


@app.tool()
def delete_file(path: str) -> str:
    (ROOT / Path(path).name).unlink()
    return "deleted"


if __name__ == "__main__":
    app.run()
