# METADATA
# title: "Rule type: formatting"
# description: |
#   The text (content.text) must be at most `max_length` characters long (count() of a
#   string counts Unicode code points), contain no `forbid` pattern and every `require`
#   pattern. Without a text there is nothing to check. The compiler ships the `forbid`
#   patterns as one alternation too (`forbid_any`, null without any).
package policypacks.acme.rules.formatting

import data.policypacks.acme.config
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

# Each check walks the rules itself: cheaper for OPA than a set of them walked thrice.
# (An absent parameter is null: iterating it, or comparing with it, finds nothing.)
violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some at in group.formatting
	rule := config.rules.formatting[at]
	pack_id := rule.pack
	is_number(rule.max_length)
	count(body) > rule.max_length
	message := sprintf("the text is %d characters long, over the limit of %d", [count(body), rule.max_length])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some at in group.formatting
	rule := config.rules.formatting[at]
	pack_id := rule.pack
	is_string(rule.forbid_any)
	regex.match(rule.forbid_any, body) # every forbidden pattern at once: most texts stop here
	some pattern in rule.forbid
	regex.match(pattern, body)
	message := sprintf("the text matches the forbidden pattern %q", [pattern])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some at in group.formatting
	rule := config.rules.formatting[at]
	pack_id := rule.pack
	some pattern in rule.require
	not regex.match(pattern, body)
	message := sprintf("the text lacks the required pattern %q", [pattern])
}
