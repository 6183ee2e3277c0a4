# METADATA
# title: The baseline -- what an expert writes by hand for support-bot
# description: |
#   The same rules packs/ attaches to support-bot (identity acme), written directly in Rego:
#   every constant inline, no data document, no precedence at run time. It answers with
#   the same decision document as the generated policy (tests/test_handwritten.py checks
#   that on the pack examples and a few hundred generated inputs), so the benchmarks in
#   benchmarks/ compare equal work. The PII detectors and the input contract (SPEC
#   section 4) are the bundle's own libraries (lib.pii, lib.input_contract): a
#   hand-written policy would use such libraries too.
package handwritten.support_bot

import data.policypacks.acme.lib.input_contract
import data.policypacks.acme.lib.pii

rank := {"allow": 0, "warn": 1, "require_approval": 2, "block": 3}

# pack/rule -> what a violation of it says besides its message.
meta := {
	"brand-style/tone": {"type": "tone", "category": "brand", "enforcement": "block", "level": "identity"},
	"brand-style/signature": {"type": "signature", "category": "brand", "enforcement": "block", "level": "identity"},
	"brand-style/terminology": {"type": "terminology", "category": "brand", "enforcement": "warn", "level": "identity"},
	"brand-style/chat-length": {"type": "formatting", "category": "brand", "enforcement": "block", "level": "identity"},
	"brand-style/no-placeholders": {"type": "formatting", "category": "brand", "enforcement": "block", "level": "identity"},
	"casual-tone/tone": {"type": "tone", "category": "brand", "enforcement": "warn", "level": "agent"},
	"compliance/no-large-refunds": {
		"type": "condition", "category": "compliance", "enforcement": "block", "level": "identity",
		"message": "No refunds over $100",
	},
	"compliance/refund-needs-order": {
		"type": "condition", "category": "compliance", "enforcement": "require_approval", "level": "identity",
		"message": "Refunds need an order id: a human must find the order first",
	},
	"compliance/refund-currency": {
		"type": "condition", "category": "compliance", "enforcement": "warn", "level": "identity",
		"message": "Refunds are made in USD or EUR; finance converts anything else by hand",
	},
	"compliance/investment-disclaimer": {"type": "disclaimer", "category": "compliance", "enforcement": "block", "level": "identity"},
	"data-governance/pii-retention": {
		"type": "retention", "category": "data_governance", "enforcement": "require_approval",
		"level": "identity",
	},
	"data-governance/export-controls": {
		"type": "export", "category": "data_governance", "enforcement": "require_approval",
		"level": "identity",
	},
	"data-governance/partner-sharing": {
		"type": "third_party_sharing", "category": "data_governance", "enforcement": "block",
		"level": "identity",
	},
	"data-governance/consent": {"type": "privacy", "category": "data_governance", "enforcement": "block", "level": "identity"},
	"ops-caps/daily-spend": {
		"type": "spending_limit", "category": "operational", "enforcement": "require_approval",
		"level": "identity",
	},
	"ops-caps/single-purchase": {
		"type": "spending_limit", "category": "operational", "enforcement": "block", "level": "identity",
		"message": "No single purchase over $500",
	},
	"ops-caps/email-rate": {
		"type": "rate_limit", "category": "operational", "enforcement": "require_approval",
		"level": "identity",
	},
	"ops-caps/crm-api": {"type": "api_limit", "category": "operational", "enforcement": "require_approval", "level": "identity"},
	"ops-caps/all-apis": {"type": "api_limit", "category": "operational", "enforcement": "require_approval", "level": "identity"},
	"ops-caps/attachments": {"type": "attachment", "category": "operational", "enforcement": "block", "level": "identity"},
	"safety-core/topics": {"type": "prohibited_topics", "category": "safety", "enforcement": "block", "level": "identity"},
	"safety-core/pii": {"type": "pii", "category": "safety", "enforcement": "block", "level": "identity"},
	"safety-core/medical-disclaimer": {"type": "disclaimer", "category": "safety", "enforcement": "block", "level": "identity"},
}

