# METADATA
# title: Which entity a number is
# description: |
#   The validators of the number detectors (docs/pii.md): a stretch of digits cut out
#   by lib.pii is a card (issuer range, length, Luhn), an SSN (issuance rules) or a
#   phone number (numbering plans), and the stretch's text is all they look at.
package policypacks.acme.lib.pii_numbers

# The entities `text` (digits with separators, maybe a leading "+" or "(") validates as.
# One match against every accepted shape rules most stretches out before any validator
# runs.
entities(text) := ({"credit_card" | card(text)} | {"ssn" | ssn(text)}) | {"phone" | phone(text)} if {
	regex.match(any_shape, text)
} else := set()

any_shape := concat("|", [card_shape, ssn_shape, national_pattern, international_shape, cc_shape])

only_digits(text) := regex.replace(text, `\D`, "")

# ---- credit_card ---------------------------------------------------------------------

# 12-19 digits, unbroken or in groups separated by one kind of separator (space or hyphen).
card_shape := `^(?:\d{12,19}|\d{4,6}(?: \d{3,6}){1,5}|\d{4,6}(?:-\d{3,6}){1,5})$`

card(text) if {
	regex.match(card_shape, text)
	digits := only_digits(text)
	issued_card(digits)
	luhn_valid(digits)
}

# [first prefix, last prefix, lengths]: the issuer ranges of docs/pii.md.
card_ranges := [
	["4", "4", [13, 16, 19]], # Visa
	["51", "55", [16]], # Mastercard
	["2221", "2720", [16]], # Mastercard 2-series
	["34", "34", [15]], # American Express
	["37", "37", [15]], # American Express
	["6011", "6011", [16, 17, 18, 19]], # Discover
	["644", "649", [16, 17, 18, 19]], # Discover
	["65", "65", [16, 17, 18, 19]], # Discover
	["3528", "3589", [16, 17, 18, 19]], # JCB
	["300", "305", [14, 15, 16, 17, 18, 19]], # Diners Club
	["3095", "3095", [14, 15, 16, 17, 18, 19]], # Diners Club
	["36", "36", [14, 15, 16, 17, 18, 19]], # Diners Club
	["38", "39", [16, 17, 18, 19]], # Diners Club
	["62", "62", [16, 17, 18, 19]], # UnionPay
	["2200", "2204", [16, 17, 18, 19]], # Mir
	["5019", "5019", [16]], # Dankort
	["5018", "5018", [12, 13, 14, 15, 16, 17, 18, 19]], # Maestro
	["5020", "5020", [12, 13, 14, 15, 16, 17, 18, 19]], # Maestro
	["5038", "5038", [12, 13, 14, 15, 16, 17, 18, 19]], # Maestro
	["5893", "5893", [12, 13, 14, 15, 16, 17, 18, 19]], # Maestro
	["6304", "6304", [12, 13, 14, 15, 16, 17, 18, 19]], # Maestro
	["6759", "6759", [12, 13, 14, 15, 16, 17, 18, 19]], # Maestro
	["6761", "6763", [12, 13, 14, 15, 16, 17, 18, 19]], # Maestro
	["1", "1", [15]], # UATP
]

# The ranges by first digit, so a number is only held against its own few.
ranges_by_digit[d] := [r | some r in card_ranges; startswith(r[0], d)] if some d in split("0123456789", "")

