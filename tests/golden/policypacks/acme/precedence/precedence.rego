# METADATA
# title: Scope, enforcement and precedence
# description: |
#   SPEC section 3, for any agent. Every rule here is a function of an agent id (or of
#   what was computed for it), so the decision for input.agent and the effective view a
#   human inspects come from the same code. Only the agent's own packs are visited:
#   packs are found through config.scope_all, config.scoped[agent] and the agent's
#   attachments, never by scanning every pack of the identity.
package policypacks.acme.precedence

import data.policypacks.acme.config
import data.policypacks.acme.rules.escalation

# How strict an enforcement level (or a decision) is. Shadow mode counts for nothing: it
# never decides, and most_restrictive prefers any real level to it.
rank := {"allow": 0, "shadow": 0, "warn": 1, "require_approval": 2, "block": 3}

declared(agent_id) if config.agents[agent_id]

# The precedence the agent asks for: its own, or else the identity's.
requested_precedence(agent_id) := config.agents[agent_id].precedence

requested_precedence(agent_id) := config.identity.precedence if {
	not config.agents[agent_id].precedence
}

# The precedence that applies: agent_overrides only when the identity allows it.
applied_precedence(agent_id) := "identity_overrides" if {
	requested_precedence(agent_id) == "agent_overrides"
	not config.identity.allow_agent_overrides
} else := requested_precedence(agent_id)

scope_all_packs := {pack_id | some pack_id in config.scope_all}

# Packs attached at identity level. An undeclared agent (unknownAgents: defaults) gets
# only the scope-all packs, even where a pack's scope names it.
# (Direct references with an else, not object.get over config.scoped or config.agents:
# those would read the whole document on every call.)
identity_packs(agent_id) := scope_all_packs | {pack_id | some pack_id in config.scoped[agent_id]} if {
	declared(agent_id)
} else := scope_all_packs

# Packs the agent attaches itself in spec.packs.
agent_packs(agent_id) := object.keys(config.agents[agent_id].packs) if {
	declared(agent_id)
} else := set()

# The level of an attachment: level(attached at identity level, attached by the agent).
level(true, true) := "both"

level(true, false) := "identity"

level(false, true) := "agent"

# The enforcement the agent's attachment asks for, or else the pack's own.
asked_enforcement(agent_id, pack_id) := config.agents[agent_id].packs[pack_id].enforcement

asked_enforcement(agent_id, pack_id) := config.packs[pack_id].enforcement if {
	not config.agents[agent_id].packs[pack_id].enforcement
}

stricter(a, b) := a if rank[a] >= rank[b]

stricter(a, b) := b if rank[a] < rank[b]

# Pack enforcement for an agent, by level and applied precedence.
pack_enforcement(pack, "identity", _, _) := pack.enforcement

pack_enforcement(_, "agent", asked, _) := asked

pack_enforcement(pack, "both", _, "identity_overrides") := pack.enforcement

pack_enforcement(pack, "both", asked, "most_restrictive") := stricter(pack.enforcement, asked)

pack_enforcement(pack, "both", asked, "agent_overrides") := asked if pack.overridable

pack_enforcement(pack, "both", _, "agent_overrides") := pack.enforcement if not pack.overridable

# Why a pack has its enforcement, in words, for the effective view:
# why(level, applied precedence, pack overridable, attachment sets an enforcement).
why("identity", _, _, _) := "scope covers the agent: the pack's enforcement"

why("agent", _, _, true) := "attached by the agent: the attachment's enforcement"

why("agent", _, _, false) := "attached by the agent, which sets no enforcement: the pack's"

why("both", mode, overridable, sets_own) := sprintf("attached at both levels: %s", [both(mode, overridable, sets_own)])

both("identity_overrides", _, _) := "identity_overrides keeps the pack's enforcement"

both("most_restrictive", _, _) := "most_restrictive takes the stricter of pack and attachment"

both("agent_overrides", true, true) := "agent_overrides takes the attachment's enforcement"

both("agent_overrides", true, false) := "the attachment sets no enforcement: the pack's"

both("agent_overrides", false, _) := "the pack is not overridable: its own enforcement"

# Every pack attached to the agent: its level and the enforcement it has for the agent.
# A pack the agent does not attach itself is at identity level with its own enforcement
# (the scope-all ones computed once for all agents); only the agent's attachments go
# through the precedence.
packs(agent_id) := object.union_n([identity_only, by_agent_too]) if {
	mode := applied_precedence(agent_id)
	by_identity := identity_packs(agent_id)
	by_agent := agent_packs(agent_id)
	identity_only := identity_level(by_identity, by_agent)
	by_agent_too := {pack_id: attachment |
		some pack_id in by_agent
		lvl := level(pack_id in by_identity, true)

		# the two fields read, not the whole pack (its rules and their params)
		pack := {"enforcement": config.packs[pack_id].enforcement, "overridable": config.packs[pack_id].overridable}
		asked := asked_enforcement(agent_id, pack_id)
		attachment := {"level": lvl, "enforcement": pack_enforcement(pack, lvl, asked, mode)}
	}
}