action := input.action

body := action.content.text if is_string(action.content.text)

# ---- the decision ----------------------------------------------------------------------

violated contains key if some [key, _] in finding

# A malformed input gets the contract's one block violation and nothing else.
violations := [input_contract.violation] if not input_contract.valid

violations := checked if input_contract.valid

checked := [v | some [_, _, _, v] in sort([[0 - rank[v.enforcement], v.pack, v.rule, v] |
	some key in violated
	m := meta[key]
	[pack_id, rule_id] := split(key, "/")
	base := {
		"pack": pack_id,
		"rule": rule_id,
		"type": m.type,
		"category": m.category,
		"enforcement": m.enforcement,
		"level": m.level,
		"message": object.get(m, "message", concat("; ", sort([f[1] | some f in finding; f[0] == key]))),
	}
	v := with_spans(key, base)
])]

# The pii violation lists its findings, as the rule type reports them.
with_spans(key, v) := object.union(v, {"findings": pii_findings}) if {
	key == "safety-core/pii"
	is_object(action.content)
	not internal_recipient
	count(pii_findings) > 0
} else := v

default strictest := 0

strictest := rank[violations[0].enforcement]

outcome := ["allow", "warn", "require_approval", "block"][strictest]

default approval := null

approval := route if outcome == "require_approval"

decision := {
	"decision": outcome,
	"allow": strictest < 2,
	"identity": "acme",
	"agent": input_contract.agent,
	"violations": violations,
	"suppressed": [],
	"approval": approval,
	"obligations": sort([o | input_contract.valid; some o in obligation]),
	"shadow": [],
	"waived": [],
	"revision": "handwritten",
}

# ---- approval routes (escalation pack): highest priority first ---------------------

routes := [
	[20, "data-exports", ["privacy-officer"], 172800, "block"],
	[10, "spend-over-cap", ["finance-lead"], 14400, "block"],
	[5, "refunds", ["support-lead"], 7200, "block"],
	[0, "api-bursts", ["platform-oncall"], 1800, "allow"],
]

needing_approval := [v | some v in violations; v.enforcement == "require_approval"]

route := {"approvers": r[2], "timeout_seconds": r[3], "fallback": r[4], "route": concat("/", ["escalation", r[1]])} if {
	matching := [r | some r in routes; route_matches(r[1])]
	r := matching[0]
} else := {"approvers": ["ops-oncall"], "timeout_seconds": 86400, "fallback": "block", "route": "identity"}

route_matches("data-exports") if {
	action.type == "export_data"
	some v in needing_approval
	v.category == "data_governance"
}

route_matches("spend-over-cap") if {
	some v in needing_approval
	v.pack == "ops-caps"
	v.rule == "daily-spend"
}

route_matches("refunds") if {
	action.type == "refund"
	some v in needing_approval
	v.pack == "compliance"
}

route_matches("api-bursts") if {
	some v in needing_approval
	v.rule in {"crm-api", "all-apis"}
}

# ---- brand-style and casual-tone: tone -------------------------------------------------

casual := [
	`(?i)\bhey\b`, `(?i)\bhiya\b`, `(?i)\bgonna\b`, `(?i)\bwanna\b`, `(?i)\bgotta\b`, `(?i)\bkinda\b`,
	`(?i)\blol\b`, `(?i)\bbtw\b`, `(?i)\byeah\b`, `(?i)\byep\b`, `(?i)\bnope\b`, `(?i)\bawesome\b`,
	`(?i)\bomg\b`, `!!`, `\B[:;]-?\)\B`, `\B[:;]-?D\b`,
]

casual_any := `(?i)\b(?:hey|hiya|gonna|wanna|gotta|kinda|lol|btw|yeah|yep|nope|awesome|omg)\b|!!|\B[:;]-?\)\B|\B[:;]-?D\b`

