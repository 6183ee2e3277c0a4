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
	body := text.action_text(input.action)
	some [pack_id, i] in precedence.active_rules_of("formatting")
	rule := config.rules.formatting[pack_id][i]
	text.action_selected(rule, input.action)
	some check in ["max_length", "forbid", "require"]
	some message in failures(check, rule, body)
}

# The messages of one check's failures (none when its parameter is absent).
failures("max_length", rule, body) := {message |
	is_number(rule.max_length)
	count(body) > rule.max_length
	message := sprintf("the text is %d characters long, over the limit of %d", [count(body), rule.max_length])
}

failures("forbid", rule, body) := {message |
	some pattern in rule.forbid
	regex.match(pattern, body)
	message := sprintf("the text matches the forbidden pattern %q", [pattern])
}

failures("require", rule, body) := {message |
	some pattern in rule.require
	not regex.match(pattern, body)
	message := sprintf("the text lacks the required pattern %q", [pattern])
}
