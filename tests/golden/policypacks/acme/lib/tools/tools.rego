# METADATA
# title: Tool calls and their bindings (kind Tool)
# description: |
#   A caller may name a tool call instead of an action, {"agent": ..., "tool": {"name":
#   ..., "arguments": {...}}}, and an action may say which tool call it is (action.tool,
#   as the Python guard sends it). Either way the action is derived here from the tool's
#   binding in config.tools, never taken from the caller, and main.rego decides that one
#   derived action: it evaluates the decision with input.action replaced by `action`.
package policypacks.acme.lib.tools

import data.policypacks.acme.config
import data.policypacks.acme.lib.conditions

# The tool call the input names: input.tool, or else input.action.tool. A key that is
# there binds `_` whatever its value (a null or false tool is a malformed call, not no
# call), and costs a lookup, where object.keys would build the set of every key.
called if {
	_ = input.tool
}

called if {
	_ = input.action.tool
}

call := input.tool if {
	_ = input.tool
} else := input.action.tool

# What is wrong with the call (an LLM wrote it: anything may be).
problems contains "tool: expected an object {name, arguments}" if {
	called
	not is_object(call)
}

problems contains "tool.name: expected a non-empty string" if {
	is_object(call)
	not valid_name
}

problems contains "tool.arguments: expected an object" if {
	is_object(call)
	not is_object(object.get(call, "arguments", {}))
}

valid_name if {
	is_string(call.name)
	call.name != ""
}

valid if {
	called
	count(problems) == 0
}

name := call.name if valid

arguments := object.get(call, "arguments", {}) if valid

binding := config.tools[name]

bound if binding

# The action the call performs: its binding's, or else a plain tool_call.
action := json.patch({"type": binding.action, "tool": {"name": name, "arguments": arguments}}, patches) if bound

action := {"type": "tool_call", "tool": {"name": name, "arguments": arguments}} if {
	valid
	not bound
}

action := {"type": "tool_call", "tool": call} if {
	called
	not valid
}

# What the Python guard asks before deciding (POST .../lib/tools/mapping): the action,
# and the argument each plain mapped field came from, so that obligations rewriting the
# action (a signature appended to content.text) can be written back into the arguments.
mapping := {"action": action, "bound": has_binding, "sources": sources} if called

default has_binding := false

has_binding if bound

sources[field.pointer] := field.from if {
	some field in binding.fields
	not field.constant
	field.divide == null
}

# Fields whose source is there, with their values; the objects holding them are added
# first (a sorted pointer comes after the pointers of its parents).
present_fields := [[field, value] | some field in binding.fields; value := field_value(field, arguments)]

patches := array.concat(
	[{"op": "add", "path": pointer, "value": {}} |
		some pointer in sort({pointer | some [field, _] in present_fields; some pointer in field.parents})
	],
	[{"op": "add", "path": field.pointer, "value": value} | some [field, value] in present_fields],
)

field_value(field, _) := field.value if field.constant

field_value(field, args) := scaled(object.get(args, field.from, null), field.divide) if {
	not field.constant
	conditions.present(args, field.from)
}

field_value(field, args) := field.default if {
	not field.constant
	not conditions.present(args, field.from)
	field.has_default
}

# A unit (cents to dollars); a value that is not a number stays as it is, so that the
# input contract names it.
scaled(value, divisor) := value / divisor if {
	is_number(value)
	is_number(divisor)
} else := value

invalid_violation := {
	"pack": "_system",
	"rule": "invalid-tool",
	"type": "invalid_tool",
	"category": "safety",
	"enforcement": "block",
	"level": "identity",
	"message": concat("; ", sort(problems)),
}

unbound_violation := {
	"pack": "_system",
	"rule": "unbound-tool",
	"type": "unbound_tool",
	"category": "safety",
	"enforcement": "block",
	"level": "identity",
	"message": sprintf("tool %s has no binding (kind: Tool) in this policy repository", [json.marshal(name)]),
}

violation contains invalid_violation if count(problems) > 0

violation contains unbound_violation if {
	valid
	not bound
	config.identity.unbound_tools == "block"
}