formal := [
	`(?i)\bhereby\b`, `(?i)\bherewith\b`, `(?i)\bpursuant\b`, `(?i)\bsincerely\b`, `(?i)\bdear\s+sir\b`,
	`(?i)\bdear\s+madam\b`, `(?i)\byours\s+faithfully\b`, `(?i)\baforementioned\b`, `(?i)\bhenceforth\b`,
	`(?i)\bnotwithstanding\b`,
]

formal_any := `(?i)\b(?:hereby|herewith|pursuant|sincerely|dear\s+sir|dear\s+madam|yours\s+faithfully|aforementioned|henceforth|notwithstanding)\b`

professional := [
	`(?i)\bkind\s+regards\b`, `(?i)\bbest\s+regards\b`, `(?i)\bplease\s+find\b`,
	`(?i)\bat\s+your\s+earliest\s+convenience\b`, `(?i)\bplease\s+do\s+not\s+hesitate\b`,
	`(?i)\bas\s+discussed\b`, `(?i)\bwe\s+appreciate\s+your\b`,
]

professional_any := `(?i)\b(?:kind\s+regards|best\s+regards|please\s+find|at\s+your\s+earliest\s+convenience|please\s+do\s+not\s+hesitate|as\s+discussed|we\s+appreciate\s+your)\b`

labelled if "tone" in object.keys(action.content)

finding contains ["brand-style/tone", msg] if {
	labelled
	not action.content.tone in {"friendly", "professional"}
	msg := sprintf("the tone %v is not allowed (allowed: %s)", [json.marshal(action.content.tone), `"friendly", "professional"`])
}

finding contains ["casual-tone/tone", msg] if {
	labelled
	not action.content.tone in {"casual", "friendly"}
	msg := sprintf("the tone %v is not allowed (allowed: %s)", [json.marshal(action.content.tone), `"casual", "friendly"`])
}

finding contains ["brand-style/tone", msg] if {
	not labelled
	some [band, any, patterns] in [["casual", casual_any, casual], ["formal", formal_any, formal]]
	msg := tone_message(band, any, patterns)
}

finding contains ["casual-tone/tone", msg] if {
	not labelled
	some [band, any, patterns] in [["formal", formal_any, formal], ["professional", professional_any, professional]]
	msg := tone_message(band, any, patterns)
}

tone_message(band, any, patterns) := sprintf("the text reads as %s (%s), not an allowed tone", [band, concat(", ", quoted)]) if {
	regex.match(any, body)
	hits := {hit | some p in patterns; some hit in regex.find_n(p, body, 1)}
	quoted := [sprintf("%q", [h]) | some h in sort(hits)]
}

# ---- brand-style: signature, terminology, formatting -----------------------------------

unsigned if {
	action.type == "send_email"
	not signed
}

# (Helpers like this one, since `not f(x)` is undefined, not true, when x is.)
signed if endswith(trim_right(body, " \t\r\n\f\u000b"), "-- The Acme Team")

finding contains ["brand-style/signature", unsigned_message] if unsigned

unsigned_message := "the text does not end with the signature \"-- The Acme Team\"" if {
	body
} else := "there is no text, so no signature \"-- The Acme Team\""

obligation contains {"type": "append_signature", "text": "-- The Acme Team"} if unsigned

terms := [
	[`(?i)\bAcme Inc\b`, `use "Acme Corp" instead of "Acme Inc"`],
	[`(?i)\bchatbot\b`, `use "assistant" instead of "chatbot"`],
	[`(?i)\bcheap\b`, `"cheap" is a forbidden term`],
	[`(?i)\be-mail\b`, `use "email" instead of "e-mail"`],
	[`(?i)\bno-brainer\b`, `"no-brainer" is a forbidden term`],
]

finding contains ["brand-style/terminology", msg] if {
	regex.match(`(?i)\b(?:Acme Inc|chatbot|cheap|e-mail|no-brainer)\b`, body)
	some [pattern, msg] in terms
	regex.match(pattern, body)
}

finding contains ["brand-style/chat-length", msg] if {
	action.type == "send_message"
	count(body) > 500
	msg := sprintf("the text is %d characters long, over the limit of %d", [count(body), 500])
}

