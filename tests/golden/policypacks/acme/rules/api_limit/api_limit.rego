# METADATA
# title: "Rule type: api_limit"
# description: |
#   Counts api_call actions per API and minute, hour or day: what the client reports as
#   usage.apis[api][period] plus this call must stay within max. A rule for api "*"
#   counts every call against usage.apis["*"]. Missing usage counts as 0.
package policypacks.acme.rules.api_limit

import data.policypacks.acme.config
import data.policypacks.acme.lib.counting
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	input.action.type == "api_call"
	some group in precedence.input_groups
	some at in group.api_limit
	rule := config.rules.api_limit[at]
	pack_id := rule.pack
	counted(rule.api, input.action)
	nth := counting.already(input, ["apis", rule.api, rule.period]) + 1
	nth > rule.max
	message := counting.over_limit(nth, target(rule.api), rule.period, rule.max)
}

# Whether a rule for `api` counts this call: "*" counts them all.
counted("*", _)

counted(api, action) if {
	api != "*"
	action.api == api
}

target("*") := "API call"

target(api) := concat(" ", ["call to", api]) if api != "*"
