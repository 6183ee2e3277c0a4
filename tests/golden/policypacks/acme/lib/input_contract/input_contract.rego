# METADATA
# title: The input contract
# description: |
#   SPEC section 4, "The input contract": before any rule, the input is checked against
#   the shape SPEC documents, the model in compiler/input_contract.py (which also writes
#   docs/input.md). `valid` is the verdict, one rule body per check; `violation` is the
#   one block violation of a malformed input, which main.rego decides before any rule,
#   worded by lib.input_messages.
package policypacks.acme.lib.input_contract

import data.policypacks.acme.lib.input_messages

# One message per offending field path (lib.input_messages).
errors := input_messages.errors

# The agent the decision names: the input's, when it is a string.
default agent := null

agent := input.agent if is_string(input.agent)

# The verdict: one rule body per check of the model (compiler/input_contract.py,
# fast_checks), each a lookup that fails at once where the input has no such field. They
# say what lib.input_messages' tables say (tests/test_input_contract.py holds the two to the
# same verdict); the tables are walked only for a malformed input, to word its message.
valid if not malformed

# input
malformed if {
	not is_object(input)
}

# agent
malformed if {
	value := input.agent
	not non_empty(value)
}

# agent (required)
malformed if {
	is_object(input)
	missing_key(input, "agent")
}

# action
malformed if {
	value := input.action
	not is_object(value)
}

# action (required)
malformed if {
	is_object(input)
	missing_key(input, "action")
}

# action.type
malformed if {
	value := input.action.type
	not non_empty(value)
}

# action.type (required)
malformed if {
	is_object(input.action)
	missing_key(input.action, "type")
}

# action.content
malformed if {
	value := input.action.content
	not is_object(value)
}

# action.content.text
malformed if {
	value := input.action.content.text
	not is_string(value)
}

# action.content.subject
malformed if {
	value := input.action.content.subject
	not is_string(value)
}

# action.content.tone
malformed if {
	value := input.action.content.tone
	not is_string(value)
}

# action.content.topics
malformed if {
	value := input.action.content.topics
	not is_array(value)
}

# action.content.topics[]
malformed if {
	is_array(input.action.content.topics)
	some member in input.action.content.topics
	not is_string(member)
}

# action.amount
malformed if {
	value := input.action.amount
	not non_negative(value)
}

# action.amount (required for spend, refund)
malformed if {
	input.action.type in {"spend", "refund"}
	missing_key(input.action, "amount")
}

# action.currency
malformed if {
	value := input.action.currency
	not matching("^[A-Za-z]{3}$", value)
}

# action.recipient
malformed if {
	value := input.action.recipient
	not is_object(value)
}

# action.recipient.address
malformed if {
	value := input.action.recipient.address
	not matching("^[^@]*@[^@]*$", value)
}

# action.recipient.domain
malformed if {
	value := input.action.recipient.domain
	not is_string(value)
}

# action.recipient.domain (the domain of action.recipient.address)
malformed if {
	address := input.action.recipient.address
	is_string(address)
	parts := split(address, "@")
	count(parts) == 2
	domain := input.action.recipient.domain
	is_string(domain)
	lower(parts[1]) != lower(domain)
}

# action.api
malformed if {
	value := input.action.api
	not is_string(value)
}

# action.attachments
malformed if {
	value := input.action.attachments
	not is_array(value)
}

# action.attachments[]
malformed if {
	is_array(input.action.attachments)
	some member in input.action.attachments
	not is_object(member)
}

# action.attachments[].name
malformed if {
	is_array(input.action.attachments)
	some member in input.action.attachments
	value := member.name
	not is_string(value)
}

# action.attachments[].size_bytes
malformed if {
	is_array(input.action.attachments)
	some member in input.action.attachments
	value := member.size_bytes
	not non_negative_integer(value)
}

# action.attachments[].content_type
malformed if {
	is_array(input.action.attachments)
	some member in input.action.attachments
	value := member.content_type
	not is_string(value)
}

# action.data
malformed if {
	value := input.action.data
	not is_object(value)
}

# action.data.classes
malformed if {
	value := input.action.data.classes
	not is_array(value)
}

# action.data.classes[]
malformed if {
	is_array(input.action.data.classes)
	some member in input.action.data.classes
	not is_string(member)
}

# action.data.records
malformed if {
	value := input.action.data.records
	not non_negative(value)
}

# action.data.retention_days
malformed if {
	value := input.action.data.retention_days
	not non_negative(value)
}

# action.data.destination
malformed if {
	value := input.action.data.destination
	not is_string(value)
}

# action.data.region
malformed if {
	value := input.action.data.region
	not is_string(value)
}

# action.data.consent
malformed if {
	value := input.action.data.consent
	not is_boolean(value)
}

# action.data.purpose
malformed if {
	value := input.action.data.purpose
	not is_string(value)
}

# usage
malformed if {
	value := input.usage
	not is_object(value)
}

# usage.spend
malformed if {
	value := input.usage.spend
	not is_object(value)
}

# usage.spend.hour
malformed if {
	value := input.usage.spend.hour
	not non_negative(value)
}

# usage.spend.day
malformed if {
	value := input.usage.spend.day
	not non_negative(value)
}

# usage.spend.month
malformed if {
	value := input.usage.spend.month
	not non_negative(value)
}

# usage.actions
malformed if {
	value := input.usage.actions
	not is_object(value)
}

# usage.actions.*
malformed if {
	is_object(input.usage.actions)
	some member in input.usage.actions
	not is_object(member)
}

# usage.actions.*.minute
malformed if {
	is_object(input.usage.actions)
	some member in input.usage.actions
	value := member.minute
	not non_negative(value)
}

# usage.actions.*.hour
malformed if {
	is_object(input.usage.actions)
	some member in input.usage.actions
	value := member.hour
	not non_negative(value)
}

# usage.actions.*.day
malformed if {
	is_object(input.usage.actions)
	some member in input.usage.actions
	value := member.day
	not non_negative(value)
}

# usage.apis
malformed if {
	value := input.usage.apis
	not is_object(value)
}

# usage.apis.*
malformed if {
	is_object(input.usage.apis)
	some member in input.usage.apis
	not is_object(member)
}

# usage.apis.*.minute
malformed if {
	is_object(input.usage.apis)
	some member in input.usage.apis
	value := member.minute
	not non_negative(value)
}

# usage.apis.*.hour
malformed if {
	is_object(input.usage.apis)
	some member in input.usage.apis
	value := member.hour
	not non_negative(value)
}

# usage.apis.*.day
malformed if {
	is_object(input.usage.apis)
	some member in input.usage.apis
	value := member.day
	not non_negative(value)
}

non_empty(value) if {
	is_string(value)
	value != ""
}

non_negative(value) if {
	is_number(value)
	value >= 0
}

non_negative_integer(value) if {
	non_negative(value)
	floor(value) == value
}

matching(pattern, value) if {
	is_string(value)
	regex.match(pattern, value)
}

missing_key(doc, key) if is_set(object.get(doc, key, set()))

# The one violation of a malformed input.
violation := {
	"pack": "_system",
	"rule": "invalid-input",
	"type": "invalid_input",
	"category": "safety",
	"enforcement": "block",
	"level": "identity",
	"message": concat("; ", sort(errors)),
} if {
	not valid
}
