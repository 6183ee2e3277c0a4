# METADATA
# title: "Rule type: prohibited_topics"
# description: |
#   A topic is raised when one of its keywords appears in the text (whole word,
#   case-insensitive; the compiler turns each keyword into an escaped \b...\b pattern),
#   one of its patterns matches, or the action labels itself with the topic's name.
package policypacks.acme.rules.prohibited_topics

import data.policypacks.acme.config
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, i] in precedence.input_rules.prohibited_topics
	rule := config.rules.prohibited_topics[pack_id][i]
	text.carries_content(rule, input.action)
	some topic in rule.topics
	raised(topic, input.action.content)
	message := sprintf("mentions the prohibited topic %q", [topic.name])
}

raised(topic, content) if text.matches_any(topic.patterns, content.text)

raised(topic, content) if topic.name in content.topics
