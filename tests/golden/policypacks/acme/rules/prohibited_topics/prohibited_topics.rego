# METADATA
# title: "Rule type: prohibited_topics"
# description: |
#   A topic is raised when one of its keywords appears in the text (whole word,
#   case-insensitive; the compiler turns each keyword into an escaped \b...\b pattern),
#   one of its patterns matches, or the action labels itself with the topic's name. The
#   compiler ships each topic's keywords and patterns as one alternation.
package policypacks.acme.rules.prohibited_topics

import data.policypacks.acme.config
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	is_object(input.action.content)
	some group in precedence.input_groups
	some [pack_id, i] in group.prohibited_topics
	rule := config.rules.prohibited_topics[pack_id][i]
	some topic in rule.topics
	raised(topic, input.action.content)
	message := sprintf("mentions the prohibited topic %q", [topic.name])
}

# topic.pattern: the topic's keywords and patterns as one alternation (null when it has
# neither, and only its label raises it).
raised(topic, content) if {
	is_string(topic.pattern)
	regex.match(topic.pattern, content.text)
}

raised(topic, content) if topic.name in content.topics
