# METADATA
# title: Built-in PII detectors
# description: |
#   SPEC section 4: email, phone, ssn, credit_card (Luhn-valid), iban (mod-97 valid) and
#   ip_address, each matched on word boundaries. Candidates are cut out with regular
#   expressions; the checksums are comprehensions over digit positions, since Rego has no
#   loops. The number detectors (phone, credit_card) look at the text with e-mail
#   addresses, IBAN-shaped and IPv4-shaped strings blanked out, so that the digits of an
#   account number or an address are not read as a phone or a card.
package policypacks.acme.lib.pii

# The kinds among `kinds` that occur in the string `value`.
found(kinds, value) := {kind | some kind in kinds; detected(kind, value)}

detected("email", value) if regex.match(email_pattern, value)

detected("ssn", value) if regex.match(`\b\d{3}-\d{2}-\d{4}\b`, value)

# A dotted quad whose every octet is 0-255 (leading zeros allowed).
detected("ip_address", value) if {
	regex.match(`\b(?:(?:25[0-5]|2[0-4]\d|[01]?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d?\d)\b`, value)
}

# Each detector reads the text as it is (SPEC section 4): a number inside an IBAN or an
# IPv4 address can also be a phone number.
detected("credit_card", value) if {
	some digits in card_numbers(value)
	luhn_valid(digits)
}

detected("phone", value) if {
	some candidate in regex.find_n(phone_pattern, value, -1)
	phone_number(candidate)
}

detected("iban", value) if {
	some candidate in regex.find_n(iban_pattern, value, -1)
	iban_valid(replace(candidate, " ", ""))
}

email_pattern := `(?i:\b[a-z0-9._%+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}\b)`

# Country letters, check digits, then 11-30 alphanumerics: unbroken or in groups of four.
iban_pattern := `\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4})+(?: [A-Z0-9]{1,3})?)\b`

# ---- credit_card ---------------------------------------------------------------------

# Card numbers: 13-19 digits, unbroken or in groups separated by single spaces or hyphens.
# A run of such groups may carry other numbers around the card ("ref 12 4111 1111 1111
# 1111 12/25"), so every stretch of consecutive groups with 13-19 digits is a candidate.
card_numbers(value) := {digits |
	some run in regex.find_n(`\b\d+(?:[ -]\d+)*\b`, value, -1)
	groups := regex.find_n(`\d+`, run, -1)
	last := count(groups) - 1
	some first in numbers.range(0, last)
	some end in numbers.range(first, min([last, first + 18]))
	digits := concat("", array.slice(groups, first, end + 1))
	count(digits) >= 13
	count(digits) <= 19
}

# Luhn: from the right, every second digit is doubled (its digit sum taken); the total
# is a multiple of 10.
luhn_valid(digits) if {
	last := count(digits) - 1
	terms := [luhn_term(to_number(d), last - i) | some i, d in split(digits, "")]
	sum(terms) % 10 == 0
}

luhn_term(d, position) := d if position % 2 == 0

luhn_term(d, position) := [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][d] if position % 2 == 1

# ---- phone ---------------------------------------------------------------------------

# Groups of digits separated by single spaces, dots or hyphens, with an optional leading
# + and optional parentheses around one group (the area code).
phone_pattern := `(?:\B\+)?(?:\B\(\d+\)[ .-]?)?\b\d+(?:[ .-]?\(\d+\)[ .-]?\d+|[ .-]\d+)*\b`

# 10 to 15 digits make a phone number.
phone_number(candidate) if {
	digits := regex.replace(candidate, `\D`, "")
	count(digits) >= 10
	count(digits) <= 15
}

# ---- iban ----------------------------------------------------------------------------

# ISO 13616: 11-30 alphanumerics after the country and check digits; moving the first
# four characters to the end and reading letters as 10..35 gives a number = 1 (mod 97).
iban_valid(compact) if {
	count(compact) >= 15
	count(compact) <= 34
	rearranged := concat("", [substring(compact, 4, -1), substring(compact, 0, 4)])
	expanded := concat("", [format_int(indexof("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", c), 10) |
		some c in split(rearranged, "")
	])
	mod97(expanded) == 1
}

# A long decimal string mod 97: the sum of digit * (10^k mod 97), k its place from the right.
mod97(digits) := sum(terms) % 97 if {
	last := count(digits) - 1
	terms := [term |
		some i, d in split(digits, "")
		term := to_number(d) * pow10_mod97[last - i]
	]
}

# 10^k mod 97 for k = 0..69 (an IBAN expands to at most 68 digits).
pow10_mod97 := [
	1, 10, 3, 30, 9, 90, 27, 76, 81, 34, 49, 5, 50, 15, 53, 45, 62, 38, 89, 17, 73, 51, 25, 56, 75, 71, 31, 19, 93,
	57, 85, 74, 61, 28, 86, 84, 64, 58, 95, 77, 91, 37, 79, 14, 43, 42, 32, 29, 96, 87, 94, 67, 88, 7, 70, 21, 16,
	63, 48, 92, 47, 82, 44, 52, 35, 59, 8, 80, 24, 46,
]
