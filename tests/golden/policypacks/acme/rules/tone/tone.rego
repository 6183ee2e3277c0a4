# METADATA
# title: "Rule type: tone"
# description: |
#   The action's tone label (content.tone) must be one of the allowed bands. Without a
#   label, the text must not match a marker of a band that is not allowed. The compiler
#   ships the marker patterns of every band not allowed as `disallowed` (authored
#   markers replacing a band's defaults); an absent `allowed` list constrains nothing.
package policypacks.acme.rules.tone

import data.policypacks.acme.config
import data.policypacks.acme.lib.text
import data.policypacks.acme.precedence

# A label decides alone (it compares exactly with the `allowed` bands).
violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	labelled(input.action.content)
	label := input.action.content.tone
	some group in precedence.input_groups
	some at in group.tone
	rule := config.rules.tone[at]
	pack_id := rule.pack
	rule.allowed != null
	not label in rule.allowed
	message := sprintf("the tone %v is not allowed (allowed: %s)", [json.marshal(label), text.quoted_list(rule.allowed)])
}

# No label: the text gives the tone away.
violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	not labelled(input.action.content)
	body := text.action_text(input.action)
	some group in precedence.input_groups
	some at in group.tone
	rule := config.rules.tone[at]
	pack_id := rule.pack
	some band in rule.disallowed
	regex.match(band.any, body) # the band's markers as one alternation: most texts stop here
	found := {hit | some pattern in band.patterns; some hit in regex.find_n(pattern, body, 1)}
	count(found) > 0
	message := sprintf("the text reads as %s (%s), not an allowed tone", [band.band, text.quoted_list(sort(found))])
}

# Any content.tone counts as a label, whatever its value (SPEC: "content.tone not in
# allowed"); only an action without one is judged by its text.
labelled(content) if {
	_ = content.tone # a key that is there binds `_`, whatever its value
}
