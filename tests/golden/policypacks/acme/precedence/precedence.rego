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
packs(agent_id) := {pack_id: attachment |
	mode := applied_precedence(agent_id)
	by_identity := identity_packs(agent_id)
	by_agent := agent_packs(agent_id)
	some pack_id in (by_identity | by_agent)
	pack := config.packs[pack_id]
	lvl := level(pack_id in by_identity, pack_id in by_agent)
	asked := asked_enforcement(agent_id, pack_id)
	attachment := {"level": lvl, "enforcement": pack_enforcement(pack, lvl, asked, mode)}
}

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
		some rule_id, rule in config.packs[pack_id].rules
		rule.key != null
		member := {
			"key": rule.key,
			"pack": pack_id,
			"rule": rule_id,
			"agent_only": attachment.level == "agent",
			"shadow": object.get(rule, "enforcement", attachment.enforcement) == "shadow",
		}
	]
	some key in {member.key | some member in keyed}
	members := [member | some member in keyed; member.key == key]
	count({member.pack | some member in members}) > 1
}

# The first of the winning rules, by pack id then rule id.
first_winner(winners) := sprintf("%s/%s", sort([[w.pack, w.rule] | some w in winners])[0])

# Rules suppressed for the agent, whether or not the input violates them.
suppressed(_, "most_restrictive") := set()

suppressed(attached, "identity_overrides") := {entry |
	some members in conflict_groups(attached)
	winners := [m | some m in members; not m.agent_only; not m.shadow]
	count(winners) > 0
	some loser in members
	loser.agent_only
	entry := {"pack": loser.pack, "rule": loser.rule, "by": first_winner(winners), "reason": "identity_overrides"}
}

suppressed(attached, "agent_overrides") := {entry |
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
	"unknown": unknown_table,
}

# An undeclared agent (any input.agent no Agent document declares; null stands for all of
# them) gets the scope-all packs under unknownAgents: defaults, nothing under block.
unknown_table := table(null) if config.identity.unknown_agents == "defaults"

unknown_table := empty_table if config.identity.unknown_agents == "block"

empty_table := {"precedence": config.identity.precedence, "packs": {}, "suppressed": [], "rules": {}, "routes": []}

# What a decision needs of one agent: the applied precedence, the attached packs as
# [level, enforcement], the suppressed rules (sorted by pack, then rule), the active rules
# by type as [pack id, position in config.rules[type][pack id]], and the escalation rules
# of the attached packs in the order they win. Pairs rather than objects: there is one
# table per agent, and OPA holds an object in far more memory than a pair.
table(agent_id) := {
	"precedence": mode,
	"packs": {pack_id: [a.level, a.enforcement] | some pack_id, a in attached},
	"suppressed": [entry | some [_, _, entry] in sort([[s.pack, s.rule, s] | some s in dropped])],
	"rules": active_rules(attached, {[s.pack, s.rule] | some s in dropped}),
	"routes": routes(attached),
} if {
	mode := applied_precedence(agent_id)
	attached := packs(agent_id)
	dropped := suppressed(attached, mode)
}

active_rules(attached, dropped) := {rule_type: refs |
	some rule_type, by_pack in config.rules
	refs := [[pack_id, i] |
		some pack_id, _ in attached
		some i, rule in by_pack[pack_id]
		not [pack_id, rule.id] in dropped
	]
	count(refs) > 0
}

# Escalation rules of the attached packs (SPEC: suppressed or not), largest priority
# first, then pack id, then rule order.
routes(attached) := [[pack_id, i] |
	some [_, pack_id, _, i] in sort([[0 - rule.priority, pack_id, rule.order, i] |
		some pack_id, _ in attached
		some i, rule in config.rules.escalation[pack_id]
	])
]

# ---- The agent of the input: its table -------------------------------------------

input_agent := object.get(input, "agent", null)

unknown_agent if not declared(input_agent)

# An undeclared agent under unknownAgents: block gets nothing but that block.
blocked_unknown if {
	unknown_agent
	config.identity.unknown_agents == "block"
}

input_table := config.resolved.agents[input_agent] if {
	declared(input_agent)
} else := config.resolved.unknown

# pack id -> [level, enforcement] of the agent's packs.
input_packs := input_table.packs

input_suppressed := input_table.suppressed

# The agent's unsuppressed rules of each type: [pack id, i] of config.rules[type][pack id][i].
input_rules := input_table.rules
