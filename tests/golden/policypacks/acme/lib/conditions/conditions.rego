# METADATA
# title: The condition language (`when:`)
# description: |
#   The compiler hands every condition over in disjunctive normal form: a list of
#   terms, each a list of leaves {field, op, value, negate}. A condition holds when
#   every leaf of some term holds. A leaf is false when its field is missing (except
#   `exists`); a negated leaf is plainly its negation.
package policypacks.acme.lib.conditions

holds(terms, document) if {
	some term in terms
	every leaf in term {
		leaf_holds(leaf.negate, leaf, document)
	}
}

# (Two levels of calls, not four: each costs a decision a dozen allocations. OPA indexes
# a function's bodies by an equality on an argument, so a leaf evaluates only the body of
# its own sign here and of its own operator in `test`.)
leaf_holds(false, leaf, document) if test(leaf.op, leaf, document)

leaf_holds(true, leaf, document) if not test(leaf.op, leaf, document)

# A field is present when looking it up with two different defaults gives the same.
present(document, path) if object.get(document, path, false) == object.get(document, path, true)

test(op, leaf, document) if {
	op == "exists"
	leaf.value == present(document, leaf.field)
}

test(op, leaf, document) if {
	op == "exists"
	leaf.value == false
	not present(document, leaf.field)
}

# Each operator reads the field itself. Those that test the value's type first (a number,
# a string, an array) need no presence test: a missing field is looked up as null. The
# others look it up twice, with two defaults, so that a missing field is false for them
# whatever the operand (present() inlined: the value looked up once is the one compared).
test(op, leaf, document) if {
	op == "equals"
	value := object.get(document, leaf.field, false)
	value == object.get(document, leaf.field, true)
	value == leaf.value
}

test(op, leaf, document) if {
	op == "not_equals"
	value := object.get(document, leaf.field, false)
	value == object.get(document, leaf.field, true)
	value != leaf.value
}

test(op, leaf, document) if {
	op == "gt"
	value := object.get(document, leaf.field, null)
	comparable(value, leaf.value)
	value > leaf.value
}

test(op, leaf, document) if {
	op == "gte"
	value := object.get(document, leaf.field, null)
	comparable(value, leaf.value)
	value >= leaf.value
}

test(op, leaf, document) if {
	op == "lt"
	value := object.get(document, leaf.field, null)
	comparable(value, leaf.value)
	value < leaf.value
}

test(op, leaf, document) if {
	op == "lte"
	value := object.get(document, leaf.field, null)
	comparable(value, leaf.value)
	value <= leaf.value
}

test(op, leaf, document) if {
	op == "in"
	value := object.get(document, leaf.field, false)
	value == object.get(document, leaf.field, true)
	value in leaf.value
}

test(op, leaf, document) if {
	op == "not_in"
	value := object.get(document, leaf.field, false)
	value == object.get(document, leaf.field, true)
	not value in leaf.value
}

# `contains`: a substring of a string, or a member of an array.
test(op, leaf, document) if {
	op == "contains"
	value := object.get(document, leaf.field, null)
	is_string(value)
	is_string(leaf.value)
	contains(value, leaf.value)
}

test(op, leaf, document) if {
	op == "contains"
	value := object.get(document, leaf.field, null)
	is_array(value)
	leaf.value in value
}

test(op, leaf, document) if {
	op == "matches"
	value := object.get(document, leaf.field, null)
	is_string(value)
	regex.match(leaf.value, value)
}

test(op, leaf, document) if {
	op == "starts_with"
	value := object.get(document, leaf.field, null)
	is_string(value)
	startswith(value, leaf.value)
}

test(op, leaf, document) if {
	op == "ends_with"
	value := object.get(document, leaf.field, null)
	is_string(value)
	endswith(value, leaf.value)
}

comparable(a, b) if {
	is_number(a)
	is_number(b)
}

comparable(a, b) if {
	is_string(a)
	is_string(b)
}