finding contains ["brand-style/no-placeholders", msg] if {
	some pattern in [`\{\{[^}]*\}\}`, `(?i)lorem ipsum`]
	regex.match(pattern, body)
	msg := sprintf("the text matches the forbidden pattern %q", [pattern])
}

# ---- compliance -------------------------------------------------------------------------

present(path) if object.get(input, path, false) == object.get(input, path, true)

finding contains ["compliance/no-large-refunds", ""] if {
	action.type == "refund"
	is_number(action.amount)
	action.amount > 100
}

finding contains ["compliance/refund-needs-order", ""] if {
	action.type == "refund"
	not present(["action", "order_id"])
}

finding contains ["compliance/refund-currency", ""] if {
	action.type == "refund"
	present(["action", "currency"])
	not action.currency in ["USD", "EUR"]
}

finding contains ["compliance/investment-disclaimer", msg] if {
	action.type in {"send_email", "send_message"}
	not contains(body, "This is not investment advice.")
	"investing" in action.content.topics
	msg := sprintf("the text lacks the disclaimer %q", ["This is not investment advice."])
}

# ---- data-governance --------------------------------------------------------------------

labelled_data if is_array(action.data.classes)

classes := {c | some c in action.data.classes; is_string(c)} if labelled_data

listed(allowed) := sort([c | some c in classes; c in allowed])

carries(field, kind) if type_name(action.data[field]) == kind

retained if {
	action.type == "store_data"
	not labelled_data
}

retained if {
	action.type == "store_data"
	count(listed({"pii", "payment"})) > 0
}

finding contains ["data-governance/pii-retention", "stores data without a number of retention_days"] if {
	retained
	not stated
}

finding contains ["data-governance/pii-retention", msg] if {
	retained
	is_number(action.data.retention_days)
	action.data.retention_days > 365
	msg := sprintf("keeps data for %v days, over the maximum of %v", [action.data.retention_days, 365])
}

finding contains ["data-governance/pii-retention", msg] if {
	retained
	is_number(action.data.retention_days)
	action.data.retention_days < 7
	msg := sprintf("keeps data for %v days, under the minimum of %v", [action.data.retention_days, 7])
}

stated if is_number(action.data.retention_days)

exporting if action.type == "export_data"

finding contains ["data-governance/export-controls", msg] if {
	exporting
	not carries("destination", "string")
	msg := "export without a destination, where only allowed destinations may receive data"
}

finding contains ["data-governance/export-controls", msg] if {
	exporting
	is_string(action.data.destination)
	not glob.match("s3://acme-exports/*", null, action.data.destination)
	not glob.match("https://warehouse.acme.com/*", null, action.data.destination)
	msg := sprintf("export to %s: not an allowed destination", [action.data.destination])
}

finding contains ["data-governance/export-controls", msg] if {
	exporting
	not carries("region", "string")
	msg := "export without a region, where only allowed regions may export"
}

finding contains ["data-governance/export-controls", msg] if {
	exporting
	is_string(action.data.region)
	not action.data.region in {"us", "eu"}
	msg := sprintf("export from region %s: not an allowed region", [action.data.region])
}

finding contains ["data-governance/export-controls", msg] if {
	exporting
	not carries("records", "number")
	msg := sprintf("export without a number of records, where at most %v are allowed", [10000])
}

finding contains ["data-governance/export-controls", msg] if {
	exporting
	is_number(action.data.records)
	action.data.records > 10000
	msg := sprintf("export of %v records, over the limit of %v", [action.data.records, 10000])
}

recipient_domain := trim_right(lower(action.recipient.domain), ".") if {
	is_string(action.recipient.domain)
} else := lower(parts[count(parts) - 1]) if {
	parts := split(action.recipient.address, "@")
	count(parts) > 1
}

domain_in(domain, domains) if {
	some d in domains
	lower(domain) == d
}

domain_in(domain, domains) if {
	some d in domains
	endswith(lower(domain), concat("", [".", d]))
}

