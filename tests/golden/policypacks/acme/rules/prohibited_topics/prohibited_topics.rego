# METADATA
# title: "Rule type: prohibited_topics"
# description: |
#   A topic is raised when one of its keywords appears in the text (whole word,
#   case-insensitive; the compiler turns each keyword into an escaped \b...\b pattern),
#   one of its patterns matches, or the action labels itself with the topic's name. The
#   compiler ships each topic's keywords and patterns as one alternation (`pattern`, null
#   when the topic has neither), and those of all the rule's topics as one more (`any`).
package policypacks.acme.rules.prohibited_topics

import data.policypacks.acme.config
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some at in group.prohibited_topics
	rule := config.rules.prohibited_topics[at]
	pack_id := rule.pack
	is_string(rule.any)
	regex.match(rule.any, body) # every topic at once: most texts stop here
	some topic in rule.topics
	is_string(topic.pattern)
	regex.match(topic.pattern, body)
	message := sprintf("mentions the prohibited topic %q", [topic.name])
}

# The action's own labels (content.topics): most actions have none, and stop at once.
violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some label in input.action.content.topics
	some group in precedence.input_groups
	some at in group.prohibited_topics
	rule := config.rules.prohibited_topics[at]
	pack_id := rule.pack
	some topic in rule.topics
	topic.name == label
	message := sprintf("mentions the prohibited topic %q", [topic.name])
}
