# METADATA
# title: Built-in PII detectors
# description: |
#   docs/pii.md defines them (the extension of SPEC section 4's detector paragraph).
#   Every detector cuts candidates out of the text with a constant regular expression
#   (OPA caches the compiled patterns) and validates them here: Luhn and issuer ranges
#   for cards, registry length and mod-97 for IBANs, issuance rules for SSNs, numbering
#   plans for phones. Number-like runs are tried stretch by stretch, so two phones side by
#   side are two phones. One span of text is reported once, as the most specific entity
#   that validates (`priority`): a card's digits are no phone, an IBAN's no card.
#   Offsets are Unicode code points, the end exclusive.
package policypacks.acme.lib.pii

import data.policypacks.acme.lib.pii_numbers

# Longer fields are not scanned: the rule reports them instead (fail closed).
max_chars := 65536

# The findings in `value`: [{entity, start, end}] sorted by start, overlaps resolved.
findings(value) := [{"entity": object.get(reported, c.entity, c.entity), "start": c.start, "end": c.end} |
	some [_, c] in sort([[c.start, c] | some c in resolve(candidates(value))])
	not c.entity in blockers
]

# Entities ranked apart but reported under one name.
reported := {"ipv6": "ip_address"}

# Spans that win against the detectors below them and are reported as nothing: UUIDs,
# and IBAN-shaped runs of a known country that fail the checks (a mistyped IBAN's
# digits are no card or phone).
blockers := {"uuid", "iban_shape"}

# The most specific entity first; a version number or UUID blocks everything.
priority := {
	"uuid": 10, "email": 9, "iban": 8, "iban_shape": 7, "credit_card": 6, "ipv6": 5,
	"ip_address": 4, "ssn": 3, "phone": 2,
}

candidates(value) := (((emails(value) | ibans(value)) | ip_addresses(value)) | numeric(value)) | uuids(value)

candidate(entity, start, end) := {"entity": entity, "start": start, "end": end, "priority": priority[entity]}

# ---- overlap resolution ----------------------------------------------------------------

# Greedy in rank order, unrolled three times (Rego has no loops): a candidate no other
# outranks is kept; candidates touching a kept one are dropped; repeat on the rest.
# Candidates are sorted by position and each is compared with its `window` neighbours
# on either side only, so long texts stay linear (overlapping candidates are adjacent).
resolve(cands) := {ordered[i] | some i in ((first | second) | third)} if {
	ordered := [c | some [_, _, c] in sort([[c.start, c.end, c] | some c in cands])]
	everything := {i | some i in numbers.range(0, count(ordered) - 1); ordered[i]}
	first := unbeaten(ordered, everything)
	rest := remaining(ordered, everything, first)
	second := unbeaten(ordered, rest)
	third := unbeaten(ordered, remaining(ordered, rest, second))
}

window := 32

near(ordered, i) := numbers.range(max([0, i - window]), min([count(ordered) - 1, i + window]))

unbeaten(ordered, live) := {i | some i in live; not beaten(ordered, live, i)}

beaten(ordered, live, i) if {
	some j in near(ordered, i)
	j != i
	j in live
	overlap(ordered[i], ordered[j])
	outranks(ordered[j], ordered[i])
}

remaining(ordered, live, kept) := {i | some i in live; not i in kept; not touches(ordered, kept, i)}

touches(ordered, kept, i) if {
	some j in near(ordered, i)
	j in kept
	overlap(ordered[i], ordered[j])
}

overlap(a, b) if {
	a.start < b.end
	b.start < a.end
}

# Higher priority, then the longer span, then the earlier one.
outranks(d, c) if d.priority > c.priority

outranks(d, c) if {
	d.priority == c.priority
	d.end - d.start > c.end - c.start
}

outranks(d, c) if {
	d.priority == c.priority
	d.end - d.start == c.end - c.start
	d.start < c.start
}

# ---- positions -----------------------------------------------------------------------

# [[start, match]] for every match of `pattern` in `value`. regex.split cuts the text at
# the same matches, so match i starts after gaps 0..i and matches 0..i-1.
located(pattern, value) := [[start, m] | some i, m in matches; start := prefix[i] + count(gaps[i])] if {
	matches := regex.find_n(pattern, value, -1)
	gaps := regex.split(pattern, value)
	prefix := prefix_sums([n | some i, m in matches; n := count(gaps[i]) + count(m)])
}

# The same with the submatches: [[start, [match, group 1, ...]]].
located_groups(pattern, value) := [[start, m] | some i, m in matches; start := prefix[i] + count(gaps[i])] if {
	matches := regex.find_all_string_submatch_n(pattern, value, -1)
	gaps := regex.split(pattern, value)
	prefix := prefix_sums([n | some i, m in matches; n := count(gaps[i]) + count(m[0])])
}

