# METADATA
# title: Helpers shared by the caps (spending_limit, rate_limit, api_limit)
# description: |
#   How many were already done in a window (missing or non-numeric usage counts as 0)
#   and how messages say it. Pure functions.
package policypacks.acme.lib.counting

# The count at `path` under the input's usage, or 0.
already(doc, path) := done if {
	done := object.get(doc, array.concat(["usage"], path), 0)
	is_number(done)
} else := 0

# "3rd send_email this hour, over the limit of 2"
over_limit(nth, what, period, limit) := sprintf(
	"%s %s %s, over the limit of %v",
	[ordinal(nth), what, during[period], limit],
)

during := {"minute": "this minute", "hour": "this hour", "day": "today"}

# 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st; a count that is not whole stays a number.
ordinal(n) := sprintf("%d%s", [whole, ordinal_suffix(abs(whole) % 100)]) if {
	whole := round(n)
	whole == n
} else := sprintf("%v", [n])

ordinal_suffix(k) := "th" if k in {11, 12, 13}

ordinal_suffix(k) := object.get({1: "st", 2: "nd", 3: "rd"}, k % 10, "th") if not k in {11, 12, 13}
