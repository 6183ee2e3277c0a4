# METADATA
# title: "Rule type: formatting"
# description: |
#   The text (content.text) must be at most `max_length` characters long (count() of a
#   string counts Unicode code points), contain no `forbid` pattern and every `require`
#   pattern. Without a text there is nothing to check.
package policypacks.acme.rules.formatting

import data.policypacks.acme.config
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule] in checked
	is_number(rule.max_length)
	body := text.action_text(input.action)
	count(body) > rule.max_length
	message := sprintf("the text is %d characters long, over the limit of %d", [count(body), rule.max_length])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule] in checked
	body := text.action_text(input.action)
	some pattern in rule.forbid
	regex.match(pattern, body)
	message := sprintf("the text matches the forbidden pattern %q", [pattern])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule] in checked
	body := text.action_text(input.action)
	some pattern in rule.require
	not regex.match(pattern, body)
	message := sprintf("the text lacks the required pattern %q", [pattern])
}

# [pack id, rule] of the rules that judge this action's text. (An absent parameter is
# null: iterating it, or comparing with it, finds nothing.)
checked contains [pack_id, rule] if {
	text.action_text(input.action)
	some group in precedence.input_groups
	some [pack_id, i] in group.formatting
	rule := config.rules.formatting[pack_id][i]
}
