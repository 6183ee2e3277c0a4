"""``kind: Tool``: the schema of a tool binding and its checks (called by ``validate``).

A binding names a tool as callers send it (``stripe.create_charge``, ``gmail.send``,
``mcp:filesystem/write_file``), the action type it performs, and where each action field
gets its value: a path into the tool's arguments (optionally divided, to turn cents into
dollars, and with a default) or a constant. OPA does the mapping (``lib/tools``), so
every caller gets the same action from the same arguments.
"""

from __future__ import annotations

import re
from typing import Any

from .conditions import FIELD_PATH
from .load import Document, YMap, line_of
from .model import Tool, ToolExample, ToolField
from .schema import (
    MISSING,
    AnyValue,
    Check,
    Ctx,
    Enum,
    Field,
    Id,
    ListOf,
    MapOf,
    Number,
    Obj,
    OneOf,
    Str,
    section,
)
from .vocabulary import DECISIONS

#: A tool's name: any run of printable, non-blank characters.
TOOL_NAME = Str(re.compile(r"^[^\s\x00-\x1f\x7f]{1,256}$"),
                "a tool name has no spaces or control characters, at most 256 characters",
                label="a tool name")
#: Action fields the mapping owns: the type comes from `action`, `tool` names the call.
RESERVED_TARGETS = ("type", "tool")

PATH = Str(FIELD_PATH, "a dotted path of letters, digits and '_' segments (amount, "
           "recipient.domain)", label="a dotted path")


class Source(Check):
    """One entry of ``fields``: ``{from: PATH, divide: N, default: V}`` or ``{value: V}``."""

    label = "{from: ARGUMENT.PATH} or {value: CONSTANT}"
    SHAPE = Obj({"from": Field(PATH), "value": Field(AnyValue()),
                 "default": Field(AnyValue()),
                 "divide": Field(Number(minimum=0))})

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, dict):
            return self.fail(value, ctx)
        checked = self.SHAPE(value, ctx)
        if checked is MISSING or set(value) - set(self.SHAPE.fields):
            return MISSING  # reported by the shape
        if ("from" in value) == ("value" in value):
            ctx.error("give exactly one of 'from' (an argument path) and 'value' (a constant)")
            return MISSING
        if "value" in value and ({"default", "divide"} & set(value)):
            ctx.error("'default' and 'divide' go with 'from', not with a constant 'value'")
            return MISSING
        if checked.get("divide") == 0:
            ctx.at(value, "divide").error("cannot divide by 0")
            return MISSING
        return checked


EXAMPLE = Obj({
    "name": Field(Str(non_empty=True), required=True),
    "agent": Field(Str(non_empty=True), required=True),
    "arguments": Field(OneOf([(lambda v: isinstance(v, dict), AnyValue())],
                             label="a mapping (the tool's arguments)"), default={}),
    "usage": Field(OneOf([(lambda v: isinstance(v, dict), AnyValue())],
                         label="a mapping (the usage document)")),
    "expect": Field(Enum(DECISIONS), required=True),
    "violations": Field(ListOf(Str(re.compile(r"^[^/\s]+/[^/\s]+$"),
                                   "write violations as pack/rule"))),
    "action": Field(OneOf([(lambda v: isinstance(v, dict), AnyValue())],
                          label="a mapping (the mapped action, without `tool`)")),
})

SPEC = Obj({
    "tool": Field(TOOL_NAME, required=True),
    "action": Field(Str(non_empty=True), required=True),
    "fields": Field(MapOf(Source(), key=PATH), default={}),
    "examples": Field(ListOf(AnyValue()), default=[]),  # each example is checked below
})

METADATA = Obj({"id": Field(Id(), required=True), "name": Field(Str()),
                "description": Field(Str())})


def check_tool(doc: Document, ctx: Ctx) -> Tool:
    meta = section(doc.body, "metadata", METADATA, ctx)
    spec = section(doc.body, "spec", SPEC, ctx)
    raw_spec = doc.body.get("spec")
    spec_ctx = ctx.at(doc.body, "spec")
    raw_fields = raw_spec.get("fields") if isinstance(raw_spec, dict) else None
    fields = _fields(spec.get("fields", {}), raw_fields, spec_ctx.at(raw_spec, "fields"))
    meta_node = doc.body.get("metadata")
    line = meta_node.line_of("id") if isinstance(meta_node, YMap) else doc.line
    return Tool(id=meta.get("id", ""), name=meta.get("name", meta.get("id", "")),
                tool=spec.get("tool", ""), action=spec.get("action", ""), fields=fields,
                examples=_examples(doc, spec_ctx, raw_spec), loc=doc.loc(line))


def _fields(checked: dict[str, Any], raw: Any, ctx: Ctx) -> list[ToolField]:
    """The binding's fields; a reserved target, or one inside another, is an error."""
    targets = sorted(checked)
    out = []
    for target in targets:
        sub = ctx.at(raw, target)
        if target.split(".")[0] in RESERVED_TARGETS:
            sub.error(f"{target!r}: the action's {target.split('.')[0]!r} is set by the "
                      "binding itself (spec.action and the tool call)")
            continue
        inner = next((t for t in targets if t.startswith(target + ".")), None)
        if inner:
            sub.error(f"{target!r} and {inner!r} cannot both be mapped: one holds the other")
            continue
        source = checked[target]
        out.append(ToolField(
            target=target.split("."),
            source=source["from"].split(".") if "from" in source else None,
            value=source.get("value"), default=source.get("default"),
            has_default="default" in source, divide=source.get("divide")))
    return out


def _examples(doc: Document, ctx: Ctx, raw_spec: Any) -> list[ToolExample]:
    if not isinstance(raw_spec, dict) or not isinstance(raw_spec.get("examples"), list):
        return []
    raw = raw_spec["examples"]
    examples_ctx = ctx.at(raw_spec, "examples")
    out = []
    for index, item in enumerate(raw):
        checked = EXAMPLE(item, examples_ctx.at(raw, index))
        if checked is MISSING or not {"name", "agent", "expect"} <= set(checked):
            continue
        out.append(ToolExample(checked["name"], checked["agent"], checked["arguments"],
                               checked.get("usage"), checked["expect"],
                               checked.get("violations"), checked.get("action"),
                               doc.loc(line_of(raw, index, doc.line))))
    return out



def compile_tool(tool: Tool) -> dict[str, Any]:
    """What ``lib/tools`` reads of a binding: the action type, and per field its JSON
    pointer, the pointers of the objects that hold it (created only when a field inside
    them is set) and its source."""
    fields = []
    for item in tool.fields:
        pointers = ["/" + "/".join(item.target[:n]) for n in range(1, len(item.target) + 1)]
        fields.append({
            "pointer": pointers[-1], "parents": pointers[:-1],
            "from": item.source, "constant": item.source is None, "value": item.value,
            "default": item.default, "has_default": item.has_default,
            "divide": item.divide,
        })
    return {"id": tool.id, "action": tool.action, "fields": fields}
