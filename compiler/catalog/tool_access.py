"""tool_access: which tools an agent may call, and what their arguments may be."""

from typing import Any

from ..conditions import condition_dnf
from ..schema import Field, ListOf, Str
from . import WITH_TOOL, Example, RuleType
from ._common import quote_meta
from .condition import CONDITION

GLOB = Str(non_empty=True, label="a tool name or glob")


def glob_pattern(glob: str) -> str:
    """An anchored RE2 pattern for a glob: `*` is any run of characters, `?` one; every
    other character is itself (so `mcp:fs/[x]` has no character class)."""
    parts = [".*" if c == "*" else "." if c == "?" else quote_meta(c) for c in glob]
    return "(?s)^" + "".join(parts) + "$"


def _patterns(globs: list[str] | None) -> list[str] | None:
    return None if globs is None else [glob_pattern(g) for g in globs]


def _compile(params: dict[str, Any], ctx: Any) -> dict[str, Any]:
    return {
        "tools_patterns": _patterns(params.get("tools")),
        "allow_patterns": _patterns(params.get("allow")),
        "block_patterns": _patterns(params.get("block")),
        "when": condition_dnf(params["when"]) if params.get("when") is not None else None,
    }


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool": {"name": name, "arguments": arguments}}


RULE_TYPE = RuleType(
    name="tool_access",
    fires_on=lambda rule: WITH_TOOL,  # it judges the action's `tool`
    summary="Allow or block the tools an agent calls (names and globs), and constrain "
            "their arguments.",
    violated_when=(
        "the input is a tool call (`tool`, or an action's `tool`) to a tool that `tools` "
        "covers (all when absent) and the tool matches none of `allow` (when listed), "
        "matches one of `block`, or the `when` condition holds. `when` reads the input as "
        "decided plus `arguments`: `arguments.amount` is the raw argument, `action.amount` "
        "the mapped field. Actions that are not tool calls are not concerned."
    ),
    params={
        "tools": Field(ListOf(GLOB)),
        "allow": Field(ListOf(GLOB)),
        "block": Field(ListOf(GLOB)),
        "when": Field(CONDITION),
    },
    doc_params={
        "tools": "the tools this rule is about (names or globs; all when absent)",
        "allow": "only these tools may be called (names or globs)",
        "block": "these tools may not be called (names or globs)",
        "when": "a condition over `arguments.*` (and the input as decided) that violates "
                "the rule when it holds",
    },
    compile=_compile,
    notes="""\
Globs: `*` matches any run of characters (dots, slashes and colons included), `?` one
character; every other character stands for itself. `stripe.*` covers
`stripe.create_charge` and `stripe.refunds.create`; `mcp:filesystem/*` every tool of the
MCP server `filesystem`.

A tool call is `{"agent": ..., "tool": {"name": ..., "arguments": {...}}}`, or an action
carrying `tool` (what the Python guard sends). Its action is derived from the tool's
binding (`kind: Tool`, see [tools.md](../tools.md)); a tool no binding names is a
`tool_call` action and follows the identity's `unboundTools` (`block` by default: the
violation `_system/unbound-tool`).

The rule never conflicts unless it sets `key`: an identity pack's `allow` and an agent
pack's `allow` both apply, so the agent may call only tools both allow. Give them the same
`key` to let precedence choose one.

The allow-list and the argument check are one rule each way: write one rule with `allow`
and another with `tools` + `when` when each should have its own message.""",
    examples=[
        Example("allowed by name", {"allow": ["stripe.create_charge"]},
                call("stripe.create_charge", amount=500), "ok"),
        Example("not in the allow list", {"allow": ["stripe.create_charge"]},
                call("stripe.refund", charge="ch_1"), "violated"),
        Example("allowed by glob", {"allow": ["gmail.*"]}, call("gmail.send"), "ok"),
        Example("glob spans dots and slashes", {"allow": ["mcp:filesystem/*"]},
                call("mcp:filesystem/read_file", path="/tmp/a"), "ok"),
        Example("blocked by glob", {"block": ["mcp:filesystem/write*"]},
                call("mcp:filesystem/write_file", path="/etc/passwd"), "violated"),
        Example("block wins over allow", {"allow": ["stripe.*"], "block": ["stripe.refund"]},
                call("stripe.refund"), "violated"),
        Example("glob characters other than * and ? are literal", {"allow": ["db.[a]"]},
                call("db.a"), "violated"),
        Example("? is one character", {"allow": ["db.v?"]}, call("db.v2"), "ok"),
        Example("argument over a limit",
                {"tools": ["stripe.create_charge"],
                 "when": {"field": "arguments.amount", "gt": 10000}},
                call("stripe.create_charge", amount=20000), "violated"),
        Example("argument within the limit",
                {"tools": ["stripe.create_charge"],
                 "when": {"field": "arguments.amount", "gt": 10000}},
                call("stripe.create_charge", amount=900), "ok"),
        Example("argument condition only for the listed tools",
                {"tools": ["stripe.create_charge"],
                 "when": {"field": "arguments.amount", "gt": 10000}},
                call("stripe.refund", amount=20000), "ok"),
        Example("argument pattern",
                {"tools": ["mcp:filesystem/*"],
                 "when": {"not": {"field": "arguments.path", "starts_with": "/srv/shared/"}}},
                call("mcp:filesystem/write_file", path="/etc/passwd"), "violated"),
        Example("tool call inside an action",
                {"allow": ["gmail.send"]},
                {"action": {"type": "send_email",
                            "tool": {"name": "gmail.delete", "arguments": {}}}}, "violated"),
        Example("an action that is no tool call is not concerned",
                {"allow": ["gmail.send"]},
                {"action": {"type": "spend", "amount": 5}}, "ok"),
    ],
)
