# METADATA
# title: "Rule type: rate_limit"
# description: |
#   Counts the actions of one type per minute, hour or day: what the client reports as
#   usage.actions[action][period] plus this action must stay within max. Missing usage
#   counts as 0 (so does a usage that is not a number).
package policypacks.acme.rules.rate_limit

import data.policypacks.acme.config
import data.policypacks.acme.lib.counting
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some group in precedence.input_groups
	some at in group.rate_limit
	rule := config.rules.rate_limit[at]
	pack_id := rule.pack
	nth := counting.already(input, ["actions", rule.action, rule.period]) + 1
	nth > rule.max
	message := counting.over_limit(nth, rule.action, rule.period, rule.max)
}