third_party := recipient_domain if {
	recipient_domain != ""
	not domain_in(recipient_domain, ["acme.com"])
}

has_recipient if recipient_domain != ""

finding contains ["data-governance/partner-sharing", msg] if {
	action.type == "share_data"
	not has_recipient
	msg := sprintf("%v without a recipient domain: cannot tell whether data leaves the organisation", [action.type])
}

finding contains ["data-governance/partner-sharing", msg] if {
	action.type == "share_data"
	third_party
	not domain_in(third_party, ["zendesk.com", "salesforce.com"])
	msg := sprintf("shares data with %s, a third party that is not allowed", [third_party])
}

finding contains ["data-governance/partner-sharing", msg] if {
	action.type == "share_data"
	third_party
	blocked := listed({"payment", "health"})
	count(blocked) > 0
	msg := sprintf("shares %s data with %s, a third party", [concat(", ", blocked), third_party])
}

finding contains ["data-governance/partner-sharing", msg] if {
	action.type == "share_data"
	third_party
	not labelled_data
	msg := sprintf("shares data that does not list its classes with %s, a third party", [third_party])
}

consented if action.data.consent == true

has_purpose if is_string(action.data.purpose)

finding contains ["data-governance/consent", msg] if {
	is_object(action.data)
	not consented
	sensitive := listed({"pii", "health"})
	count(sensitive) > 0
	msg := sprintf("uses %s data without consent: true", [concat(", ", sensitive)])
}

finding contains ["data-governance/consent", msg] if {
	is_object(action.data)
	not consented
	not labelled_data
	msg := "uses data that does not list its classes without consent: true (needed for pii, health)"
}

finding contains ["data-governance/consent", msg] if {
	is_object(action.data)
	not has_purpose
	msg := "uses data without a purpose, where only allowed purposes may use it"
}

finding contains ["data-governance/consent", msg] if {
	is_object(action.data)
	is_string(action.data.purpose)
	not action.data.purpose in {"support", "billing", "analytics", "fraud_prevention"}
	msg := sprintf("uses data for %s, not an allowed purpose", [action.data.purpose])
}

# ---- ops-caps -----------------------------------------------------------------------------

used(path) := n if {
	n := object.get(input, array.concat(["usage"], path), 0)
	is_number(n)
} else := 0

in_usd if upper(action.currency) == "USD"

in_usd if not action.currency

finding contains ["ops-caps/daily-spend", msg] if {
	action.type == "spend"
	is_number(action.amount)
	in_usd
	total := action.amount + used(["spend", "day"])
	total > 100
	msg := sprintf("daily spend would reach %v USD, over the 100 USD cap", [total])
}

finding contains ["ops-caps/single-purchase", ""] if {
	action.type == "spend"
	is_number(action.amount)
	in_usd
	action.amount > 500
}

finding contains ["ops-caps/email-rate", msg] if {
	action.type == "send_email"
	nth := used(["actions", "send_email", "day"]) + 1
	nth > 200
	msg := sprintf("%s send_email today, over the limit of 200", [ordinal(nth)])
}

finding contains ["ops-caps/crm-api", msg] if {
	action.type == "api_call"
	action.api == "crm"
	nth := used(["apis", "crm", "minute"]) + 1
	nth > 60
	msg := sprintf("%s call to crm this minute, over the limit of 60", [ordinal(nth)])
}

finding contains ["ops-caps/all-apis", msg] if {
	action.type == "api_call"
	nth := used(["apis", "*", "day"]) + 1
	nth > 5000
	msg := sprintf("%s API call today, over the limit of 5000", [ordinal(nth)])
}

ordinal(n) := sprintf("%d%s", [whole, suffix(abs(whole) % 100)]) if {
	whole := round(n)
	whole == n
} else := sprintf("%v", [n])

suffix(k) := "th" if k in {11, 12, 13}

suffix(k) := object.get({1: "st", 2: "nd", 3: "rd"}, k % 10, "th") if not k in {11, 12, 13}

