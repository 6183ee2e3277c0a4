# METADATA
# title: Generated tests of the compiled repository
# description: |
#   Run by `policypacks test` (or plain `opa test` with the bundle and the cases data
#   document next to it). The first tests hold for every repository; then one test per
#   case: every pack's `examples:`, every Tool example and every `kind: Test` case. The
#   cases are data (data.policypacks_cases.<identity>: test id -> {pack, input,
#   assertions}); each test looks its case up by id (docs/testing.md).
package policypacks.acme_test

import data.policypacks.acme as policy
import data.policypacks_cases.acme as cases

test_every_declared_agent_gets_a_decision if {
	every agent_id, _ in policy.config.agents {
		result := policy.decision with input as {"agent": agent_id, "action": {"type": "noop"}}
		result.decision in {"allow", "warn", "require_approval", "block"}
		result.agent == agent_id
	}
}

test_every_declared_agent_has_an_effective_view if {
	every agent_id, _ in policy.config.agents {
		policy.effective[agent_id].agent == agent_id
	}
}

test_undeclared_agent_follows_unknown_agents if {
	result := policy.decision with input as {"agent": "-undeclared-", "action": {"type": "noop"}}
	unknown_agent_outcome(result, policy.config.identity.unknown_agents)
}

unknown_agent_outcome(result, "block") if {
	result.decision == "block"
	result.violations[0].rule == "unknown-agent"
}

unknown_agent_outcome(result, "defaults") if {
	every violation in result.violations {
		violation.pack in policy.config.scope_all
	}
}

# ---- The decision a case is judged by ---------------------------------------------

# A Tool example or a Test case: the decision, as the agent gets it (at the case's
# moment, when it names one: `at`, or `policypacks test --at`).
outcome[test_id] := agent_decision(case) if {
	some test_id, case in cases
	case.pack == null
}

# A pack's example: the decision of that pack alone. The input's table (its agent's, or
# the unknownAgents one) keeps only the pack: its level and enforcement for the agent,
# its rules that precedence leaves active (one another pack suppresses stays
# suppressed), its escalation routes. Tool bindings and waivers are left out: an example
# is an action judged by the pack as written, whatever the calendar says. The input
# contract and unknownAgents still apply.
outcome[test_id] := result if {
	some test_id, case in cases
	is_string(case.pack)

	# regal ignore:with-outside-test-context
	table := policy.precedence.input_table with input as case.input

	# regal ignore:with-outside-test-context
	groups := policy.precedence.input_groups with input as case.input

	# regal ignore:with-outside-test-context
	result := policy.decision with input as case.input
		with policy.precedence.input_table as pack_table(whole_table(table), case.pack)
		with policy.precedence.input_groups as pack_groups(groups, case.pack)
		with policy.lib.tools.called as false
		with policy.lib.tools.violation as set()
		with policy.config.waivers as {}
}

# An agent's table with the base (config.resolved.base, the scope-all packs) merged in,
# when the table uses it: narrowed to one pack, it must stand alone.
whole_table(table) := object.union(table, {
	"base": false,
	"packs": object.union(policy.config.resolved.base.packs, table.packs),
}) if {
	table.base
} else := table

# An agent's table (config.resolved, precedence.rego) narrowed to one pack. Its rules
# are narrowed where the decision reads them (pack_groups); an undeclared agent under
# unknownAgents: block stays blocked.
pack_table(table, pack_id) := {
	"blocked": object.get(table, "blocked", false),
	"precedence": table.precedence,
	"base": false,
	"packs": object.filter(table.packs, {pack_id}),
	"suppressed": [entry | some entry in table.suppressed; entry.pack == pack_id],
	"routes": {pack_id: {rule_id: narrowed |
		some rule_id, candidates in object.get(table.routes, pack_id, {})
		narrowed := [c | some c in candidates; policy.config.rules.escalation[c[1]].pack == pack_id]
		count(narrowed) > 0
	}},
}

# The groups of rules that fire on the action (precedence.input_groups), with the rules
# of one pack only.
pack_groups(groups, pack_id) := {narrowed |
	some group in groups
	narrowed := {rule_type: refs |
		some rule_type, all_refs in group
		refs := [at | some at in all_refs; policy.config.rules[rule_type][at].pack == pack_id]
		count(refs) > 0
	}
}

# A whole-agent case's decision: now, or with OPA's clock at the case's moment.
agent_decision(case) := result if {
	case.now_ns == null

	# regal ignore:with-outside-test-context
	result := policy.decision with input as case.input
}

agent_decision(case) := result if {
	case.now_ns != null

	# regal ignore:with-outside-test-context
	result := policy.decision with input as case.input with time.now_ns as case.now_ns
}

# ---- Assertions: [how, decision field, expected value] ------------------------------

# The assertions of each case that its outcome breaks (all of them when it has none).
failed[test_id] := [assertion |
	some assertion in case.assertions
	not holds(outcome[test_id], assertion)
] if {
	some test_id, case in cases
}

holds(result, ["equals", name, want]) if object.get(result, name, null) == want

# "pack/rule" ids of a list of violations (violations, shadow, waived).
holds(result, ["ids", name, want]) if ids(object.get(result, name, [])) == {id | some id in want}

holds(result, ["ids_include", name, want]) if {
	got := ids(object.get(result, name, []))
	every id in want {
		id in got
	}
}

holds(result, ["ids_exclude", name, want]) if {
	got := ids(object.get(result, name, []))
	every id in want {
		not id in got
	}
}

# Objects in any order (obligations).
holds(result, ["objects", name, want]) if sort(object.get(result, name, [])) == sort(want)

holds(result, ["objects_include", name, want]) if {
	got := object.get(result, name, [])
	every part in want {
		some element in got
		has_part(element, part)
	}
}

holds(result, ["objects_exclude", name, want]) if {
	got := object.get(result, name, [])
	every part in want {
		every element in got {
			not has_part(element, part)
		}
	}
}

# null, or an object whose listed keys have the listed values (approval).
holds(result, ["subset", name, null]) if object.get(result, name, null) == null

holds(result, ["subset", name, want]) if {
	is_object(want)
	has_part(object.get(result, name, null), want)
}

# A Tool example's mapped action, without the tool call it came from.
holds(result, ["action", "action", want]) if object.remove(result.action, ["tool"]) == want

ids(violations) := {concat("/", [v.pack, v.rule]) | some v in violations}

# Every key of part is in element with the same value.
has_part(element, part) if {
	is_object(element)
	every key, value in part {
		element[key] == value
	}
}

# ---- One test per case ----------------------------------------------------------

test_example_caps_0 if count(failed.example_caps_0) == 0

test_case_bot_0 if count(failed.case_bot_0) == 0