# prefix[i] = xs[0] + ... + xs[i-1], in blocks of 64 so that long lists stay linear-ish.
prefix_sums(xs) := [total |
	some i, _ in xs
	block := i - (i % 64)
	total := starts[block / 64] + sum(array.slice(xs, block, i))
] if {
	last := count(xs) - 1
	blocks := numbers.range(0, (last - (last % 64)) / 64)
	totals := [sum(array.slice(xs, b * 64, (b + 1) * 64)) | some b in blocks]
	starts := [sum(array.slice(totals, 0, b)) | some b, _ in totals]
}

# ---- email ---------------------------------------------------------------------------

# local@domain.tld; the top-level domain is letters or an IDN (punycode) label.
email_pattern := concat("", [
	`\b[A-Za-z0-9][A-Za-z0-9._%+-]*@`, # the local part
	`(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+`, # domain labels
	`(?:xn--[A-Za-z0-9-]{1,59}|[A-Za-z]{2,63})\b`, # the top-level domain
])

emails(value) := {candidate("email", start, start + count(m)) | some [start, m] in located(email_pattern, value)}

# ---- IBAN ----------------------------------------------------------------------------

# Country letters and check digits, then capitals and digits: unbroken, or in groups of
# at most four separated by single spaces or single hyphens. A run may carry a short word
# after the IBAN ("... 1332 EUR"): only as many groups as the country's length are read.
iban_pattern := `\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{1,4})+|(?:-[A-Z0-9]{1,4})+)\b`

ibans(value) := {c |
	some [start, run] in located(iban_pattern, value)
	iban_lengths[substring(run, 0, 2)]
	some c in iban_candidates(start, run)
}

iban_candidates(start, run) := {iban, shape} if {
	iban := candidate("iban", start, start + iban_length(run))
	shape := candidate("iban_shape", start, start + count(run))
} else := {candidate("iban_shape", start, start + count(run))}

# The length in characters of the valid IBAN the run starts with.
iban_length(run) := count(run) if {
	not regex.match(`[ -]`, run)
	count(run) == iban_lengths[substring(run, 0, 2)]
	iban_valid(run)
}

iban_length(run) := (length + needed) - 1 if {
	some separator in [" ", "-"]
	contains(run, separator)
	groups := split(run, separator)
	length := iban_lengths[substring(run, 0, 2)]
	needed := ((length + 3) - ((length + 3) % 4)) / 4
	count(groups) >= needed
	every i in numbers.range(0, needed - 2) {
		count(groups[i]) == 4
	}
	count(groups[needed - 1]) == length - (4 * (needed - 1))
	iban_valid(concat("", array.slice(groups, 0, needed)))
}

# ISO 13616: the first four characters moved to the end, letters read as 10..35, give a
# number = 1 (mod 97).
iban_valid(compact) if {
	rearranged := concat("", [substring(compact, 4, -1), substring(compact, 0, 4)])
	expanded := concat("", [format_int(indexof("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", c), 10) |
		some c in split(rearranged, "")
	])
	mod97(expanded) == 1
}

# A long decimal string mod 97: the sum of digit * (10^k mod 97), k its place from the
# right; every term is below 900, so the sum stays exact.
mod97(digits) := sum(terms) % 97 if {
	last := count(digits) - 1
	terms := [term | some i, d in split(digits, ""); term := to_number(d) * pow10_mod97[last - i]]
}

# 10^k mod 97 for k = 0..69 (an IBAN expands to at most 68 digits).
pow10_mod97 := [
	1, 10, 3, 30, 9, 90, 27, 76, 81, 34, 49, 5, 50, 15, 53, 45, 62, 38, 89, 17, 73, 51, 25, 56, 75, 71, 31, 19, 93,
	57, 85, 74, 61, 28, 86, 84, 64, 58, 95, 77, 91, 37, 79, 14, 43, 42, 32, 29, 96, 87, 94, 67, 88, 7, 70, 21, 16,
	63, 48, 92, 47, 82, 44, 52, 35, 59, 8, 80, 24, 46,
]