files := action.attachments if is_array(action.attachments)

finding contains ["ops-caps/attachments", msg] if {
	count(files) > 5
	msg := sprintf("%d attachments, over the limit of %d", [count(files), 5])
}

finding contains ["ops-caps/attachments", msg] if {
	some i, file in files
	is_number(file.size_bytes)
	file.size_bytes > 10485760
	msg := sprintf("attachment %s: %v bytes, over the %v MiB limit", [label(file, i), file.size_bytes, 10])
}

finding contains ["ops-caps/attachments", msg] if {
	some i, file in files
	is_string(file.name)
	parts := split(file.name, ".")
	count(parts) > 1
	ext := lower(parts[count(parts) - 1])
	ext in {"bat", "cmd", "exe", "js", "msi", "scr"}
	msg := sprintf("attachment %s: extension %s is blocked", [label(file, i), ext])
}

label(file, _) := file.name if is_string(file.name)

label(file, i) := sprintf("#%d", [i + 1]) if not named(file)

named(file) if is_string(file.name)

# ---- safety-core --------------------------------------------------------------------------

topics := [
	["credentials", `(?i)\bpassword\s*[:=]|(?i)\bapi[_ ]?key\s*[:=]`],
	["politics", `(?i)\b(?:election|political party)\b`],
	["self_harm", `(?i)\b(?:suicide|self-harm)\b`],
	["weapons", `(?i)\b(?:firearm|firearms|explosives)\b`],
]

finding contains ["safety-core/topics", msg] if {
	is_object(action.content)
	some [name, pattern] in topics
	raised(name, pattern)
	msg := sprintf("mentions the prohibited topic %q", [name])
}

raised(_, pattern) if regex.match(pattern, action.content.text)

raised(name, _) if name in action.content.topics

finding contains ["safety-core/pii", msg] if {
	is_object(action.content)
	not internal_recipient
	count(pii_findings) > 0
	msg := pii_message(concat(", ", sort({f.entity | some f in pii_findings})))
}

# Fail closed on text the detectors do not read.
finding contains ["safety-core/pii", msg] if {
	is_object(action.content)
	not internal_recipient
	some field, value in pii_fields
	count(value) > pii.max_chars
	msg := sprintf("%s has %d characters, over the %d the PII detectors read, so it was not scanned", [field, count(value), pii.max_chars])
}

finding contains ["safety-core/pii", msg] if {
	is_object(action.content)
	not internal_recipient
	some field, value in pii_fields
	count(value) <= pii.max_chars
	not pii.scan_for(value, pii_detected).findings
	msg := sprintf("%s has more than %d candidate spans (pattern matches and digit groups) for the PII detectors, so it was not scanned", [field, pii.max_candidates])
}

pii_fields[field] := value if {
	some field, key in {"content.text": "text", "content.subject": "subject"}
	value := action.content[key]
	is_string(value)
}

# The detected cards, IBANs and SSNs with their spans, in field and offset order.
pii_findings := [f | some [_, _, f] in sort([[f.field, f.start, f] |
	some field, value in pii_fields
	count(value) <= pii.max_chars
	some found in pii.scan_for(value, pii_detected).findings
	found.entity in pii_detected
	f := object.union(found, {"field": field})
])]

pii_detected := {"credit_card", "iban", "ssn"}

internal_recipient if domain_in(recipient_domain, ["acme.com"])

pii_message(entities) := sprintf("contains PII (%s) and goes to %s, outside the allowed domains", [entities, recipient_domain])

pii_message(entities) := sprintf("contains PII (%s) and has no recipient domain, which counts as outside", [entities]) if {
	not recipient_domain
}

finding contains ["safety-core/medical-disclaimer", msg] if {
	not contains(body, "This is not medical advice. Please consult a doctor.")
	regex.match(`(?i)\b(dosage|side effects|symptoms?)\b`, body)
	msg := sprintf("the text lacks the disclaimer %q", ["This is not medical advice. Please consult a doctor."])
}
