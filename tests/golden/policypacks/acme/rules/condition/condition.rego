# METADATA
# title: "Rule type: condition"
# description: |
#   A free-form rule: violated when its `when` condition holds ("no refunds over $100").
#   A condition every term of which pins `action.type` (equals/in) is evaluated only for
#   those action types: the compiler lists them and the build files the rule under them.
package policypacks.acme.rules.condition

import data.policypacks.acme.config
import data.policypacks.acme.lib.conditions
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": "the rule's condition holds"} if {
	some group in precedence.input_groups
	some at in group.condition
	rule := config.rules.condition[at]
	pack_id := rule.pack
	conditions.holds(rule.when, input)
}
