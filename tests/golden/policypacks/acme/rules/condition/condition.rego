# METADATA
# title: "Rule type: condition"
# description: |
#   A free-form rule: violated when its `when` condition holds ("no refunds over $100").
package policypacks.acme.rules.condition

import data.policypacks.acme.config
import data.policypacks.acme.lib.conditions
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": "the rule's condition holds"} if {
	some [pack_id, i] in precedence.active_rules_of("condition")
	rule := config.rules.condition[pack_id][i]
	possible(rule.action_types, input.action)
	conditions.holds(rule.when, input)
}

# Whether the condition can hold for this action: the compiler lists the action types
# every term of it pins with `action.type equals/in` (null when some term does not).
possible(null, _)

possible(types, action) if action.type in types