issued_card(digits) if {
	some [low, high, lengths] in ranges_by_digit[substring(digits, 0, 1)]
	count(digits) in lengths
	prefix := to_number(substring(digits, 0, count(low)))
	prefix >= to_number(low)
	prefix <= to_number(high)
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

# ---- ssn -----------------------------------------------------------------------------

# AAA-GG-SSSS with one kind of separator (hyphen, dot or space) or none.
ssn_shape := `^(?:\d{3}-\d{2}-\d{4}|\d{3}\.\d{2}\.\d{4}|\d{3} \d{2} \d{4}|\d{9})$`

ssn(text) if {
	regex.match(ssn_shape, text)
	digits := only_digits(text)
	not substring(digits, 0, 3) in {"000", "666"}
	not startswith(digits, "9")
	substring(digits, 3, 2) != "00"
	substring(digits, 5, 4) != "0000"
	not digits in ssn_never_issued
	count({d | some d in split(digits, "")}) > 1
}

# Numbers the SSA voided after they were printed in advertising, and the textbook sample.
ssn_never_issued := {"078051120", "219099999", "123456789"}

# ---- phone ---------------------------------------------------------------------------

phone(text) if {
	regex.match(national_pattern, text)
	digits := count(only_digits(text))
	digits >= 9
	digits <= 12
}

phone(text) if international_phone(text)

# A country code of the listed plans written without "+" ("91-415-555-0132").
phone(text) if {
	regex.match(cc_shape, text)
	international_phone(concat("", ["+", text]))
}

cc_shape := `^(?:44|49|33|972|91|55)[ .-]`

# National formats of the numbering plans in docs/pii.md.
national_pattern := concat("", ["^(?:", concat("|", national_formats), ")$"])

national_formats := [
	# NANP (US, CA): optional trunk 1, area code [2-9]XX (maybe in parentheses), XXX XXXX
	`(?:1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-]?)\d{3}[ .-]?\d{4}`,
	# a trunk 0 and 9-10 more digits without separators (UK, DE, FR, IL, IN, BR)
	`0[1-9]\d{8,9}`,
	# UK: 02X XXXX XXXX, 01XX XXX XXXX (0800 ...), 07XXX XXXXXX, (0XX) XXXX XXXX
	`0[1-35789]\d[ -]\d{4}[ -]\d{4}`,
	`0[1-35789]\d{2}[ -]\d{3}[ -]\d{4}`,
	`0[1-35789]\d{3}[ -]\d{5,6}`,
	`\(0[1-35789]\d{1,3}\) ?\d{3,4}[ -]?\d{3,4}`,
	# DE: trunk 0 and area code, the subscriber number, an optional extension
	`(?:\(0[1-9]\d{1,4}\) ?|0[1-9]\d{1,4}[ -])[1-9]\d{4,7}(?:-\d{1,5})?`,
	# FR: 0X XX XX XX XX
	`0[1-9](?:[ .-]\d{2}){4}`,
	# IL: 0X-XXX-XXXX or 0X-XXXXXXX (landline), 05X / 07X-XXX-XXXX or -XXXXXXX
	`0[23489][ -]\d{3}[ -]?\d{4}`,
	`0[57]\d[ -]\d{3}[ -]?\d{4}`,
	# IN: mobile XXXXX XXXXX
	`[6-9]\d{4}[ -]\d{5}`,
	# BR: (AA) 9XXXX-XXXX (mobile) or (AA) XXXX-XXXX (landline)
	`(?:\([1-9]{2}\) ?|[1-9]{2}[ .-])(?:9\d{4}|[2-5]\d{3})[ .-]?\d{4}`,
]

# +CC or 00CC, then groups; "(0)" (the trunk written in an international number) and one
# parenthesised group are allowed.
international_shape := `^(?:\+|00)\d+(?:(?:[ .-]|[ .-]?\(\d{1,4}\)[ .-]?)\d+)*$`

international_phone(text) if {
	regex.match(international_shape, text)
	not regex.match(`\d{5}[ .-]\d{1,2}$`, text) # "+49 89 9746819 04": the 04 starts another number
	e164 := e164_digits(only_digits(replace(text, "(0)", "")), text)
	not dialled_elsewhere(text, e164)
	count(e164) >= 8
	count(e164) <= 15
	cc := country_code(e164)
	regex.match(object.get(nsn_patterns, cc, `^[1-9]\d{5,11}$`), substring(e164, count(cc), -1))
}

# 00CC only for the listed plans: "0051 8630 0016" is more often a group of digits.
dialled_elsewhere(text, e164) if {
	startswith(text, "00")
	not country_code(e164) in {"1", "44", "49", "33", "972", "91", "55"}
}

e164_digits(digits, text) := substring(digits, 2, -1) if startswith(text, "00")

e164_digits(digits, text) := digits if startswith(text, "+")

# E.164 country codes are prefix-free: the first digits say how long the code is.
country_code(digits) := substring(digits, 0, 1) if substring(digits, 0, 1) in {"1", "7"}

country_code(digits) := substring(digits, 0, 2) if substring(digits, 0, 2) in two_digit_codes

country_code(digits) := substring(digits, 0, 3) if substring(digits, 0, 2) in three_digit_zones

two_digit_codes := {
	"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
	"51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
	"86", "90", "91", "92", "93", "94", "95", "98",
}

three_digit_zones := {
	"21", "22", "23", "24", "25", "26", "29", "35", "37", "38", "42", "50", "59", "67", "68", "69", "85",
	"87", "88", "96", "97", "99",
}

# The national significant number after the country code, per plan; others: 6-12
# digits not starting with 0.
nsn_patterns := {
	"1": `^[2-9]\d{9}$`,
	"44": `^[1-9]\d{8,9}$`,
	"49": `^[1-9]\d{5,10}$`,
	"33": `^[1-9]\d{8}$`,
	"972": `^[2-9]\d{7,8}$`,
	"91": `^[1-9]\d{9}$`,
	"55": `^[1-9]{2}\d{8,9}$`,
	"39": `^[03]\d{5,10}$`,
}
