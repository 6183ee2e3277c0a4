# METADATA
# title: "Rule type: retention"
# description: |
#   store_data actions of the rule's classes (all, when it lists none; data that does
#   not list its classes is covered) must state retention_days within [min_days,
#   max_days]. A missing or non-numeric retention_days is a violation (fail closed).
package policypacks.acme.rules.retention

import data.policypacks.acme.config
import data.policypacks.acme.lib.data_governance
import data.policypacks.acme.precedence

# The retention rules of the agent's packs that cover this store_data action.
covering contains [pack_id, rule] if {
	input.action.type == "store_data"
	some group in precedence.input_groups
	some at in group.retention
	rule := config.rules.retention[at]
	pack_id := rule.pack
	data_governance.in_scope(rule.classes, input.action)
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not stated(input.action)
	some [pack_id, rule] in covering
	message := "stores data without a number of retention_days"
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	days := input.action.data.retention_days
	is_number(days)
	some [pack_id, rule] in covering
	rule.max_days != null
	days > rule.max_days
	message := sprintf("keeps data for %v days, over the maximum of %v", [days, rule.max_days])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	days := input.action.data.retention_days
	is_number(days)
	some [pack_id, rule] in covering
	rule.min_days != null
	days < rule.min_days
	message := sprintf("keeps data for %v days, under the minimum of %v", [days, rule.min_days])
}

stated(action) if is_number(action.data.retention_days)
