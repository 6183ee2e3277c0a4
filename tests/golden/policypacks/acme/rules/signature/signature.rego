# METADATA
# title: "Rule type: signature"
# description: |
#   The text of every action of the rule's `actions` (default: send_email) must end with
#   the signature; trailing whitespace of both is ignored (the compiler ships the
#   signature without it as `ending`). An action with no content or no text lacks its
#   signature. A violation comes with the obligation to append the signature as written.
package policypacks.acme.rules.signature

import data.policypacks.acme.config
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule] in unsigned
	message := describe(input.action, rule.text)
}

obligation contains {"pack": pack_id, "rule": rule.id, "obligation": append} if {
	some [pack_id, rule] in unsigned
	append := {"type": "append_signature", "text": rule.text}
}

# [pack id, rule] of the signature rules this action breaks.
unsigned contains [pack_id, rule] if {
	some group in precedence.input_groups
	some at in group.signature
	rule := config.rules.signature[at]
	pack_id := rule.pack
	not signed(input.action, rule.ending)
}

signed(action, ending) if endswith(trim_right(text.action_text(action), " \t\r\n\f\u000b"), ending)

describe(action, signature) := sprintf("the text does not end with the signature %q", [signature]) if {
	text.action_text(action)
} else := sprintf("there is no text, so no signature %q", [signature])
