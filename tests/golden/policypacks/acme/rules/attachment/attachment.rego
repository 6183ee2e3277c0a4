# METADATA
# title: "Rule type: attachment"
# description: |
#   Limits on the files of any action with an `attachments` list: their number, and per
#   file its size (size_bytes against max_size_mb in bytes, precomputed), its extension
#   (the last one, lowercased, trailing dots and spaces ignored, against the compiler's
#   lowercased, dot-less lists) and its content type (compared exactly). A file without
#   the field a check needs skips that check (the input contract has already refused
#   fields of the wrong type).
package policypacks.acme.rules.attachment

import data.policypacks.acme.config
import data.policypacks.acme.precedence

# The attachment rules of the agent's packs, when the action carries attachments.
applicable contains [pack_id, rule] if {
	is_array(input.action.attachments)
	some group in precedence.input_groups
	some at in group.attachment
	rule := config.rules.attachment[at]
	pack_id := rule.pack
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some [pack_id, rule] in applicable
	rule.max_count != null
	count(input.action.attachments) > rule.max_count
	message := sprintf("%d attachments, over the limit of %d", [count(input.action.attachments), rule.max_count])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some i, file in input.action.attachments
	is_number(file.size_bytes)
	some [pack_id, rule] in applicable
	rule.max_size_bytes != null
	file.size_bytes > rule.max_size_bytes
	template := "attachment %s: %v bytes, over the %v MiB limit"
	message := sprintf(template, [label(file, i), file.size_bytes, rule.max_size_mb])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some i, file in input.action.attachments
	ext := extension(file.name)
	some [pack_id, rule] in applicable
	rule.blocked_extensions != null
	ext in rule.blocked_extensions
	message := sprintf("attachment %s: extension %s is blocked", [label(file, i), ext])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some i, file in input.action.attachments
	ext := extension(file.name)
	some [pack_id, rule] in applicable
	rule.allowed_extensions != null
	not ext in rule.allowed_extensions
	message := sprintf("attachment %s: %s", [label(file, i), unlisted(ext)])
}

violation contains {"pack": pack_id, "rule": rule.id, "message": message} if {
	some i, file in input.action.attachments
	media := media_type(file.content_type)
	some [pack_id, rule] in applicable
	rule.allowed_content_types != null
	not media_allowed(media, rule.allowed_content_types)
	message := sprintf("attachment %s: content type %s is not allowed", [label(file, i), media])
}

# How a message names a file: its name, else its position ("#2").
label(file, _) := file.name if named(file)

label(file, i) := sprintf("#%d", [i + 1]) if not named(file)

# A helper, since `not is_string(file.name)` is undefined, not true, without a name.
named(file) if is_string(file.name)

# The last extension of a name, lowercased; "" when it has none. Trailing dots and
# spaces go first, as a file system drops them (SPEC section 4: `virus.exe.` is `exe`).
extension(name) := lower(parts[count(parts) - 1]) if {
	is_string(name)
	parts := split(trim_right(name, ". "), ".")
	count(parts) > 1
}

extension(name) := "" if {
	is_string(name)
	not contains(trim_right(name, ". "), ".")
}

unlisted("") := "a name without an extension is not allowed"

unlisted(ext) := sprintf("extension %s is not allowed", [ext]) if ext != ""

# Content types compare exactly as written (SPEC lists no case folding for them).
media_type(content_type) := content_type if is_string(content_type)

media_allowed(media, allowed) if media in allowed
