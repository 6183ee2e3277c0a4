# METADATA
# title: "Rule type: export"
# description: |
#   export_data actions of the rule's classes (all, when it lists none; data that does
#   not list its classes is covered) must go to a destination an allowed glob matches,
#   from an allowed region (compared exactly), with at most max_records
#   records. Each parameter that is set needs its field: missing counts as violated.
package policypacks.acme.rules.export

import data.policypacks.acme.config
import data.policypacks.acme.lib.data_governance
import data.policypacks.acme.precedence

# The export rules of the agent's packs that cover this export_data action.
covering contains [pack_id, rule] if {
	input.action.type == "export_data"
	some group in precedence.input_groups
	some at in group.export
	rule := config.rules.export[at]
	pack_id := rule.pack
	data_governance.in_scope(rule.classes, input.action)
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not carries(input.action, "destination", "string")
	some [pack_id, rule] in covering
	rule.allowed_destinations != null
	message := "export without a destination, where only allowed destinations may receive data"
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	destination := input.action.data.destination
	is_string(destination)
	some [pack_id, rule] in covering
	rule.allowed_destinations != null
	not glob_any(rule.allowed_destinations, destination)
	message := sprintf("export to %s: not an allowed destination", [destination])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not carries(input.action, "region", "string")
	some [pack_id, rule] in covering
	rule.allowed_regions != null
	message := "export without a region, where only allowed regions may export"
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	region := input.action.data.region
	is_string(region)
	some [pack_id, rule] in covering
	rule.allowed_regions != null
	not region in rule.allowed_regions
	message := sprintf("export from region %s: not an allowed region", [region])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not carries(input.action, "records", "number")
	some [pack_id, rule] in covering
	rule.max_records != null
	message := sprintf("export without a number of records, where at most %v are allowed", [rule.max_records])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	records := input.action.data.records
	is_number(records)
	some [pack_id, rule] in covering
	rule.max_records != null
	records > rule.max_records
	message := sprintf("export of %v records, over the limit of %v", [records, rule.max_records])
}

# Whether action.data.<field> is of the type named `kind` ("string", "number").
carries(action, field, kind) if type_name(action.data[field]) == kind

# Globs without delimiters: `*` matches any characters, "/" included.
glob_any(patterns, value) if {
	some pattern in patterns
	glob.match(pattern, null, value)
}
