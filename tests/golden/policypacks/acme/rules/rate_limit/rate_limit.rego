# METADATA
# title: "Rule type: rate_limit"
# description: |
#   Counts the actions of one type per minute, hour or day: what the client reports as
#   usage.actions[action][period] plus this action must stay within max. Missing usage
#   counts as 0 (so does a usage that is not a number).
package policypacks.acme.rules.rate_limit

import data.policypacks.acme.config
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some pack_id, _ in precedence.input_packs
	some rule in config.rules.rate_limit[pack_id]
	input.action.type == rule.action
	nth := done_before(input, rule.action, rule.period) + 1
	nth > rule.max
	message := sprintf("%s %s %s, over the limit of %v", [ordinal(nth), rule.action, during[rule.period], rule.max])
}

done_before(doc, action_type, period) := done if {
	done := object.get(doc, ["usage", "actions", action_type, period], 0)
	is_number(done)
} else := 0

during := {"minute": "this minute", "hour": "this hour", "day": "today"}

# 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st; a count that is not whole stays a number.
ordinal(n) := sprintf("%d%s", [whole, ordinal_suffix(abs(whole) % 100)]) if {
	whole := round(n)
	whole == n
} else := sprintf("%v", [n])

ordinal_suffix(k) := "th" if k in {11, 12, 13}

ordinal_suffix(k) := object.get({1: "st", 2: "nd", 3: "rd"}, k % 10, "th") if not k in {11, 12, 13}
