# METADATA
# title: "Rule type: spending_limit"
# description: |
#   Caps what one action spends (period: transaction) or what the period's spend
#   reaches with it (usage.spend[period] + amount, missing usage = 0). Only actions of
#   the rule's `actions` in the rule's currency count (codes compare case-insensitively,
#   the compiler ships the rule's in upper case); without an amount it never fires.
package policypacks.acme.rules.spending_limit

import data.policypacks.acme.config
import data.policypacks.acme.lib.counting
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	is_number(input.action.amount)
	some group in precedence.input_groups
	some at in group.spending_limit
	rule := config.rules.spending_limit[at]
	pack_id := rule.pack
	upper(object.get(input.action, "currency", rule.currency)) == rule.currency # missing: the rule's
	total := input.action.amount + spent_before(input, rule.period)
	total > rule.max
	message := describe(rule, total)
}

# What the period already spent: missing (or not a number) counts as 0.
spent_before(_, "transaction") := 0

spent_before(doc, period) := counting.already(doc, ["spend", period]) if period != "transaction"

adjective := {"hour": "hourly", "day": "daily", "month": "monthly"}

describe(rule, total) := message if {
	rule.period == "transaction"
	message := sprintf("a single spend of %v %s is over the %v %s cap", [total, rule.currency, rule.max, rule.currency])
}

describe(rule, total) := message if {
	rule.period != "transaction"
	template := "%s spend would reach %v %s, over the %v %s cap"
	message := sprintf(template, [adjective[rule.period], total, rule.currency, rule.max, rule.currency])
}
