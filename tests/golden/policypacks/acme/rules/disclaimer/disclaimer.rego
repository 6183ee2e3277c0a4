# METADATA
# title: "Rule type: disclaimer"
# description: |
#   When the trigger holds, the text must contain the disclaimer verbatim. The trigger:
#   one of `when_topics` is in content.topics (when listed) and the `when` condition
#   holds (when set; the compiler ships it in disjunctive normal form).
package policypacks.acme.rules.disclaimer

import data.policypacks.acme.config
import data.policypacks.acme.lib.conditions
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some [pack_id, i] in group.disclaimer
	rule := config.rules.disclaimer[pack_id][i]
	not contains(body, rule.text)
	on_topic(rule.when_topics, input.action.content)
	condition_holds(rule.when, input)
	message := sprintf("the text lacks the disclaimer %q", [rule.text])
}

on_topic(null, _)

on_topic(labels, content) if {
	some label in labels
	label in content.topics
}

condition_holds(null, _)

condition_holds(terms, document) if conditions.holds(terms, document)
