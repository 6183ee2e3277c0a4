# METADATA
# title: Built-in PII detectors
# description: |
#   docs/pii.md defines them (the extension of SPEC section 4's detector paragraph).
#   Every detector cuts candidates out of the text with a constant regular expression
#   (OPA caches the compiled patterns) and validates them here: Luhn and issuer ranges
#   for cards, registry length and mod-97 for IBANs, issuance rules for SSNs, numbering
#   plans for phones. Number-like runs are tried stretch by stretch, so two phones side by
#   side are two phones. One span of text is reported once, as the most specific entity
#   that validates (`ranking`): a card's digits are no phone, an IBAN's no card.
#   Offsets are Unicode code points, the end exclusive.
package policypacks.acme.lib.pii

import data.policypacks.acme.lib.pii_numbers

# Longer fields are not scanned: the rule reports them instead (fail closed).
max_chars := 65536

# Nor is a field with more candidate spans than this (pattern matches plus the digit
# groups of number runs): the work per candidate is bounded, so this bounds the work per
# field whatever an attacker writes (all digits and separators, say).
max_candidates := 512

# {"candidates": n, "findings": [{entity, start, end}]} for `value`, the findings sorted by
# start, overlaps resolved; without "findings" when n is over max_candidates.
scan(value) := outcome(raw, load(raw)) if raw := matches(value)

# Most text has no candidate at all: nothing to resolve.
outcome(_, 0) := {"candidates": 0, "findings": []}

outcome(raw, n) := {"candidates": n, "findings": reportable(resolve(candidates(raw)))} if {
	n > 0
	n <= max_candidates
}

outcome(_, n) := {"candidates": n} if n > max_candidates

# The findings in `value` (undefined when it has too many candidates to examine).
findings(value) := scan(value).findings

# scan(value) for a rule that detects only `kinds`: a text in which none of them can
# occur is not scanned (most text has no digits in the shapes below, and the scan of a
# phone-like text costs milliseconds). What it reports of `kinds` is what scan reports:
# every finding of a kind matches that kind's pattern below.
scan_for(value, kinds) := scan(value) if {
	some kind in kinds
	regex.match(necessary[kind], value)
} else := {"candidates": 0, "findings": []}

# A shape every finding of the entity contains: the "@" of an email, the seven digits a
# number run starts with, the SSN's nine, the card's twelve, an IBAN's country and check
# digits, a dotted quad or the colon of an IPv6 address.
necessary := {
	"email": "@",
	"phone": `\d(?:[ ().+-]*\d){6}`,
	"ssn": `\d{3}[ .-]?\d{2}[ .-]?\d{4}`,
	"credit_card": `\d(?:[ -]?\d){11}`,
	"iban": `[A-Z]{2}\d{2}`,
	"ip_address": `\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|:`,
}

reportable(kept) := [{"entity": object.get(reported, c.entity, c.entity), "start": c.start, "end": c.end} |
	some [_, c] in sort([[c.start, c] | some c in kept])
	not c.entity in blockers
]

# Entities ranked apart but reported under one name.
reported := {"ipv6": "ip_address"}

# Spans that win against the detectors below them and are reported as nothing: UUIDs,
# and IBAN-shaped runs of a known country that fail the checks (a mistyped IBAN's
# digits are no card or phone).
blockers := {"uuid", "iban_shape"}

candidate(entity, start, end) := {"entity": entity, "start": start, "end": end}

# ---- one pass per pattern ------------------------------------------------------------

# Every pattern runs once over the text, through regex.replace: each match is wrapped in
# `mark`, its groups separated by `sep`. Splitting at `mark` gives gaps and matches in
# turn, and indexof_n where the marks are: match k starts at its opening mark less the
# k * (groups + 1) markers written before it. Every builtin is linear in the text, and no
# offset is a sum over earlier matches.
mark := "\ue000"

sep := "\ue001"

# The text with the two markers (private-use characters, `mark` and `sep`) written as
# U+FFFD: the same length in code points, and no pattern tells the three apart.
cleaned(value) := strings.replace_n({"\ue000": "\ufffd", "\ue001": "\ufffd"}, value) if {
	regex.match(`[\x{E000}\x{E001}]`, value)
} else := value

# The passes over the text: [pattern, its groups].
passes := {
	"email": [email_pattern, 1], "iban": [iban_pattern, 1], "ipv4": [ipv4_pattern, 3],
	"ipv6": [ipv6_pattern, 5], "uuid": [uuid_pattern, 1], "runs": [run_pattern, 1],
}

# The raw matches of every pass, each behind a cheap test for a character its matches
# need.
matches(value) := {name: cut(name, pattern, groups, clean) |
	some name, [pattern, groups] in passes
} if {
	clean := cleaned(value)
}

wanted("email", value) if contains(value, "@")

wanted("ipv6", value) if contains(value, ":")

wanted("uuid", value) if contains(value, "-")

wanted(name, value) if {
	name in {"iban", "ipv4", "runs"}
	has_digit(value)
}

