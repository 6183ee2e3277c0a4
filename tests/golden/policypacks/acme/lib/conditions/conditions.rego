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
		leaf_holds(leaf, document)
	}
}

leaf_holds(leaf, document) if {
	not leaf.negate
	test(leaf, document)
}

leaf_holds(leaf, document) if {
	leaf.negate
	not test(leaf, document)
}

# A field is present when looking it up with two different defaults gives the same.
present(document, path) if object.get(document, path, false) == object.get(document, path, true)

test(leaf, document) if {
	leaf.op == "exists"
	leaf.value == present(document, leaf.field)
}

# (present() inlined: the value looked up once is the one compared.)
test(leaf, document) if {
	leaf.op != "exists"
	value := object.get(document, leaf.field, false)
	value == object.get(document, leaf.field, true)
	compare(leaf.op, value, leaf.value)
}

test(leaf, document) if {
	leaf.op == "exists"
	leaf.value == false
	not present(document, leaf.field)
}

comparable(a, b) if {
	is_number(a)
	is_number(b)
}

comparable(a, b) if {
	is_string(a)
	is_string(b)
}

# Each comparison tests its operator first: OPA indexes a function's bodies by an
# equality on an argument (not by a literal in the head), so a leaf evaluates only the
# body of its own operator.
compare(op, value, operand) if {
	op == "equals"
	value == operand
}

compare(op, value, operand) if {
	op == "not_equals"
	value != operand
}

compare(op, value, operand) if {
	op == "gt"
	comparable(value, operand)
	value > operand
}

compare(op, value, operand) if {
	op == "gte"
	comparable(value, operand)
	value >= operand
}

compare(op, value, operand) if {
	op == "lt"
	comparable(value, operand)
	value < operand
}

compare(op, value, operand) if {
	op == "lte"
	comparable(value, operand)
	value <= operand
}

compare(op, value, operand) if {
	op == "in"
	value in operand
}

compare(op, value, operand) if {
	op == "not_in"
	not value in operand
}

# `contains`: a substring of a string, or a member of an array.
compare(op, value, operand) if {
	op == "contains"
	is_string(value)
	is_string(operand)
	contains(value, operand)
}

compare(op, value, operand) if {
	op == "contains"
	is_array(value)
	operand in value
}

compare(op, value, operand) if {
	op == "matches"
	is_string(value)
	regex.match(operand, value)
}

compare(op, value, operand) if {
	op == "starts_with"
	is_string(value)
	startswith(value, operand)
}

compare(op, value, operand) if {
	op == "ends_with"
	is_string(value)
	endswith(value, operand)
}
