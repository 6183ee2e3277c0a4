# METADATA
# title: What OPA's decision log keeps of an agent's input
# description: |
#   The identity's part of OPA's decision-log mask (opa-config/log-mask makes
#   `system.log.mask` the union of every loaded identity's `mask`). An allowlist: the
#   documented structured fields stay, everything else in the input is erased, so free
#   text, addresses, file names and custom fields never reach the log (nor violation
#   messages, which may quote them). `input` here is
#   OPA's decision-log event; the agent's input is `input.input`. The labels that may
#   stay and the free-text fields the repository reads come from config.log_mask.
package policypacks.acme.lib.log

import data.policypacks.acme.config

# Each object the log may show, with the keys it keeps; any other key of it is erased,
# and the whole value when it is there but not an object.
shapes := [
	{"at": [], "keep": {"agent", "action", "usage"}},
	{"at": ["action"], "keep": action_keeps},
	{"at": ["action", "content"], "keep": {"tone", "topics"}},
	{"at": ["action", "recipient"], "keep": {"domain"}},
	{"at": ["action", "data"], "keep": data_keeps},
]

action_keeps := {"type", "amount", "currency", "api", "content", "recipient", "attachments", "data"}

data_keeps := {"classes", "records", "retention_days", "destination", "region", "consent", "purpose"}

attachment_keeps := {"size_bytes", "content_type"}

mask contains pointer(array.concat(shape.at, [key])) if {
	some shape in shapes
	node := object.get(input.input, shape.at, null)
	is_object(node)
	some key, _ in node
	not key in shape.keep
	pointable(key)
}

mask contains pointer(shape.at) if {
	some shape in shapes
	count(shape.at) > 0
	not is_object(object.get(input.input, shape.at, {}))
}

# OPA's mask pointers cannot name a key holding "/" or "~" (nor an empty one): the whole
# object holding such a key goes.
mask contains pointer(shape.at) if {
	some shape in shapes
	some key, _ in object.get(input.input, shape.at, {})
	not pointable(key)
}

# Usage is counters: a string anywhere in it is not.
mask contains pointer(["usage"]) if {
	walk(input.input.usage, [_, value])
	is_string(value)
}

# The free-text fields the repository's rules read, erased wherever they are.
mask contains pointer(path) if {
	some path in config.log_mask.fields
	object.get(input.input, path, null) != null
}

mask contains pointer(["action", "content", "tone"]) if {
	tone := input.input.action.content.tone
	not tone in config.log_mask.tone_bands
}

mask contains pointer(["action", "content", "topics"]) if {
	some topic in input.input.action.content.topics
	not topic in config.log_mask.topics
}

mask contains pointer(["action", "attachments"]) if {
	not is_array(object.get(input.input, ["action", "attachments"], []))
}

mask contains pointer(["action", "attachments", index]) if {
	some index, attachment in input.input.action.attachments
	not is_object(attachment)
}

mask contains pointer(["action", "attachments", index, key]) if {
	some index, attachment in input.input.action.attachments
	is_object(attachment)
	some key, _ in attachment
	not key in attachment_keeps
}

mask contains pointer(["action", "attachments", index]) if {
	some index, attachment in input.input.action.attachments
	some key, _ in attachment
	not pointable(key)
}

# A violation's message may quote what the agent sent (an attachment's name, a tone
# label): the log keeps which rule fired, the client's store keeps the message.
mask contains sprintf("/result/violations/%d/message", [index]) if {
	some index, violation in input.result.violations
	"message" in object.keys(violation)
}

# An obligation keeps only its type (a redaction's details describe the text).
mask contains sprintf("/result/obligations/%d/%s", [index, key]) if {
	some index, obligation in input.result.obligations
	some key, _ in obligation
	key != "type"
	pointable(key)
}

# A mask pointer into the event's `input` (its segments are all pointable).
pointer(path) := concat("/", array.concat(["", "input"], [sprintf("%v", [segment]) | some segment in path]))

pointable(key) if {
	is_string(key)
	key != ""
	not contains(key, "/")
	not contains(key, "~")
}