# The packs attached at identity level only, at their own enforcement.
identity_level(by_identity, by_agent) := object.union(scope_all_attachments, scoped) if {
	count(by_agent & scope_all_packs) == 0
	scoped := {pack_id: identity_attachment(pack_id) | some pack_id in ((by_identity - scope_all_packs) - by_agent)}
} else := {pack_id: identity_attachment(pack_id) | some pack_id in (by_identity - by_agent)}

identity_attachment(pack_id) := {"level": "identity", "enforcement": config.packs[pack_id].enforcement}

# The scope-all packs of an agent that attaches none of them itself (evaluated once).
# (A comprehension, not an object rule: OPA evaluates a complete rule once per query,
# an object rule again for every pack id it is asked for.)
# regal ignore:prefer-set-or-object-rule
scope_all_attachments := {pack_id: identity_attachment(pack_id) | some pack_id in scope_all_packs}

# Why the agent's pack has its enforcement (for the effective view, not for decisions).
explain(agent_id, pack_id, attachment) := why(
	attachment.level,
	applied_precedence(agent_id),
	config.packs[pack_id].overridable,
	sets_enforcement(agent_id, pack_id),
)

# Whether the agent's attachment of the pack names an enforcement of its own.
default sets_enforcement(_, _) := false

sets_enforcement(agent_id, pack_id) if is_string(config.agents[agent_id].packs[pack_id].enforcement)

# Rules of the attached packs that share a conflict key with a rule of another pack,
# grouped by key. A pack attached at both levels counts as identity level. A rule in
# shadow mode for the agent is a member (it may lose) but never wins: a dry run must not
# change what other rules decide.
conflict_groups(attached) := {key: members |
	keyed := [member |
		some pack_id, attachment in attached
		some [key, rule_id, own] in keyed_rules[pack_id]
		member := {
			"key": key,
			"pack": pack_id,
			"rule": rule_id,
			"agent_only": attachment.level == "agent",
			"shadow": own_or(own, attachment.enforcement) == "shadow",
		}
	]
	some key in {member.key | some member in keyed}
	members := [member | some member in keyed; member.key == key]
	count({member.pack | some member in members}) > 1
}

# pack id -> [conflict key, rule id, the rule's own enforcement or null] of its rules
# that have a key: built once, not once per agent that attaches the pack.
# (A comprehension, not an object rule: OPA evaluates a complete rule once per query,
# an object rule again for every pack id it is asked for.)
# regal ignore:prefer-set-or-object-rule
keyed_rules := {pack_id: keyed |
	some pack_id, pack in config.packs
	keyed := [[rule.key, rule_id, object.get(rule, "enforcement", null)] |
		some rule_id, rule in pack.rules
		rule.key != null
	]
}

own_or(null, enforcement) := enforcement

own_or(own, _) := own if own != null

# Whether a pack is attached by the agent alone. Without one, neither identity_overrides
# (the losers are such rules) nor agent_overrides (the winners are) suppresses anything,
# and the conflict groups need not be built.
agent_only_pack(attached) if {
	some attachment in attached
	attachment.level == "agent"
}

# The first of the winning rules, by pack id then rule id.
first_winner(winners) := sprintf("%s/%s", sort([[w.pack, w.rule] | some w in winners])[0])

# Rules suppressed for the agent, whether or not the input violates them.
suppressed(_, "most_restrictive") := set()

suppressed(attached, "identity_overrides") := {entry |
	agent_only_pack(attached)
	some members in conflict_groups(attached)
	winners := [m | some m in members; not m.agent_only; not m.shadow]
	count(winners) > 0
	some loser in members
	loser.agent_only
	entry := {"pack": loser.pack, "rule": loser.rule, "by": first_winner(winners), "reason": "identity_overrides"}
}

suppressed(attached, "agent_overrides") := {entry |
	agent_only_pack(attached)
	some members in conflict_groups(attached)
	winners := [m | some m in members; m.agent_only; not m.shadow]
	count(winners) > 0
	some loser in members
	not loser.agent_only
	config.packs[loser.pack].overridable
	entry := {"pack": loser.pack, "rule": loser.rule, "by": first_winner(winners), "reason": "agent_overrides"}
}

# ---- The tables: all of the above, evaluated once per agent when the bundle is built ----

