# METADATA
# title: "Rule type: escalation"
# description: |
#   Never violated: routes require_approval decisions to approvers. Only escalation
#   rules of packs attached to the agent count (suppressed or not). The largest priority
#   wins, then pack id, then rule order; with no match the identity's default route
#   applies.
package policypacks.acme.rules.escalation

import data.policypacks.acme.config

# The approval of a require_approval decision, given its require_approval violations and
# the agent's escalation rules in the order they win (precedence.routes: largest priority
# first, then pack id, then rule order, resolved when the bundle is built): the first
# that matches.
route(violations, action, routes) := approval(pack_id, rule) if {
	matching := [[pack_id, rule] |
		some [pack_id, i] in routes
		rule := config.rules.escalation[pack_id][i]
		route_matches(rule.match, violations, action)
	]
	[pack_id, rule] := matching[0]
} else := object.union(config.identity.escalation, {"route": "identity"})

approval(pack_id, rule) := {
	"approvers": rule.approvers,
	"timeout_seconds": rule.timeout_seconds,
	"fallback": rule.fallback,
	"route": sprintf("%s/%s", [pack_id, rule.id]),
}

route_matches(match, violations, action) if {
	listed_or_null(match.actions, action.type)
	some violation in violations
	listed_or_null(match.categories, violation.category)
	listed_or_null(match.packs, violation.pack)
	rule_listed(match.rules, violation)
}

listed_or_null(null, _)

listed_or_null(list, value) if value in list

rule_listed(null, _)

rule_listed(list, violation) if sprintf("%s/%s", [violation.pack, violation.rule]) in list

rule_listed(list, violation) if violation.rule in list
