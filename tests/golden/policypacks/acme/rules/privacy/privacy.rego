# METADATA
# title: "Rule type: privacy"
# description: |
#   For every action that carries a data object: classes of require_consent_for need
#   consent: true, and with allowed_purposes set the purpose must be one of them.
#   Fail closed: data that does not list its classes needs consent when any class does,
#   and a missing purpose is not allowed.
package policypacks.acme.rules.privacy

import data.policypacks.acme.config
import data.policypacks.acme.lib.data_governance
import data.policypacks.acme.precedence

# The privacy rules of the agent's packs, when the action carries data.
covering contains [pack_id, rule] if {
	is_object(input.action.data)
	some group in precedence.input_groups
	some at in group.privacy
	rule := config.rules.privacy[at]
	pack_id := rule.pack
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not consented(input.action)
	some [pack_id, rule] in covering
	rule.require_consent_for != null
	sensitive := data_governance.listed_classes(rule.require_consent_for, input.action)
	count(sensitive) > 0
	message := sprintf("uses %s data without consent: true", [concat(", ", sensitive)])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not consented(input.action)
	data_governance.unlabelled(input.action)
	some [pack_id, rule] in covering
	rule.require_consent_for != null
	template := "uses data that does not list its classes without consent: true (needed for %s)"
	message := sprintf(template, [concat(", ", rule.require_consent_for)])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not has_purpose(input.action)
	some [pack_id, rule] in covering
	rule.allowed_purposes != null
	message := "uses data without a purpose, where only allowed purposes may use it"
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	purpose := input.action.data.purpose
	is_string(purpose)
	some [pack_id, rule] in covering
	rule.allowed_purposes != null
	not purpose in rule.allowed_purposes
	message := sprintf("uses data for %s, not an allowed purpose", [purpose])
}

consented(action) if action.data.consent == true

has_purpose(action) if is_string(action.data.purpose)