# `policypacks build` evaluates `tables` with `opa eval` over the data document and ships
# the result as config.resolved, so a decision looks its agent's table up instead of
# running the functions above. tests/test_resolved_tables.py checks that the shipped
# tables equal what these rules compute.
tables := {
	"agents": {agent_id: table(agent_id) | some agent_id, _ in config.agents},
	"base": {"packs": {pack_id: [a.level, a.enforcement] | some pack_id, a in base_packs}},
	"unknown": unknown_table,
}

# The scope-all packs as every agent that does not attach one of them itself has them:
# at identity level, with the pack's enforcement (what an undeclared agent gets). Shipped
# once as the base; an agent's own table lists only the packs it adds (`"base": true`), so
# 10,000 agents do not carry 10,000 copies of the same packs. Its rules are all of its
# active rules, the base's too, so a decision reads one grouping. Agents alike share one
# shipped table (compiler/resolve.py: packed), whose number the base does not change.
base_packs := packs(null)

# An undeclared agent (any input.agent no Agent document declares; null stands for all of
# them) gets the scope-all packs under unknownAgents: defaults, nothing under block: no
# rule, and the table says it is blocked (main.rego: system_violations).
unknown_table := table(null) if config.identity.unknown_agents == "defaults"

unknown_table := blocked_table if config.identity.unknown_agents == "block"

blocked_table := {
	"blocked": true,
	"precedence": config.identity.precedence,
	"base": false,
	"packs": {},
	"suppressed": [],
	"rules": by_firing({}),
	"routes": {},
}

# What a decision needs of one agent: the applied precedence, whether the base applies
# to it, its packs beyond the base (all of them without it) as [level, enforcement], the
# suppressed rules (sorted by pack, then rule), the active rules of all its packs grouped
# by what they fire on (by_firing) as positions in config.rules[type], and the
# escalation rules that may route each rule's violations (route_index). Numbers and
# pairs rather than objects: there is one table per agent alike, and OPA holds an object
# in far more memory than a pair, and a pair in more than a number.
table(agent_id) := {
	"precedence": mode,
	"base": with_base,
	"packs": {pack_id: [a.level, a.enforcement] | some pack_id, a in own},
	"suppressed": [entry | some [_, _, entry] in sort([[s.pack, s.rule, s] | some s in dropped])],
	"rules": by_firing(active_rules(attached, {[s.pack, s.rule] | some s in dropped})),
	"routes": route_index(attached),
} if {
	mode := applied_precedence(agent_id)
	attached := packs(agent_id)
	dropped := suppressed(attached, mode)
	with_base := shares_base(attached, dropped)
	own := beyond_base(attached, with_base)
}

# The base applies to an agent that has every scope-all pack exactly as the base has it
# (it attaches none of them itself) and none of their rules suppressed.
shares_base(attached, dropped) if {
	every pack_id, attachment in base_packs {
		attached[pack_id] == attachment
	}
	every entry in dropped {
		not entry.pack in scope_all_packs
	}
} else := false

beyond_base(attached, true) := object.remove(attached, scope_all_packs)

beyond_base(attached, false) := attached

# type -> positions in config.rules[type] of the attached packs' rules that are not
# dropped.
active_rules(attached, dropped) := {rule_type: refs |
	some rule_type in {rule_type | some pack_id, _ in attached; some rule_type, _ in rule_index[pack_id]}
	refs := [at |
		some pack_id, _ in attached
		some [at, rule_id] in rule_index[pack_id][rule_type]
		not [pack_id, rule_id] in dropped
	]
}

# The active rules (type -> positions in config.rules[type]) grouped by what each can
# fire on (config.fires_on, from its rule type's catalog module): `any` action, any action
# `carrying` a field (`content`, `data`, `attachments`, `tool`), or the listed `actions`
# (an action type -> the rules that list it, and those of `any`: an action of a listed
# type reads that group alone). A decision takes the groups its action fires
# (input_groups), so a rule never checks its own `actions`, and a type none of whose
# rules can fire on the action is never evaluated.
by_firing(rules) := {
	"any": anywhere,
	"carrying": {field: firing(ons, field) | some field in carried(ons)},
	"actions": {action: joined(listing(ons, action), anywhere) | some action in listed(ons)},
} if {
	# [type, position, what it fires on] of each rule: config.fires_on read once per rule
	ons := [[rule_type, at, config.fires_on[rule_type][at]] |
		some rule_type, refs in rules
		some at in refs
	]
	anywhere := firing(ons, "any")
}

# Two groups (type -> positions) as one.
joined(group, other) := {rule_type: array.concat(object.get(group, rule_type, []), object.get(other, rule_type, [])) |
	some rule_type in (object.keys(group) | object.keys(other))
}

