# METADATA
# title: "Rule type: pii"
# description: |
#   Personal data found in the text or subject must not go to a recipient outside the
#   rule's allowed domains (the compiler fills in the identity's internalDomains when
#   the rule lists none; no recipient counts as outside). on_match `violate` reports a
#   violation, `redact` an obligation; both list every finding as {entity, field, start,
#   end} (code points, end exclusive). A field too long to scan, or with too many
#   candidate spans, is a violation either way.
package policypacks.acme.rules.pii

import data.policypacks.acme.config
import data.policypacks.acme.lib.pii
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message, "findings": found} if {
	some [pack_id, rule, found] in exposures
	rule.on_match == "violate"
	message := describe(found, input.action)
}

# Fail closed: a field the detectors did not read (too long, or with too many candidate
# spans) may hold anything.
violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [field, value, result] in scans
	not result.findings
	some [pack_id, rule] in outgoing
	message := unscanned(field, count(value), pii.max_chars, pii.max_candidates)
}

unscanned(field, length, max_chars, _) := sprintf(template, [field, length, max_chars]) if {
	length > max_chars
	template := "%s has %d characters, over the %d the PII detectors read, so it was not scanned"
}

unscanned(field, length, max_chars, max_candidates) := sprintf(template, [field, max_candidates]) if {
	length <= max_chars
	template := concat(" ", [
		"%s has more than %d candidate spans (pattern matches and digit groups)",
		"for the PII detectors, so it was not scanned",
	])
}

obligation contains {"pack": pack_id, "rule": rule.id, "obligation": redact} if {
	some [pack_id, rule, found] in exposures
	rule.on_match == "redact"
	entities := sort({f.entity | some f in found})
	redact := object.union({"type": "redact", "entities": entities, "findings": found}, mask_of(rule))
}

mask_of(rule) := {"mask": rule.mask} if is_string(rule.mask)

mask_of(rule) := {} if not is_string(rule.mask)

# [pack id, rule, findings of the rule's detectors] for each rule whose detectors find
# something that the action sends outside the rule's allowed domains. Every detector's
# findings in the scanned fields are gathered once, for all the rules. (Most texts hold
# no personal data: they stop at the count.)
exposures contains [pack_id, rule, found] if {
	findings := [object.union(f, {"field": field}) |
		some [field, _, result] in scans
		some f in result.findings
	]
	count(findings) > 0
	some [pack_id, rule] in outgoing
	found := [f | some [_, _, f] in sort([[f.field, f.start, f] |
		some f in findings
		f.entity in rule.detect
	])]
	count(found) > 0
}

# [pack id, rule] for each pii rule that applies to the action and whose recipient is
# outside its allowed domains.
outgoing := [[pack_id, rule] |
	is_object(input.action.content)
	some group in precedence.input_groups
	some at in group.pii
	rule := config.rules.pii[at]
	pack_id := rule.pack
	not allowed_recipient(input.action, rule.allow_domains)
]

allowed_recipient(action, domains) if text.domain_in(text.recipient_domain(action), domains)

# [field, value, what the detectors make of it] for the text and the subject, only when
# some rule would report it: a field too long to read gets no findings (scan_of).
scans := [[field, value, scan_of(value)] |
	count(outgoing) > 0
	some field, key in {"content.text": "text", "content.subject": "subject"}
	value := input.action.content[key]
	is_string(value)
]

# (Only where an entity the outgoing rules detect can occur.)
scan_of(value) := pii.scan_for(value, detected) if count(value) <= pii.max_chars

scan_of(value) := {} if count(value) > pii.max_chars

# The entities the outgoing rules detect.
detected contains kind if {
	some [_, rule] in outgoing
	some kind in rule.detect
}

describe(found, action) := sprintf(template, [entity_list(found), domain]) if {
	domain := text.recipient_domain(action)
	template := "contains PII (%s) and goes to %s, outside the allowed domains"
} else := sprintf("contains PII (%s) and has no recipient domain, which counts as outside", [entity_list(found)])

entity_list(found) := concat(", ", sort({f.entity | some f in found}))
