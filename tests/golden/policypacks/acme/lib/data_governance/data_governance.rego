# METADATA
# title: Helpers shared by the data-governance rule types
# description: |
#   retention, export, third_party_sharing and privacy fail closed: data that does not
#   list its classes may carry any class. Classes compare exactly as written. Pure
#   functions: they take the action.
package policypacks.acme.lib.data_governance

# The classes the action's data lists (non-strings ignored); undefined when
# it lists none: no action.data.classes array.
classes(action) := {class | some class in action.data.classes; is_string(class)} if {
	is_array(action.data.classes)
}

# The data does not say which classes it carries. (Through a helper: `not is_array(x)`
# is undefined, not true, when x is missing.)
unlabelled(action) if not labelled(action)

labelled(action) if is_array(action.data.classes)

# The classes of the data that are in `listed`, sorted (empty when none or unlabelled).
listed_classes(listed, action) := sort([class | some class in classes(action); class in listed])

# Whether a rule scoped to `scope` (null: every class) covers the action's data; data
# that does not list its classes is covered.
in_scope(null, _) := true

in_scope(scope, action) if {
	scope != null
	unlabelled(action)
}

in_scope(scope, action) if {
	scope != null
	count(listed_classes(scope, action)) > 0
}
