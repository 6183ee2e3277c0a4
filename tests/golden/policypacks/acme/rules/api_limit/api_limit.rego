# METADATA
# title: "Rule type: api_limit"
# description: |
#   Counts api_call actions per API and minute, hour or day: what the client reports as
#   usage.apis[api][period] plus this call must stay within max. A rule for api "*"
#   counts every call against usage.apis["*"]. Missing usage counts as 0.
package policypacks.acme.rules.api_limit

import data.policypacks.acme.config
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	input.action.type == "api_call"
	some pack_id, _ in precedence.input_packs
	some rule in config.rules.api_limit[pack_id]
	counted(rule.api, input.action)
	nth := calls_before(input, rule.api, rule.period) + 1
	nth > rule.max
	message := sprintf("%s %s %s, over the limit of %v", [ordinal(nth), target(rule.api), during[rule.period], rule.max])
}

# Whether a rule for `api` counts this call: "*" counts them all.
counted("*", _)

counted(api, action) if {
	api != "*"
	action.api == api
}

target("*") := "API call"

target(api) := concat(" ", ["call to", api]) if api != "*"

calls_before(doc, api, period) := done if {
	done := object.get(doc, ["usage", "apis", api, period], 0)
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
