# METADATA
# title: Decision and effective policy of the identity
# description: |
#   SPEC section 5. The rule types under rules/ report what the input violates; this
#   module drops suppressed rules, gives each violation its enforcement, takes the
#   strictest as the decision and routes approvals.
# entrypoint: true
package policypacks.acme

# These are subpackages and the data document below this package, which Rego can only
# reach through an import; Regal takes them for rules of this package.
# regal ignore:pointless-import
import data.policypacks.acme.config

import data.policypacks.acme.lib.input_contract

# regal ignore:pointless-import
import data.policypacks.acme.precedence

# regal ignore:pointless-import
import data.policypacks.acme.rules

import data.policypacks.acme.lib.tools

# The violation of an agent no Agent document declares (unknownAgents: block).
unknown_agent_violation := {
	"pack": "_system",
	"rule": "unknown-agent",
	"type": "unknown_agent",
	"category": "safety",
	"enforcement": "block",
	"level": "identity",
	"message": sprintf("agent %v is not declared in this policy repository", [precedence.input_agent]),
}

# What the rule types found: {pack, rule, message}; one rule may report several. Each
# type with a rule that can fire on the action (precedence.input_types) is looked up by
# name, so a decision evaluates only those types' `violation` rules; the types walk only
# those rules, the agent's unsuppressed ones, so nothing here needs to drop suppressed
# findings. A malformed input (SPEC section 4, the input contract) reaches no rule, nor
# does an undeclared agent under unknownAgents: block (its table has no rule).
findings contains finding if {
	input_contract.valid
	some rule_type in precedence.input_types
	some finding in rules[rule_type].violation
}

# Each violated rule with the enforcement it has for this agent, as [pack, rule,
# enforcement].
violated_rules contains [finding.pack, finding.rule, rule_enforcement(finding.pack, finding.rule)] if {
	some finding in findings
}

# A violated rule's violation: type, category and level, its messages (or its own
# message) and the spans it reports. A function: only the violations, shadow and waived
# reports build one, each for its own rules.
violation_of(pack_id, rule_id, enforcement) := with_findings(base, spans) if {
	rule := config.violation_fields[pack_id][rule_id] # type, category, own message
	found := [f | some f in findings; f.pack == pack_id; f.rule == rule_id]
	[level, _] := precedence.input_pack(pack_id)
	base := {
		"pack": pack_id,
		"rule": rule_id,
		"type": rule.type,
		"category": rule.category,
		"enforcement": enforcement,
		"level": level,
		"message": object.get(rule, "message", concat("; ", sort([f.message | some f in found]))),
	}
	spans := [span | some f in found; some span in object.get(f, "findings", [])]
}

# What decides, as [pack, rule, enforcement]: each violated rule not in shadow mode and
# not lifted by a waiver in force, and the violations of no pack (system_violations).
# The outcome and a replay's summary need no more than this, so neither builds the
# messages and spans of the violations.
deciding contains [pack_id, rule_id, enforcement] if {
	some [pack_id, rule_id, enforcement] in violated_rules
	enforcement != "shadow"
	not waiver_in_force(pack_id, rule_id)
}

deciding contains [v.pack, v.rule, v.enforcement] if some v in system_violations

# The violations of no pack's rule (pack "_system"): an undeclared agent under
# unknownAgents: block, a malformed input (its one violation, whatever its agent), and a
# tool call that is malformed or has no binding (lib/tools; like every rule, only for an
# input that passes the input contract).
system_violations contains unknown_agent_violation if {
	input_contract.valid
	precedence.input_table.blocked # an undeclared agent's table under unknownAgents: block
}

system_violations contains input_contract.violation if not input_contract.valid

system_violations contains violation if {
	tools.called # first: an action that is no tool call skips the tool checks
	input_contract.valid
	some violation in tools.violation
}

# The spans a rule reports (pii), when it reports any.
with_findings(violation, found) := object.union(violation, {"findings": found}) if count(found) > 0

with_findings(violation, []) := violation

# Strictest first, then by pack id, then by rule id: the violations of no pack first, as
# they all block and "_system" sorts before every pack id, then those of the deciding
# rules in order, each built here only (the outcome never builds one).
violations := array.concat(
	[v | some [_, v] in sort([[v.rule, v] | some v in system_violations])],
	[violation_of(pack_id, rule_id, enforcement) |
		some [_, pack_id, rule_id, enforcement] in ordered
		pack_id != "_system"
	],
)

