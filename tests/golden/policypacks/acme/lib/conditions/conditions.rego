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

test(leaf, document) if {
	leaf.op != "exists"
	present(document, leaf.field)
	compare(leaf.op, object.get(document, leaf.field, null), leaf.value)
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

compare("equals", value, operand) if value == operand

compare("not_equals", value, operand) if value != operand

compare("gt", value, operand) if {
	comparable(value, operand)
	value > operand
}

compare("gte", value, operand) if {
	comparable(value, operand)
	value >= operand
}

compare("lt", value, operand) if {
	comparable(value, operand)
	value < operand
}

compare("lte", value, operand) if {
	comparable(value, operand)
	value <= operand
}

compare("in", value, operand) if value in operand

compare("not_in", value, operand) if not value in operand

# `contains`: a substring of a string, or a member of an array.
compare("contains", value, operand) if {
	is_string(value)
	is_string(operand)
	contains(value, operand)
}

compare("contains", value, operand) if {
	is_array(value)
	operand in value
}

compare("matches", value, operand) if {
	is_string(value)
	regex.match(operand, value)
}

compare("starts_with", value, operand) if {
	is_string(value)
	startswith(value, operand)
}

compare("ends_with", value, operand) if {
	is_string(value)
	endswith(value, operand)
}
