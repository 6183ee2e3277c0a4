# Run: opa test opa-config/authz
package system.authz_test

import data.system.authz

# The bundle holds the tokens' SHA-256, never the tokens.
agent := crypto.sha256("agent-token")

publisher := crypto.sha256("publisher-token")

known_tokens := {
	agent: {"role": "agent", "identities": ["acme"]},
	publisher: {"role": "publisher", "identities": []},
}

# [who, method, path, allowed]
cases := [
	[null, "GET", "/health", true],
	[null, "GET", "/health/ready", true],
	[null, "GET", "/metrics", true],
	[null, "POST", "/v1/data/policypacks/acme/decision", false],
	[null, "PUT", "/v1/policies/policypacks/acme/main.rego", false],
	[null, "GET", "/v1/data", false],
	["wrong-token", "POST", "/v1/data/policypacks/acme/decision", false],
	["agent-token", "POST", "/v1/data/policypacks/acme/decision", true],
	["agent-token", "POST", "/v1/data/policypacks/acme/effective/sales-bot", true],
	["agent-token", "GET", "/v1/data/policypacks/acme/decision", false],
	["agent-token", "POST", "/v1/data/policypacks/other/decision", false],
	["agent-token", "POST", "/v1/data/policypacks/acme/config", false],
	["agent-token", "POST", "/v1/data/policypacks/acme", false],
	["agent-token", "POST", "/v1/data/policypacks/acme/decision/x", false],
	["agent-token", "POST", "/v1/data/policypacks/acme/effective/", false],
	["agent-token", "POST", "/v1/data/system/authz/tokens", false],
	["agent-token", "PUT", "/v1/data/policypacks/acme/config", false],
	["agent-token", "PUT", "/v1/policies/policypacks/acme/main.rego", false],
	["agent-token", "DELETE", "/v1/policies/policypacks/acme/main.rego", false],
	["agent-token", "POST", "/v1/query", false],
	["agent-token", "GET", "/v1/status", false],
	["publisher-token", "PUT", "/v1/policies/policypacks/acme/main.rego", true],
	["publisher-token", "PUT", "/v1/data/policypacks/acme/config", true],
	["publisher-token", "DELETE", "/v1/policies/policypacks/acme/rules/x/x.rego", true],
	["publisher-token", "PATCH", "/v1/data/policypacks/acme/config", true],
	["publisher-token", "GET", "/v1/status", true],
	["publisher-token", "GET", "/v1/data/policypacks/acme/config/revision", true],
	["publisher-token", "POST", "/v1/data/policypacks/acme/decision", true],
	["publisher-token", "PUT", "/v1/data/policypacks", false],
	["publisher-token", "DELETE", "/v1/data", false],
	["publisher-token", "PUT", "/v1/policies/system/authz/authz.rego", false],
	["publisher-token", "PUT", "/v1/data/system/authz/tokens", false],
	["publisher-token", "PUT", "/v1/policies/policypacks/../system/x.rego", false],
]

request(who, method, path) := object.union(
	{"method": method, "path": split(trim_left(path, "/"), "/"), "params": {}},
	{"identity": who | who != null},
)

test_each_caller_reaches_only_its_paths if {
	results := [[who, method, path, got] |
		some [who, method, path, _] in cases
		got := count([1 |
			authz.allow with input as request(who, method, path)
				with authz.tokens as known_tokens
		]) == 1
	]
	results == cases
}

test_agents_get_no_explain_output if {
	plain := request("agent-token", "POST", "/v1/data/policypacks/acme/decision")
	authz.allow with input as plain with authz.tokens as known_tokens
	explained := object.union(plain, {"params": {"explain": ["full"]}})
	not authz.allow with input as explained with authz.tokens as known_tokens
}
