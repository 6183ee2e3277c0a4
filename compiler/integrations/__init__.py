"""Framework adapters around tool calls: each module imports its framework, and only
that module does (``policypacks.runtime`` stays free of them). Install the extra:

- ``langchain``: :mod:`.langchain` (``pip install 'policypacks[langchain]'``)
- ``openai_agents``: :mod:`.openai_agents` (``pip install 'policypacks[openai-agents]'``)
- ``mcp_proxy``: :mod:`.mcp_proxy` and ``policypacks mcp-proxy`` (``'policypacks[mcp]'``)

All three decide through :class:`policypacks.runtime.guard.ToolGuard`: the same mapping
(from OPA), usage, approvals and obligations as ``@client.guard``.
"""

from __future__ import annotations

from ..runtime.client import ApprovalRequired, PolicyBlocked
from ..runtime.guard import ApprovalDenied


def refusal(refused: PolicyBlocked, tool: str) -> str:
    """What the model is told when a tool call is refused: the decision and every
    violation (and what became of an approval), so it can tell the user."""
    decision = refused.decision
    reasons = "; ".join(f"{v.get('pack')}/{v.get('rule')}: {v.get('message', '')}"
                        for v in decision.violations) or "no reason given"
    text = f"policy refused tool {tool} ({decision.decision}): {reasons}"
    if isinstance(refused, ApprovalDenied):
        text += f" [{refused.reason}]"
    elif isinstance(refused, ApprovalRequired) and refused.request is not None:
        text += f" [approval request {refused.request.id} is pending]"
    return text
