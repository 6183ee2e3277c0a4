# METADATA
# title: Who may call the policypacks sidecar
# description: |
#   OPA's authorization policy (`opa run --authentication=token --authorization=basic`).
#   Callers are told apart by their bearer token; `data.system.authz.tokens` maps the
#   SHA-256 (hex) of each token to a role, so the bundle never holds a token itself.
#   `policypacks opa run` writes that document next to this policy at start and loads
#   both as one bundle: its root is then owned by that bundle, and no API call (not even
#   the publisher's) can replace this policy or the tokens.
#
#   - probes (no token): GET /health and GET /metrics
#   - agent: POST its identities' decision and effective-policy documents, nothing else
#   - publisher: read everything; write policies and data under policypacks/ only
# entrypoint: true
package system.authz

default allow := false

allow if probe

allow if {
	caller.role == "agent"
	input.method == "POST"
	agent_document
	only_plain_params
}

allow if {
	caller.role == "publisher"
	not input.method in writes
}

allow if {
	caller.role == "publisher"
	input.method in writes
	publisher_writable
}

# The token's entry (role, identities), undefined for a missing or unknown token.
caller := data.system.authz.tokens[crypto.sha256(input.identity)]

writes := {"PUT", "PATCH", "DELETE"}

probe if {
	input.method == "GET"
	input.path in [["health"], ["health", "live"], ["health", "ready"], ["metrics"]]
}

# /v1/data/policypacks/<identity>/decision
agent_document if {
	some segment in caller.identities
	input.path == ["v1", "data", "policypacks", segment, "decision"]
}

# /v1/data/policypacks/<identity>/effective/<agent>
agent_document if {
	count(input.path) == 6
	input.path[5] != ""
	some segment in caller.identities
	array.slice(input.path, 0, 5) == ["v1", "data", "policypacks", segment, "effective"]
}

# No explain, instrument or provenance output for agents: only the answer itself.
only_plain_params if {
	every name, _ in object.get(input, "params", {}) {
		name in {"pretty", "strict-builtin-errors"}
	}
}

# Policies and data of one identity (never all of policypacks, never system.*).
publisher_writable if {
	input.path[0] == "v1"
	input.path[1] in {"policies", "data"}
	input.path[2] == "policypacks"
	count(input.path) >= 4
	every segment in array.slice(input.path, 3, count(input.path)) {
		not segment in {"", ".", ".."}
	}
}
