# METADATA
# title: "Rule type: pii"
# description: |
#   Personal data found in the text or subject must not go to a recipient outside the
#   rule's allowed domains (the compiler fills in the identity's internalDomains when
#   the rule lists none; no recipient counts as outside). on_match `violate` reports a
#   violation; `redact` an obligation naming the entity types to redact instead.
package policypacks.acme.rules.pii

import data.policypacks.acme.config
import data.policypacks.acme.lib.pii
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule, entities] in exposures
	rule.on_match == "violate"
	message := describe(entities, input.action)
}

obligation contains {"pack": pack_id, "rule": rule.id, "obligation": redact} if {
	some [pack_id, rule, entities] in exposures
	rule.on_match == "redact"
	redact := {"type": "redact", "entities": entities}
}

# [pack id, rule, sorted entity types] for each rule whose detectors find something that
# the action sends outside the rule's allowed domains.
exposures contains [pack_id, rule, sort(entities)] if {
	is_object(input.action.content)
	some [pack_id, i] in precedence.input_rules.pii
	rule := config.rules.pii[pack_id][i]
	text.action_selected(rule, input.action)
	not allowed_recipient(input.action, rule.allow_domains)
	entities := {kind | some value in scanned(input.action.content); some kind in pii.found(rule.detect, value)}
	count(entities) > 0
}

allowed_recipient(action, domains) if text.domain_in(text.recipient_domain(action), domains)

# What the detectors read: the text and the subject.
scanned(content) := [value | some field in ["text", "subject"]; value := content[field]; is_string(value)]

describe(entities, action) := sprintf(template, [concat(", ", entities), domain]) if {
	domain := text.recipient_domain(action)
	template := "contains PII (%s) and goes to %s, outside the allowed domains"
} else := sprintf("contains PII (%s) and has no recipient domain, which counts as outside", [concat(", ", entities)])
