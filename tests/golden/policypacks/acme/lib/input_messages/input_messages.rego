# METADATA
# title: What is wrong with a malformed input
# description: |
#   SPEC section 4, "The input contract": the messages of an input that lib.input_contract
#   finds malformed, one per offending field path (`errors`). The tables below are
#   generated from the model in compiler/input_contract.py (which also writes
#   docs/input.md): per field its path, JSON type, constraints and how a message says
#   what was expected. They are literals, not data, because OPA converts data to Rego
#   values on every read. A decision walks them only for a malformed input.
package policypacks.acme.lib.input_messages

# The action the decision is about: today the input's own. (Where an action is derived
# from something else, such as a tool call, it is derived here and checked the same way.)
action := input.action

# ---- The tables (compiler/input_contract.py) ---------------------------------------

# How a message names each JSON type.
type_text := {
	"string": "a string",
	"number": "a number",
	"boolean": "true or false",
	"array": "a list",
	"object": "an object",
}

# The documented members of each object (`path` to it; [] is the input itself): per
# member its JSON type, constraints and pattern, and how a message says what it should
# be.
objects := [
	{
		"path": [],
		"fields": {
			"agent": {"constraints": ["non_empty"], "expected": "a non-empty string", "type": "string"},
			"action": {"expected": "an object", "type": "object"},
			"usage": {"expected": "an object", "type": "object"},
		},
	},
	{
		"path": ["action"],
		"fields": {
			"type": {"constraints": ["non_empty"], "expected": "a non-empty string", "type": "string"},
			"content": {"expected": "an object", "type": "object"},
			"amount": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"currency": {"expected": "three letters (a currency code)", "pattern": "^[A-Za-z]{3}$", "type": "string"},
			"recipient": {"expected": "an object", "type": "object"},
			"api": {"expected": "a string", "type": "string"},
			"attachments": {"expected": "a list", "type": "array"},
			"data": {"expected": "an object", "type": "object"},
		},
	},
	{
		"path": ["action", "content"],
		"fields": {
			"text": {"expected": "a string", "type": "string"},
			"subject": {"expected": "a string", "type": "string"},
			"tone": {"expected": "a string", "type": "string"},
			"topics": {"expected": "a list", "type": "array"},
		},
	},
	{
		"path": ["action", "recipient"],
		"fields": {
			"address": {"expected": "an address with exactly one @", "pattern": "^[^@]*@[^@]*$", "type": "string"},
			"domain": {"expected": "a string", "type": "string"},
		},
	},
	{
		"path": ["action", "data"],
		"fields": {
			"classes": {"expected": "a list", "type": "array"},
			"records": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"retention_days": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"destination": {"expected": "a string", "type": "string"},
			"region": {"expected": "a string", "type": "string"},
			"consent": {"expected": "true or false", "type": "boolean"},
			"purpose": {"expected": "a string", "type": "string"},
		},
	},
	{
		"path": ["usage"],
		"fields": {
			"spend": {"expected": "an object", "type": "object"},
			"actions": {"expected": "an object", "type": "object"},
			"apis": {"expected": "an object", "type": "object"},
		},
	},
	{
		"path": ["usage", "spend"],
		"fields": {
			"hour": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"day": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"month": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
		},
	},
]

# The lists and maps whose every member has a shape: `member`, and for members that are
# objects, their documented `fields`.
collections := [
	{
		"path": ["action", "content", "topics"],
		"each": "array",
		"member": {"expected": "a string", "type": "string"},
		"fields": {},
	},
	{
		"path": ["action", "attachments"],
		"each": "array",
		"member": {"expected": "an object", "type": "object"},
		"fields": {
			"name": {"expected": "a string", "type": "string"},
			"size_bytes": {"constraints": ["integer", "non_negative"], "expected": "a non-negative integer", "type": "number"},
			"content_type": {"expected": "a string", "type": "string"},
		},
	},
	{
		"path": ["action", "data", "classes"],
		"each": "array",
		"member": {"expected": "a string", "type": "string"},
		"fields": {},
	},
	{
		"path": ["usage", "actions"],
		"each": "object",
		"member": {"expected": "an object", "type": "object"},
		"fields": {
			"minute": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"hour": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"day": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
		},
	},
	{
		"path": ["usage", "apis"],
		"each": "object",
		"member": {"expected": "an object", "type": "object"},
		"fields": {
			"minute": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"hour": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
			"day": {"constraints": ["non_negative"], "expected": "a non-negative number", "type": "number"},
		},
	},
]

# Fields that must be present when their parent is an object.
required := [
	{
		"path": ["agent"],
		"expected": "a non-empty string",
	},
	{
		"path": ["action"],
		"expected": "an object",
	},
	{
		"path": ["action", "type"],
		"expected": "a non-empty string",
	},
]

