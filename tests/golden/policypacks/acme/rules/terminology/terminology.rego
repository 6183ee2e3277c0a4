# METADATA
# title: "Rule type: terminology"
# description: |
#   No term of `replace` or `forbid` may appear in the text. The compiler ships each term
#   as {term, pattern, preferred}: a whole-word, case-insensitive pattern of the literal
#   term, and the preferred replacement (null for a forbidden term).
package policypacks.acme.rules.terminology

import data.policypacks.acme.config
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some at in group.terminology
	rule := config.rules.terminology[at]
	pack_id := rule.pack
	regex.match(rule.any, body) # one alternation of every term: most texts stop here
	some entry in rule.terms
	regex.match(entry.pattern, body)
	message := advice(entry)
}

advice(entry) := sprintf("use %q instead of %q", [entry.preferred, entry.term]) if entry.preferred != null

advice(entry) := sprintf("%q is a forbidden term", [entry.term]) if entry.preferred == null
