# METADATA
# title: "Rule type: tool_access"
# description: |
#   Which tools an agent may call (allow and block lists of globs, compiled to anchored
#   RE2 patterns) and what their arguments may be (a condition over the input plus
#   `arguments`). Only tool calls are concerned: lib/tools derived their action, and
#   input.action.tool names the call.
package policypacks.acme.rules.tool_access

import data.policypacks.acme.config
import data.policypacks.acme.lib.conditions
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule, name] in concerned
	rule.allow_patterns != null
	not matches_any(rule.allow_patterns, name)
	message := sprintf("tool %s is not among the tools this agent may call", [json.marshal(name)])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule, name] in concerned
	rule.block_patterns != null
	matches_any(rule.block_patterns, name)
	message := sprintf("tool %s is blocked for this agent", [json.marshal(name)])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule, name] in concerned
	rule.when != null
	conditions.holds(rule.when, object.union(input, {"arguments": arguments}))
	message := sprintf("the arguments of tool %s break the rule's condition", [json.marshal(name)])
}

# The rules of the agent's packs that this tool call concerns, with the tool's name.
concerned contains [pack_id, rule, name] if {
	name := input.action.tool.name
	is_string(name)
	some group in precedence.input_groups
	some at in group.tool_access
	rule := config.rules.tool_access[at]
	pack_id := rule.pack
	covers(rule.tools_patterns, name)
}

default arguments := {}

arguments := input.action.tool.arguments if is_object(input.action.tool.arguments)

covers(null, _)

covers(patterns, name) if matches_any(patterns, name)

matches_any(patterns, name) if {
	some pattern in patterns
	regex.match(pattern, name)
}