has_digit(value) if regex.match(`[0-9]`, value)

# {"marked": the marked text, "pieces": [gap, match, gap, ..., match, gap], "groups": n};
# every pattern's groups together are the whole match.
cut(name, pattern, groups, value) := {"marked": marked, "pieces": split(marked, mark), "groups": groups} if {
	wanted(name, value)
	marked := regex.replace(value, pattern, templates[groups])
} else := {"marked": value, "pieces": [value], "groups": groups}

templates := {
	1: concat("", [mark, "${1}", mark]),
	3: concat("", [mark, "${1}", sep, "${2}", sep, "${3}", mark]),
	5: concat("", [mark, "${1}", sep, "${2}", sep, "${3}", sep, "${4}", sep, "${5}", mark]),
}

match_count(cut) := (count(cut.pieces) - 1) / 2

# [[start, [group 1, ..., group n]]] for every match, in order.
located(cut) := [] if match_count(cut) == 0

located(cut) := [[start, split(cut.pieces[(2 * k) + 1], sep)] |
	some k in numbers.range(0, match_count(cut) - 1)
	start := opens[2 * k] - (k * (cut.groups + 1))
] if {
	match_count(cut) > 0
	opens := indexof_n(cut.marked, mark)
}

# The candidate spans: one per match, plus the digit groups of the number runs (each
# starts up to eight stretches); these are only counted when the matches alone are
# within the bound.
load(raw) := n if {
	n := sum([match_count(cut) | some cut in raw])
	n > max_candidates
} else := sum([match_count(cut) | some cut in raw]) + digit_groups(raw.runs)

digit_groups(runs) := count(regex.find_n(`\d+`, concat(" ", [run | some [_, [run]] in located(runs)]), -1))

# The candidates by entity.
candidates(raw) := {
	"uuid": uuids(raw.uuid),
	"email": emails(raw.email),
	"iban": [c | some c in iban_runs; c.entity == "iban"],
	"iban_shape": [c | some c in iban_runs; c.entity == "iban_shape"],
	"ipv6": ipv6s(raw.ipv6),
	"ip_address": ipv4s(raw.ipv4),
	"credit_card": [c | some c in number_runs; c.entity == "credit_card"],
	"ssn": [c | some c in number_runs; c.entity == "ssn"],
	"phone": [c | some c in number_runs; c.entity == "phone"],
} if {
	iban_runs := ibans(raw.iban)
	number_runs := numeric(raw.runs)
}

# ---- overlap resolution --------------------------------------------------------------

# Exact, by rank: the entity (most specific first, the order below), then the earlier
# start, then the longer span. A candidate is kept iff no kept candidate ranked above it
# overlaps it. Entity by entity: the candidates that overlap no span kept for the
# entities above are kept leftmost-first (`chain`). Within one entity that is the rule
# itself: sorted by (start, longest first), a candidate the chain skips overlaps the kept
# one before it, and a chained one overlaps no earlier kept one (they end before it
# starts).
resolve(cands) := {c | some level in [k0, k1, k2, k3, k4, k5, k6, k7, k8]; some c in level} if {
	k0 := chain(cands.uuid)
	k1 := chain(free([k0], cands.email))
	k2 := chain(free([k0, k1], cands.iban))
	k3 := chain(free([k0, k1, k2], cands.iban_shape))
	k4 := chain(free([k0, k1, k2, k3], cands.credit_card))
	k5 := chain(free([k0, k1, k2, k3, k4], cands.ipv6))
	k6 := chain(free([k0, k1, k2, k3, k4, k5], cands.ip_address))
	k7 := chain(free([k0, k1, k2, k3, k4, k5, k6], cands.ssn))
	k8 := chain(free([k0, k1, k2, k3, k4, k5, k6, k7], cands.phone))
}

# The candidates that overlap none of the kept ones (disjoint spans). Sorted by start,
# the only kept span that can overlap [s, e) is the last one starting before e.
free(levels, cands) := cands if {
	count(cands) > 0
	every level in levels {
		count(level) == 0
	}
} else := [c |
	some i, c in cands
	n := before[i]
	not overlaps_kept(kept, n, c)
] if {
	count(cands) > 0
	kept := sort([[c.start, c.end] | some level in levels; some c in level])
	before := count_before([s | some [s, _] in kept], [c.end | some c in cands])
} else := []

overlaps_kept(kept, n, c) if {
	n > 0
	kept[n - 1][1] > c.start
}

# For every query i: how many of `values` are strictly below queries[i]. One sort of
# both lists: at equal positions queries come first, so a query's index in the merged
# order less its index among the queries is the count (linear besides the sorts).
count_before(values, queries) := {i: n | some m, [_, 0, i] in merged; n := m - rank[i]} if {
	asked := sort([[q, 0, i] | some i, q in queries])
	rank := {i: k | some k, [_, _, i] in asked}
	merged := sort(array.concat(asked, [[v, 1, 0] | some v in values]))
}

# The leftmost-first non-overlapping selection of `cands`: sorted by (start, longest
# first), the first, then the first that starts at or after its end, and so on;
# graph.reachable follows the "next" pointers.
chain(cands) := cands if count(cands) < 2

