# METADATA
# title: "Rule type: escalation"
# description: |
#   Never violated: routes require_approval decisions to approvers. Only escalation
#   rules of packs attached to the agent count (suppressed or not). The largest priority
#   wins, then pack id, then rule order; with no match the identity's default route
#   applies.
package policypacks.acme.rules.escalation

import data.policypacks.acme.config

# The approval of a require_approval decision, given the escalation rules that may route
# its require_approval violations (`candidates`: [position, at, actions] from the
# agent's table, precedence.route_index, where the position is the order the rules win
# in: largest priority first, then pack id, then rule order, and `at` the rule's place
# in config.rules.escalation): the first whose `actions` (if listed) hold the action's
# type.
route(candidates, action) := {
	"approvers": rule.approvers,
	"timeout_seconds": rule.timeout_seconds,
	"fallback": rule.fallback,
	"route": sprintf("%s/%s", [rule.pack, rule.id]),
} if {
	[_, at] := sort([[position, at] |
		some [position, at, actions] in candidates
		listed_or_null(actions, action.type)
	])[0]
	rule := config.rules.escalation[at]
} else := object.union(config.identity.escalation, {"route": "identity"})

# Whether a violation of this rule satisfies every key the route's `match` lists among
# `categories`, `packs` and `rules`. None of that depends on the input, so it is decided
# when the bundle is built, for every rule of an agent's packs (precedence.route_index);
# only `actions` is left to the decision.
matches_rule(match, pack_id, rule_id, category) if {
	listed_or_null(match.categories, category)
	listed_or_null(match.packs, pack_id)
	rule_listed(match.rules, pack_id, rule_id)
}

listed_or_null(null, _)

listed_or_null(list, value) if value in list

rule_listed(null, _, _)

rule_listed(list, pack_id, rule_id) if sprintf("%s/%s", [pack_id, rule_id]) in list

rule_listed(list, _, rule_id) if rule_id in list