# What decides, strictest first, then by pack id, then by rule id.
ordered := sort([[0 - precedence.rank[e], p, r, e] | some [p, r, e] in deciding])

default outcome := "allow"

# (Folded into one rule, as the obligations below: each rule a decision evaluates costs
# it some fifteen allocations of its own, whatever the rule does.)
outcome := ["allow", "warn", "require_approval", "block"][max({precedence.rank[enforcement] |
	some [_, _, enforcement] in deciding
})]

# Only what deciding rules ask: a shadow rule or a waived one obliges to nothing. The
# rule types that give obligations (compiler/compile.py finds them in their modules) are
# asked only when the action fires one of their rules.
obligations := sort([o.obligation |
	input_contract.valid
	some rule_type in (precedence.input_types & {"pii", "signature"})
	some o in rules[rule_type].obligation
	rule_enforcement(o.pack, o.rule) != "shadow"
	not waiver_in_force(o.pack, o.rule)
])

# A rule's enforcement for the input's agent: its own, else its pack's for the agent.
rule_enforcement(pack_id, rule_id) := object.get(
	config.violation_fields[pack_id][rule_id],
	"enforcement",
	precedence.input_pack(pack_id)[1],
)

# ---- Shadow mode and waivers: reported, never deciding -------------------------------

# What shadow-mode rules would have reported (docs/shadow.md), by pack, then rule.
shadow := [violation_of(pack_id, rule_id, "shadow") |
	some [pack_id, rule_id, "shadow"] in sort(violated_rules)
	not waiver_in_force(pack_id, rule_id)
]

# Violations a waiver in force lifted, each with its waiver (docs/waivers.md).
waived := [object.union(violation, {"waiver": object.remove(waiver, {"expires_ns"})}) |
	some [pack_id, rule_id, enforcement] in sort(violated_rules)
	waiver := waiver_in_force(pack_id, rule_id)
	violation := violation_of(pack_id, rule_id, enforcement)
]

# The waiver that lifts the rule for the input's agent now: the one that expires last
# (config.waivers holds them latest first), while OPA's clock is before its expiry.
waiver_in_force(pack_id, rule_id) := waiver if {
	waiver := config.waivers[precedence.input_agent][pack_id][rule_id][0]
	time.now_ns() < waiver.expires_ns
}

# The escalation rules that may route the deciding require_approval violations (the
# agent's table holds them per rule, matched when the bundle was built; precedence.rego:
# route_index).
approval_candidates := [candidate |
	some [pack_id, rule_id, "require_approval"] in deciding
	some candidate in precedence.input_table.routes[pack_id][rule_id]
]

default approval := null

# The identity's escalation.admins (when it declares them) may resolve every route.
approval := object.union(
	rules.escalation.route(approval_candidates, input.action),
	object.filter(config.identity.escalation, {"admins"}),
) if {
	outcome == "require_approval"
}

default suppressed := []

# The agent's table holds them sorted by pack, then rule.
suppressed := precedence.input_table.suppressed if input_contract.valid

# A tool call is decided as the one action its binding maps it to (lib/tools): the rules
# see that action as input.action, and the decision shows it as `action`.
decision := action_decision if not tools.called

decision := object.union(decided, {"action": tools.action}) if {
	tools.called

	# The one place the decision replaces its input: deliberate, not a test double.
	# regal ignore:with-outside-test-context
	decided := action_decision with input.action as tools.action
}

action_decision := object.union(verdict, {
	"identity": config.identity.id,
	"agent": input_contract.agent,
	"suppressed": suppressed,
	"obligations": obligations,
	"revision": config.revision,
	"digest": digest,
})

# What the rules make of the action. One that no rule reports and the input contract,
# the agent and the tool checks let through -- most actions -- is allowed as it is: the
# decision skips the rules that would find nothing to decide, order, build, route or
# report (each costs a decision some fifteen allocations, a tenth of an allowed one in
# all). An obligation needs no violation (pii's redact), so they are asked either way.
verdict := {
	"decision": "allow",
	"allow": true,
	"violations": [],
	"approval": null,
	"shadow": [],
	"waived": [],
} if {
	count(findings) == 0
	count(system_violations) == 0
} else := {
	"decision": outcome,
	"allow": outcome in {"allow", "warn"},
	"violations": violations,
	"approval": approval,
	"shadow": shadow,
	"waived": waived,
}