# The rules that fire on `on`: "any" action, or any action carrying that field.
firing(ons, on) := {rule_type: refs |
	some rule_type in {t | some [t, _, fires_on] in ons; fires_on == on}
	refs := [at | some [t, at, fires_on] in ons; t == rule_type; fires_on == on]
}

# The rules that list the action type.
listing(ons, action) := {rule_type: refs |
	some rule_type in {t | some [t, _, fires_on] in ons; lists(fires_on, action)}
	refs := [at | some [t, at, fires_on] in ons; t == rule_type; lists(fires_on, action)]
}

lists(fires_on, action) if {
	is_array(fires_on)
	action in fires_on
}

# The action fields some of the rules need the action to carry.
carried(ons) := {fires_on |
	some [_, _, fires_on] in ons
	is_string(fires_on)
	fires_on != "any"
}

# The action types some of the rules list.
listed(ons) := {action |
	some [_, _, fires_on] in ons
	is_array(fires_on)
	some action in fires_on
}

# pack id -> rule type -> [position in config.rules[type], rule id] of its rules, in
# the pack's order (config.packs holds each rule's position as `at`): built once (a
# complete rule, which OPA evaluates once per query), so a table visits its own packs'
# rules, never every rule type or every pack.
# (A comprehension, not an object rule: OPA evaluates a complete rule once per query,
# an object rule again for every pack id it is asked for.)
# regal ignore:prefer-set-or-object-rule
rule_index := {pack_id: by_type |
	some pack_id, pack in config.packs
	by_type := {rule_type: sort([[rule.at, rule_id] |
		some rule_id, rule in pack.rules
		rule.type == rule_type
	]) |
		some rule_type in {rule.type | some rule in pack.rules}
	}
}

# Escalation rules of the attached packs (SPEC: suppressed or not), largest priority
# first, then pack id, then rule order.
routes(attached) := [at |
	some [_, _, _, at] in sort([[0 - rule.priority, pack_id, rule.order, at] |
		some pack_id, _ in attached
		some [at, _] in rule_index[pack_id].escalation
		rule := config.rules.escalation[at]
	])
]

# pack id -> rule id -> [[position, at, actions]]: for each rule of the attached packs,
# the escalation rules (config.rules.escalation[at]) whose match a violation of it
# satisfies in all but `actions` (rules.escalation.matches_rule), at their
# position in the order they win (routes). A decision routes its require_approval
# violations through these entries alone, checking only `actions`. A rule that no
# escalation rule can route has no entry.
route_index(attached) := {pack_id: by_rule |
	ordered := routes(attached)
	count(ordered) > 0 # most agents have no escalation rule: no rule to visit
	some pack_id, _ in attached
	pack := config.packs[pack_id]
	by_rule := {rule_id: candidates |
		some rule_id, rule in pack.rules
		rule.type != "escalation"
		candidates := [[position, at, route.match.actions] |
			some position, at in ordered
			route := config.rules.escalation[at]
			escalation.matches_rule(route.match, pack_id, rule_id, pack.category)
		]
		count(candidates) > 0
	}
	count(by_rule) > 0
}

# ---- The agent of the input: its table -------------------------------------------

input_agent := object.get(input, "agent", null)

# (config.resolved.agents holds, for every declared agent and only for them, the
# position of its table in config.resolved.tables: agents alike share one table.)
input_table := table if {
	table := config.resolved.tables[config.resolved.agents[input.agent]]
} else := config.resolved.unknown

# [level, enforcement] of one of the agent's packs: its table's, else the base's. (A
# function of two lookups: a decision asks for one pack at a time. Only the packs of
# rules active for the agent are asked for, and those of a table without the base are all
# in the table, so the base is never read for it.)
input_pack(pack_id) := input_table.packs[pack_id] if {
	is_string(pack_id) # the head's lookup decides: undefined, and the base's is taken
} else := config.resolved.base.packs[pack_id]

# The groups (type -> positions in config.rules[type]) of the agent's active rules
# (by_firing) that fire on the input's action: its type's (which holds the rules of any
# action too), or else those of any action, and those of each field the action carries.
# No rule is in two of them.
# (Each group is looked up by its field, from the catalog's list of them: OPA's default
# store would convert every group of the table to iterate them, some 90 allocations.)
input_groups := array.concat(
	[object.get(grouping.actions, input.action.type, grouping.any)],
	[group |
		some field in {"attachments", "content", "data", "tool"}
		input.action[field] != null
		group := grouping.carrying[field]
	],
) if {
	grouping := input_table.rules
}

# The types of the agent's unsuppressed rules that can fire on the input's action:
# main.rego evaluates only these, and each walks only its own rules of the groups
# (`some group in precedence.input_groups; some at in group.<type>`, the positions in
# config.rules[type]).
input_types contains rule_type if {
	some group in input_groups
	some rule_type, _ in group
}
