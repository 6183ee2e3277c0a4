# METADATA
# title: "Rule type: condition"
# description: |
#   A free-form rule: violated when its `when` condition holds ("no refunds over $100").
package policypacks.acme.rules.condition

import data.policypacks.acme.config
import data.policypacks.acme.lib.conditions
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": "the rule's condition holds"} if {
	some [pack_id, i] in precedence.input_rules.condition
	rule := config.rules.condition[pack_id][i]
	conditions.holds(rule.when, input)
}