# The content digest of the bundle that decides (as in its manifest): a revision names a
# commit, this the very build, which a replay can trust to decide again as it did
# (docs/replay.md). null in a tree that is not a built bundle.
default digest := null

digest := config.bundle.digest

# ---- What a replay compares --------------------------------------------------------

# `policypacks replay` compares a decision's outcome and each violation's pack, rule and
# enforcement (compiler/deploy/replay.py). This is that part of `decision` alone, from
# what decides (`deciding`, in the order of `violations`), so a replay of many thousand
# inputs builds no message, span, approval, obligation, shadow or waived report it would
# drop. tests/test_replay.py checks it against `decision`.
replayed := replay_summary if not tools.called

replayed := summary if {
	tools.called

	# As `decision` does: the one action the tool call's binding maps it to.
	# regal ignore:with-outside-test-context
	summary := replay_summary with input.action as tools.action
}

replay_summary := {
	"decision": outcome,
	"violations": [{"pack": pack_id, "rule": rule_id, "enforcement": enforcement} |
		some [_, pack_id, rule_id, enforcement] in ordered
	],
}

# ---- Effective policy: what applies to a declared agent, and why -----------------

effective[agent_id] := view if {
	some agent_id, _ in config.agents
	view := effective_view(agent_id)
}

effective_view(agent_id) := {
	"agent": agent_id,
	"precedence": {
		"requested": precedence.requested_precedence(agent_id),
		"applied": mode,
		"note": precedence_note(precedence.requested_precedence(agent_id), mode),
	},
	"packs": [pack_view(agent_id, pack_id, attachment, suppressed) | some pack_id, attachment in attached],
	"suppressed": sort(suppressed),
	"waivers": agent_waivers(agent_id),
} if {
	attached := precedence.packs(agent_id)
	mode := precedence.applied_precedence(agent_id)
	suppressed := precedence.suppressed(attached, mode)
}

# Every waiver of the agent, in force or not (by OPA's clock when the view is asked).
agent_waivers(agent_id) := [entry | some [_, _, _, entry] in sort([[pack_id, rule_id, w.id, entry] |
	some pack_id, by_rule in object.get(config.waivers, agent_id, {})
	some rule_id, waivers in by_rule
	some w in waivers
	entry := object.union(object.remove(w, {"expires_ns"}), {
		"pack": pack_id,
		"rule": rule_id,
		"in_force": time.now_ns() < w.expires_ns,
	})
])]

precedence_note(asked, asked) := "as requested"

precedence_note("agent_overrides", "identity_overrides") := concat(" ", [
	"agent_overrides requested, but the identity does not set allowAgentOverrides:",
	"treated as identity_overrides",
])

pack_view(agent_id, pack_id, attachment, suppressed) := {
	"pack": pack_id,
	"name": pack.name,
	"category": pack.category,
	"level": attachment.level,
	"enforcement": attachment.enforcement,
	"why": precedence.explain(agent_id, pack_id, attachment),
	"overridable": pack.overridable,
	"rules": [rule_view(pack_id, rule_id, pack.rules[rule_id], attachment, suppressed) |
		some [_, rule_id] in sort([[rule.order, rule_id] | some rule_id, rule in pack.rules])
	],
} if {
	pack := config.packs[pack_id]
}

rule_view(pack_id, rule_id, rule, attachment, suppressed) := {
	"rule": rule_id,
	"type": rule.type,
	"enforcement": object.get(rule, "enforcement", attachment.enforcement),
	"key": rule.key,
	"params": rule.params,
	"suppressed_by": [s.by | some s in suppressed; s.pack == pack_id; s.rule == rule_id],
}

# ---- Conflict groups per declared agent, and how precedence resolves them --------

conflicts[agent_id] := groups if {
	some agent_id, _ in config.agents
	attached := precedence.packs(agent_id)
	suppressed := precedence.suppressed(attached, precedence.applied_precedence(agent_id))
	groups := [group |
		some key, members in precedence.conflict_groups(attached)
		group := {
			"key": key,
			"precedence": precedence.applied_precedence(agent_id),
			"rules": sort([member_view(m, attached, suppressed) | some m in members]),
		}
	]
}

member_view(member, attached, suppressed) := {
	"pack": member.pack,
	"rule": member.rule,
	"level": attached[member.pack].level,
	"outcome": outcome_of(member, suppressed),
}

outcome_of(member, suppressed) := sprintf("suppressed by %s", [s.by]) if {
	some s in suppressed
	s.pack == member.pack
	s.rule == member.rule
} else := "applies"