# IBAN lengths per country, from the SWIFT IBAN registry (docs/pii.md).
iban_lengths := {
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
	"LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
	"NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

# ---- IP addresses --------------------------------------------------------------------

octet := `(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`

# A dotted quad (no leading zeros), optionally with a /prefix; "version 1.2.3.4" and
# "v 1.2.3.4" are version numbers (group 1).
ipv4_pattern := concat("", [`(\b(?i:version|ver|v)\.? ?)?\b((?:`, octet, `\.){3}`, octet, `)\b(/\d+)?`])

ipv4_exact := concat("", [`^(?:`, octet, `\.){3}`, octet, `$`])

ip_addresses(value) := ipv4s(value) | ipv6s(value)

ipv4s(value) := {candidate("ip_address", start, end) |
	some [start, [_, version, address, cidr]] in located_groups(ipv4_pattern, value)
	version == ""
	end := sum([start, count(address), cidr_length(cidr, 32)])
}

# A /prefix belongs to the address when it is at most the address width.
cidr_length(cidr, width) := count(cidr) if {
	cidr != ""
	to_number(substring(cidr, 1, -1)) <= width
} else := 0

# Hex groups and colons (at least one), maybe an embedded IPv4 tail, a zone id and a
# /prefix; not glued to a word, a colon or a dot on the left (group 1), nor to a word
# on the right (group 5).
ipv6_pattern := `(^|[^\w:.%/])([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)(%[0-9A-Za-z._~-]+)?(/\d+)?(\w*)`

ipv6s(value) := {candidate("ipv6", begin, end) |
	some [start, [_, left, raw, zone, cidr, glued]] in located_groups(ipv6_pattern, value)
	glued == ""
	address := trim_sentence_dot(raw, zone, cidr)
	ipv6_valid(address)
	begin := start + count(left)
	end := sum([begin, count(address), count(zone), cidr_length(cidr, 128)])
}

# A dot ending a sentence is not part of the address.
trim_sentence_dot(raw, zone, cidr) := trim_suffix(raw, ".") if {
	concat("", [zone, cidr]) == ""
} else := raw

# RFC 4291 section 2.2: eight hex groups, "::" standing for one or more zero groups at
# most once, the last two groups optionally written as an IPv4 address.
ipv6_valid(address) if {
	not contains(address, ":::")
	halves := split(address, "::")
	count(halves) == 1
	groups := split(address, ":")
	hex_groups_valid(groups)
	width(groups) == 8
}

ipv6_valid(address) if {
	not contains(address, ":::")
	halves := split(address, "::")
	count(halves) == 2
	left := groups_of(halves[0])
	right := groups_of(halves[1])
	hex_groups_valid(array.concat(left, right))
	not embedded_in_left(left, right)
	width(array.concat(left, right)) <= 7
}

groups_of("") := []

groups_of(half) := split(half, ":") if half != ""

# An IPv4 tail only comes last.
embedded_in_left(left, right) if {
	count(right) > 0
	some group in left
	contains(group, ".")
}

# Every group is 1-4 hex digits, except that the last may be a dotted quad.
hex_groups_valid(groups) if {
	last := count(groups) - 1
	every i, group in groups {
		hex_or_tail(group, i == last)
	}
}

hex_or_tail(group, _) if regex.match(`^[0-9A-Fa-f]{1,4}$`, group)

hex_or_tail(group, true) if regex.match(ipv4_exact, group)

# How many 16-bit groups the written groups stand for (an IPv4 tail is two).
width(groups) := count(groups) + count([g | some g in groups; contains(g, ".")])

# ---- UUIDs (blockers) ----------------------------------------------------------------

uuid_pattern := `\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b`

uuids(value) := {candidate("uuid", start, start + count(m)) | some [start, m] in located(uuid_pattern, value)}

# ---- numbers: cards, SSNs, phones ----------------------------------------------------

# Digits with the punctuation people write inside numbers (spaces, dots, hyphens,
# parentheses, a plus), starting and ending on a word boundary.
run_pattern := `(?:\B[(+]{1,2}|\b)\d(?:[\d ().+-]*\d)?\b`

numeric(value) := {c |
	some [offset, run] in located(run_pattern, value)
	some c in run_candidates(offset, run)
}

# Every stretch of consecutive digit groups of the run with 7-19 digits (and up to eight
# groups), with and without the "+" or "(" written before it.
run_candidates(offset, run) := {candidate(entity, offset + start, offset + end) |
	groups := located(`\d+`, run)
	before := prefix_sums([count(g) | some [_, g] in groups])
	last := count(groups) - 1
	some i in numbers.range(0, last)
	some j in numbers.range(i, min([last, i + 7]))
	digits := (before[j] + count(groups[j][1])) - before[i]
	digits >= 7
	digits <= 19
	end := groups[j][0] + count(groups[j][1])
	some start in starts_of(run, groups[i][0])
	some entity in pii_numbers.entities(substring(run, start, end - start))
}

starts_of(run, start) := {start} | {earlier |
	some k in [1, 2]
	k <= start
	earlier := start - k
	regex.match(`^[(+]+$`, substring(run, earlier, k))
}