# Fields that some action types need.
required_for := [{
	"path": ["action", "amount"],
	"types": ["spend", "refund"],
	"expected": "a non-negative number",
}]

# Domains that must be the domain of an address beside them.
domain_of := [{
	"path": ["action", "recipient", "domain"],
	"address": ["action", "recipient", "address"],
}]

# ---- The check -------------------------------------------------------------------

# The document the contract checks: the input, with `action` as its action.
checked := object.union(input, {"action": action}) if {
	is_object(input)
} else := input

# One message per offending field path, or one for an input that is not even an object.
errors := field_errors if is_object(input)

errors := {sprintf("input: expected an object, got %s", [type_name(input)])} if not is_object(input)

# A documented field of the wrong JSON type, or of the right one breaking a constraint.
field_errors contains message if {
	some group in objects
	parent := object.get(checked, group.path, null)
	is_object(parent)
	some name, field in group.fields
	value := parent[name]
	not fits(field, value)
	message := complaint(field, type_text[field.type], array.concat(group.path, [name]), value)
}

# The same for every member of a documented list or map...
field_errors contains message if {
	some group in collections
	collection := object.get(checked, group.path, null)
	type_name(collection) == group.each
	some key, member in collection
	not fits(group.member, member)
	message := complaint(group.member, type_text[group.member.type], array.concat(group.path, [key]), member)
}

# ... and for the documented fields of members that are objects.
field_errors contains message if {
	some group in collections
	collection := object.get(checked, group.path, null)
	type_name(collection) == group.each
	some key, member in collection
	is_object(member)
	some name, field in group.fields
	value := member[name]
	not fits(field, value)
	message := complaint(field, type_text[field.type], array.concat(group.path, [key, name]), value)
}

# A required field missing from an object that should hold it (agent, action,
# action.type; a missing parent has its own message).
field_errors contains sprintf("%s: expected %s, got nothing", [dotted(field.path), field.expected]) if {
	some field in required
	missing(checked, field.path)
}

# A field the action's type needs (spend and refund need an amount).
field_errors contains message if {
	some field in required_for
	checked.action.type in field.types
	missing(checked, field.path)
	template := "%s: expected %s (%s needs one), got nothing"
	message := sprintf(template, [dotted(field.path), field.expected, checked.action.type])
}

# A domain that is not the domain of the address beside it (case-insensitively).
field_errors contains message if {
	some field in domain_of
	address := object.get(checked, field.address, null)
	is_string(address)
	parts := split(address, "@")
	count(parts) == 2
	domain := object.get(checked, field.path, null)
	is_string(domain)
	lower(parts[1]) != lower(domain)
	template := "%s: expected %s (the domain of %s), got %s"
	message := sprintf(template, [dotted(field.path), shown(parts[1]), dotted(field.address), shown(domain)])
}

# Whether a value has the field's JSON type, pattern and constraints (checked first
# and apart from the message, which only a malformed input needs).
fits(field, value) if {
	type_name(value) == field.type
	not field.pattern
	not field.constraints
}

fits(field, value) if {
	type_name(value) == field.type
	regex.match(field.pattern, value)
	not field.constraints
}

fits(field, value) if {
	type_name(value) == field.type
	not field.pattern
	every constraint in field.constraints {
		satisfies(constraint, value)
	}
}

# What is wrong with a value that does not fit.
complaint(field, expected_type, path, value) := sprintf(template, [dotted(path), expected_type, type_name(value)]) if {
	type_name(value) != field.type
} else := sprintf(template, [dotted(path), field.expected, shown(value)])

template := "%s: expected %s, got %s"

# Missing at `path`, whose parent is an object (a missing parent has its own message).
missing(doc, path) if {
	is_object(object.get(doc, array.slice(path, 0, count(path) - 1), null))
	is_set(object.get(doc, path, set()))
}

satisfies("non_empty", value) if value != ""

satisfies("non_negative", value) if value >= 0

satisfies("integer", value) if floor(value) == value

# A path as messages write it: dot-separated, list indices as numbers.
dotted(path) := concat(".", [sprintf("%v", [segment]) | some segment in path])

# A value as a message shows it: numbers as they are, strings quoted (the first 40
# characters), anything else by its type.
shown(value) := sprintf("%v", [value]) if is_number(value)

shown(value) := json.marshal(value) if {
	is_string(value)
	count(value) <= 40
}

shown(value) := sprintf("%s...", [json.marshal(substring(value, 0, 40))]) if {
	is_string(value)
	count(value) > 40
}

shown(value) := type_name(value) if not type_name(value) in {"number", "string"}
