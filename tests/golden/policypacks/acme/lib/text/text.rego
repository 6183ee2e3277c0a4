# METADATA
# title: Text and recipient helpers shared by the rule types
# description: |
#   Pure functions: everything they look at comes in as an argument. Patterns for
#   keywords and terms are built by the compiler (literal text, RE2-escaped, between
#   \b boundaries, case-insensitive) and arrive here as data.
package policypacks.acme.lib.text

# The action's text, when it has one.
action_text(action) := action.content.text if is_string(action.content.text)

matches_any(patterns, value) if {
	some pattern in patterns
	regex.match(pattern, value)
}

# A domain is covered by a list when it equals a listed domain or is a subdomain of one
# (case-insensitively; listed domains are lowercased by the compiler).
domain_in(domain, domains) if {
	some listed in domains
	lower(domain) == listed
}

domain_in(domain, domains) if {
	some listed in domains
	endswith(lower(domain), concat("", [".", listed]))
}

# The recipient's domain: recipient.domain, else the part of recipient.address after "@".
# (An `else`, since `not is_string(action.recipient.domain)` is undefined, not true, when
# the domain is missing.)
recipient_domain(action) := trim_right(lower(action.recipient.domain), ".") if {
	is_string(action.recipient.domain)
} else := lower(parts[count(parts) - 1]) if {
	parts := split(action.recipient.address, "@")
	count(parts) > 1
}

# Strings for a message: "a", "b" (in the given order); "none" for an empty list.
quoted_list(values) := concat(", ", [sprintf("%q", [value]) | some value in values]) if count(values) > 0

quoted_list(values) := "none" if count(values) == 0
