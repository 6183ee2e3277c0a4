# METADATA
# title: "Rule type: disclaimer"
# description: |
#   When the trigger holds, the text must contain the disclaimer verbatim. The trigger:
#   one of `when_topics` is in content.topics (when listed) and the `when` condition
#   holds (the compiler ships it in disjunctive normal form, and an absent `when` as the
#   condition that always holds).
package policypacks.acme.rules.disclaimer

import data.policypacks.acme.config
import data.policypacks.acme.lib.conditions
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some at in group.disclaimer
	rule := config.rules.disclaimer[at]
	pack_id := rule.pack
	not contains(body, rule.text)
	on_topic(rule.when_topics, input.action.content)
	conditions.holds(rule.when, input)
	message := sprintf("the text lacks the disclaimer %q", [rule.text])
}

on_topic(null, _)

on_topic(labels, content) if {
	some label in labels
	label in content.topics
}
