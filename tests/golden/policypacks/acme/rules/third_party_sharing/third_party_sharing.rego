# METADATA
# title: "Rule type: third_party_sharing"
# description: |
#   For the rule's actions (default share_data): a recipient outside the identity's
#   internalDomains must be in allowed_domains (when set), and the data going there
#   must carry no blocked class. Fail closed: no recipient domain, or data that does not
#   list its classes while blocked_classes is set, is a violation.
package policypacks.acme.rules.third_party_sharing

import data.policypacks.acme.config
import data.policypacks.acme.lib.data_governance
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

# The sharing rules of the agent's packs that select this action.
selecting contains [pack_id, rule] if {
	some group in precedence.input_groups
	some at in group.third_party_sharing
	rule := config.rules.third_party_sharing[at]
	pack_id := rule.pack
}

# The recipient's domain when it lies outside the identity's internalDomains (undefined
# for an internal recipient or none).
third_party := domain if {
	domain := recipient_domain(input.action)
	not text.domain_in(domain, config.identity.internal_domains)
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not has_recipient(input.action)
	some [pack_id, rule] in selecting
	template := "%v without a recipient domain: cannot tell whether data leaves the organisation"
	message := sprintf(template, [input.action.type])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	third_party
	some [pack_id, rule] in selecting
	rule.allowed_domains != null
	not text.domain_in(third_party, rule.allowed_domains)
	message := sprintf("shares data with %s, a third party that is not allowed", [third_party])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	third_party
	some [pack_id, rule] in selecting
	rule.blocked_classes != null
	blocked := data_governance.listed_classes(rule.blocked_classes, input.action)
	count(blocked) > 0
	message := sprintf("shares %s data with %s, a third party", [concat(", ", blocked), third_party])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	third_party
	data_governance.unlabelled(input.action)
	some [pack_id, rule] in selecting
	rule.blocked_classes != null
	message := sprintf("shares data that does not list its classes with %s, a third party", [third_party])
}

# The recipient's domain; an empty one ("bob@") is none.
recipient_domain(action) := domain if {
	domain := text.recipient_domain(action)
	domain != ""
}

has_recipient(action) if recipient_domain(action)