chain(cands) := [ordered[i] | some i in graph.reachable(next, [0])] if {
	count(cands) >= 2
	ordered := [c | some [_, _, c] in sort({[c.start, 0 - c.end, c] | some c in cands})]
	after := count_before([c.start | some c in ordered], [c.end | some c in ordered])
	next := {i: [j | j := after[i]; j < count(ordered)] | some i, _ in ordered}
}

# ---- email ---------------------------------------------------------------------------

# local@domain.tld; the top-level domain is letters or an IDN (punycode) label.
email_pattern := concat("", [
	`(\b[A-Za-z0-9][A-Za-z0-9._%+-]*@`, # the local part
	`(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+`, # domain labels
	`(?:xn--[A-Za-z0-9-]{1,59}|[A-Za-z]{2,63})\b)`, # the top-level domain
])

emails(cut) := [candidate("email", start, start + count(m)) | some [start, [m]] in located(cut)]

# ---- IBAN ----------------------------------------------------------------------------

# Country letters and check digits, then capitals and digits: unbroken, or in groups of
# at most four separated by single spaces or single hyphens. A run may carry a short word
# after the IBAN ("... 1332 EUR"): only as many groups as the country's length are read.
iban_pattern := `(\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{1,4})+|(?:-[A-Z0-9]{1,4})+)\b)`

ibans(cut) := {c |
	some [start, [run]] in located(cut)
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

ipv4s(cut) := [candidate("ip_address", start, end) |
	some [start, [version, address, cidr]] in located(cut)
	version == ""
	end := sum([start, count(address), cidr_length(cidr, 32)])
]

# A /prefix belongs to the address when it is at most the address width.
cidr_length(cidr, width) := count(cidr) if {
	cidr != ""
	to_number(substring(cidr, 1, -1)) <= width
} else := 0

# Hex groups and colons (at least one), maybe an embedded IPv4 tail, a zone id and a
# /prefix; not glued to a word, a colon or a dot on the left (group 1), nor to a word
# on the right (group 5).
ipv6_pattern := `(^|[^\w:.%/])([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)(%[0-9A-Za-z._~-]+)?(/\d+)?(\w*)`

ipv6s(cut) := [candidate("ipv6", begin, end) |
	some [start, [left, raw, zone, cidr, glued]] in located(cut)
	glued == ""
	address := trim_sentence_dot(raw, zone, cidr)
	ipv6_valid(address)
	begin := start + count(left)
	end := sum([begin, count(address), count(zone), cidr_length(cidr, 128)])
]

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

uuid_pattern := `(\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b)`

uuids(cut) := [candidate("uuid", start, start + count(m)) | some [start, [m]] in located(cut)]

# ---- numbers: cards, SSNs, phones ----------------------------------------------------

# Digits with the punctuation people write inside numbers (spaces, dots, hyphens,
# parentheses, a plus), starting and ending on a word boundary, with at least seven
# digits (no stretch with fewer is tried). Demanding seven digits leaves the runs that
# have them as they were: a match is still the longest run from its start.
run_pattern := `((?:\B[(+]{1,2}|\b)\d(?:[ ().+-]*\d){6}(?:[\d ().+-]*\d)?\b)`

numeric(cut) := {c |
	some [offset, [run]] in located(cut)
	some c in run_candidates(offset, run)
}

# Every stretch of consecutive digit groups of the run with 7-19 digits (and up to eight
# groups), with and without the "+" or "(" written before it. The run is cut the same way
# as the text: `pieces` are gaps and digit groups in turn, `opens` where group g's marks
# are, `before[g]` the digits before group g.
run_candidates(offset, run) := {candidate(entity, (offset + (opens[2 * i] - (2 * i))) - k, end) |
	some i in numbers.range(0, last)
	gap := pieces[2 * i]
	ks := prefixes(gap)
	some j in numbers.range(i, min([last, i + 7]))
	digits := (before[j] + count(pieces[(2 * j) + 1])) - before[i]
	digits >= 7
	digits <= 19
	core := concat("", array.slice(pieces, (2 * i) + 1, (2 * j) + 2))
	end := ((offset + opens[(2 * j) + 1]) - (2 * j)) - 1
	some k in ks
	some entity in pii_numbers.entities(concat("", [substring(gap, count(gap) - k, k), core]))
} if {
	marked := regex.replace(run, `\d+`, "|${0}|")
	pieces := split(marked, "|")
	opens := indexof_n(marked, "|")
	last := (count(opens) / 2) - 1
	before := [n | some g, p in indexof_n(regex.replace(run, `\D*(\d+)\D*`, "|${1}"), "|"); n := p - g]
}

# How many of the characters before a digit group may start a stretch: none, or one or
# two of "(" and "+" written right before it.
prefixes(gap) := {0} | {k |
	some k in [1, 2]
	k <= count(gap)
	regex.match(`^[(+]+$`, substring(gap, count(gap) - k, k))
}
