"""The input contract (SPEC section 4): the shape of the input an agent sends, as one model.

Everything about that shape comes from :data:`FIELDS`:

- :func:`contract_data` is the table the Rego module
  ``rego_templates/core/input_contract.rego.j2`` walks on every decision (rendered into
  it as JSON-encoded literals; the logic that walks it is fixed);
- :func:`fast_checks` is the verdict alone, rendered as plain Rego rule bodies: what a
  well-formed input (the common case) costs;
- :func:`json_schema` is the same shape as a JSON Schema (draft 7), which OPA's
  ``json.match_schema`` can check; ``benchmarks/input_contract.py`` measures that road
  against the table, and ``tests/test_input_contract.py`` holds the two to the same
  verdict;
- ``docs/input.md`` is written from it by ``scripts/gen_docs.py``.

A field path is dot-separated from the input's root. ``[]`` stands for every element of
a list and ``*`` for every member of an object (one of them per path at most), so
``action.attachments[].size_bytes`` is the size of each attachment. Error messages name
the concrete path instead, indices as numbers: ``action.attachments.0.size_bytes``.
Fields nobody documented are allowed (conditions read them).

This module has no third-party imports and touches no files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

#: JSON types, as Rego's ``type_name`` spells them, and how an error message says them.
TYPE_TEXT = {
    "string": "a string",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}

#: Constraints beyond the JSON type, each checked by the Rego module; a field may also
#: have a ``pattern`` (RE2, as OPA's ``regex.match``).
CONSTRAINTS = ("non_empty", "non_negative", "integer")

#: ``currency``: three ASCII letters, so "USD " and "US$" are refused.
CURRENCY_PATTERN = "^[A-Za-z]{3}$"
#: ``recipient.address``: exactly one @ (RE2's negated class matches newlines too, so
#: only the count of @ matters).
ADDRESS_PATTERN = "^[^@]*@[^@]*$"

#: Action types that carry money and so need an ``amount``.
MONEY_ACTIONS = ("spend", "refund")


@dataclass(frozen=True)
class Field:
    """One documented input field and what a value there must be."""

    path: str
    type: str  # a key of TYPE_TEXT
    doc: str
    constraints: tuple[str, ...] = ()  # of CONSTRAINTS, all must hold
    pattern: str | None = None  # a string field must match it (then set `expected`)
    required: bool = False  # must be present whenever its parent is an object
    required_for: tuple[str, ...] = ()  # action types that need it (action.amount)
    domain_of: str | None = None  # a string field whose domain (after the @) it must equal
    expected: str = ""  # how a message says the value should be; derived when empty

    def describe(self) -> str:
        """How a message says what the value should be: ``a non-negative integer``."""
        if self.expected:
            return self.expected
        if self.type == "number":
            sign = "non-negative " if "non_negative" in self.constraints else ""
            noun = "integer" if "integer" in self.constraints else "number"
            return f"a {sign}{noun}"
        if "non_empty" in self.constraints:
            return "a non-empty string"
        return TYPE_TEXT[self.type]


def _counters(prefix: str, windows: tuple[str, ...], what: str) -> list[Field]:
    return [Field(f"{prefix}.{w}", "number", f"{what} in the current {w}", ("non_negative",))
            for w in windows]


FIELDS: tuple[Field, ...] = (
    Field("agent", "string", "the asking agent's id", ("non_empty",), required=True),
    Field("action", "object", "what the agent is about to do", required=True),
    Field("action.type", "string", "`send_email`, `send_message`, `spend`, `refund`, "
          "`api_call`, `attach_file`, `store_data`, `export_data`, `share_data` or any "
          "other name", ("non_empty",), required=True),
    Field("action.content", "object", "the message the action sends"),
    Field("action.content.text", "string", "its body (text rules read it)"),
    Field("action.content.subject", "string", "its subject (`pii` reads it)"),
    Field("action.content.tone", "string", "a tone label (`tone` rule)"),
    Field("action.content.topics", "array", "topic labels"),
    Field("action.content.topics[]", "string", "one topic label"),
    Field("action.amount", "number", "money the action moves, in `currency`",
          ("non_negative",), required_for=MONEY_ACTIONS),
    Field("action.currency", "string", "ISO 4217 code; compared case-insensitively",
          pattern=CURRENCY_PATTERN, expected="three letters (a currency code)"),
    Field("action.recipient", "object", "who receives what the action sends"),
    Field("action.recipient.address", "string", "an address `local@domain`",
          pattern=ADDRESS_PATTERN, expected="an address with exactly one @"),
    Field("action.recipient.domain", "string", "the recipient's domain; with an address, "
          "the address's domain (compared case-insensitively)",
          domain_of="action.recipient.address"),
    Field("action.api", "string", "the API an `api_call` calls"),
    Field("action.attachments", "array", "the files the action carries"),
    Field("action.attachments[]", "object", "one file"),
    Field("action.attachments[].name", "string", "its file name"),
    Field("action.attachments[].size_bytes", "number", "its size in bytes",
          ("integer", "non_negative")),
    Field("action.attachments[].content_type", "string", "its media type"),
    Field("action.data", "object", "the data the action stores, exports or shares"),
    Field("action.data.classes", "array", "the data classes it carries (absent: any class)"),
    Field("action.data.classes[]", "string", "one data class"),
    Field("action.data.records", "number", "how many records", ("non_negative",)),
    Field("action.data.retention_days", "number", "how long it is kept, in days",
          ("non_negative",)),
    Field("action.data.destination", "string", "where it is exported to"),
    Field("action.data.region", "string", "the region it goes to"),
    Field("action.data.consent", "boolean", "whether its subjects consented"),
    Field("action.data.purpose", "string", "what it is used for"),
    Field("usage", "object", "what the agent already did (the client fills it in)"),
    Field("usage.spend", "object", "amounts already spent, in the rule's currency"),
    *_counters("usage.spend", ("hour", "day", "month"), "spent"),
    Field("usage.actions", "object", "counts of actions already done, by action type"),
    Field("usage.actions.*", "object", "the counts of one action type"),
    *_counters("usage.actions.*", ("minute", "hour", "day"), "done"),
    Field("usage.apis", "object", "counts of API calls already made, by API (`*`: all)"),
    Field("usage.apis.*", "object", "the counts of one API"),
    *_counters("usage.apis.*", ("minute", "hour", "day"), "calls"),
)


def _split(path: str) -> tuple[list[str], str | None, list[str]]:
    """``a.b[].c`` -> (["a", "b"], "array", ["c"]); ``a.*.c`` -> (["a"], "object", ["c"])."""
    prefix: list[str] = []
    segments = path.split(".")
    for index, segment in enumerate(segments):
        if segment == "*":
            return prefix, "object", segments[index + 1:]
        if segment.endswith("[]"):
            return prefix + [segment[:-2]], "array", segments[index + 1:]
        prefix.append(segment)
    return prefix, None, []


def _check(spec: Field) -> dict[str, Any]:
    """What the Rego module checks of one value: its JSON type, constraints, pattern, and
    how a message says what it should be (absent keys: none of those)."""
    check: dict[str, Any] = {"type": spec.type}
    if spec.constraints:
        check["constraints"] = list(spec.constraints)
    if spec.pattern:
        check["pattern"] = spec.pattern
    check["expected"] = spec.describe()
    return check


def _fixed(path: str) -> list[str]:
    prefix, each, _ = _split(path)
    if each:
        raise ValueError(f"{path}: presence and cross-field checks take a fixed path")
    return prefix


def contract_data() -> dict[str, Any]:
    """The tables the Rego module holds, grouped so that a decision only looks below
    what the input has: ``objects`` lists, per object path, the checks of its documented
    members; ``collections`` lists, per list or map, the check of every member and of
    the members' own fields. The few fields with a presence or cross-field check are
    listed on their own. (The tables are rendered into the module as literals: as data
    they would be converted to Rego values on every decision, which costs more than the
    whole check; see benchmarks/input_contract.py.)"""
    objects: dict[tuple[str, ...], dict[str, Any]] = {}
    collections: dict[tuple[str, ...], dict[str, Any]] = {}
    for spec in FIELDS:
        prefix, each, rest = _split(spec.path)
        if each is None:
            group = objects.setdefault(tuple(prefix[:-1]), {"path": prefix[:-1], "fields": {}})
            group["fields"][prefix[-1]] = _check(spec)
        elif not rest:
            collections[tuple(prefix)] = {"path": prefix, "each": each,
                                          "member": _check(spec), "fields": {}}
        elif len(rest) == 1 and collections.get(tuple(prefix), {}).get("member", {}).get(
                "type") == "object":
            collections[tuple(prefix)]["fields"][rest[0]] = _check(spec)
        else:
            raise ValueError(f"{spec.path}: a member's field needs its member (an object) "
                             "declared first, one level up")
    return {
        "type_text": TYPE_TEXT,
        "objects": list(objects.values()),
        "collections": list(collections.values()),
        "required": [{"path": _fixed(spec.path), "expected": spec.describe()}
                     for spec in FIELDS if spec.required],
        "required_for": [{"path": _fixed(spec.path), "types": list(spec.required_for),
                          "expected": spec.describe()}
                         for spec in FIELDS if spec.required_for],
        "domain_of": [{"path": _fixed(spec.path), "address": _fixed(spec.domain_of)}
                      for spec in FIELDS if spec.domain_of],
    }


# ---- The verdict alone, as Rego rule bodies ------------------------------------

#: Rego tests, by (type, constraints), that a value fits; patterns get ``matching``.
_TESTS = {
    ("string", ()): "is_string(value)",
    ("string", ("non_empty",)): "non_empty(value)",
    ("number", ()): "is_number(value)",
    ("number", ("non_negative",)): "non_negative(value)",
    ("number", ("integer", "non_negative")): "non_negative_integer(value)",
    ("boolean", ()): "is_boolean(value)",
    ("array", ()): "is_array(value)",
    ("object", ()): "is_object(value)",
}

_SEGMENT = re.compile(r"^[a-z_]+$")


def _ref(segments: list[str], root: str = "input") -> str:
    """A Rego reference to a documented field; the segments are this module's own
    names, never authored text, and are checked to be plain identifiers."""
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise ValueError(f"{segment!r}: a contract path segment must be an identifier")
    return ".".join([root, *segments])


def _test(spec: Field, name: str) -> str:
    if spec.pattern:
        return f"matching({json.dumps(spec.pattern)}, {name})"
    return _TESTS[(spec.type, tuple(sorted(spec.constraints)))].replace("value", name)


def fast_checks() -> list[dict[str, Any]]:
    """The contract's verdict as rule bodies (lists of Rego expressions), one per check:
    any body that holds makes the input malformed. They say exactly what the tables say
    (``tests/test_input_contract.py`` holds the two to the same verdict), but a
    well-formed input, the common case, costs one failed lookup per absent field
    instead of a walk of the tables; the tables then only word the messages."""
    bodies: list[dict[str, Any]] = [{"path": "input", "body": ["not is_object(input)"]}]
    for spec in FIELDS:
        prefix, each, rest = _split(spec.path)
        if each is None:
            lookup, name = [f"value := {_ref(prefix)}"], "value"
        else:
            container = _ref(prefix)
            lookup, name = [f"is_{each}({container})", f"some member in {container}"], "member"
            if rest:
                lookup, name = [*lookup, f"value := {_ref(rest, 'member')}"], "value"
        bodies.append({"path": spec.path, "body": [*lookup, f"not {_test(spec, name)}"]})
        if spec.required:
            parent = _ref(prefix[:-1])
            bodies.append({"path": f"{spec.path} (required)", "body": [
                f"is_object({parent})", f"missing_key({parent}, {json.dumps(prefix[-1])})"]})
        if spec.required_for:
            parent = _ref(prefix[:-1])
            types = ", ".join(json.dumps(t) for t in spec.required_for)
            bodies.append({"path": f"{spec.path} (required for {', '.join(spec.required_for)})",
                           "body": [f"{_ref(prefix[:-1] + ['type'])} in {{{types}}}",
                                    f"missing_key({parent}, {json.dumps(prefix[-1])})"]})
        if spec.domain_of:
            address = _ref(_fixed(spec.domain_of))
            bodies.append({"path": f"{spec.path} (the domain of {spec.domain_of})", "body": [
                f"address := {address}", "is_string(address)",
                "parts := split(address, \"@\")", "count(parts) == 2",
                f"domain := {_ref(prefix)}", "is_string(domain)",
                "lower(parts[1]) != lower(domain)"]})
    return bodies


# ---- The same shape as a JSON Schema ---------------------------------------------

def _schema_node(spec: Field) -> dict[str, Any]:
    node: dict[str, Any] = {"type": spec.type}
    for constraint in spec.constraints:
        node.update({"non_empty": {"minLength": 1}, "non_negative": {"minimum": 0},
                     "integer": {"multipleOf": 1}}[constraint])
    if spec.pattern:
        node["pattern"] = spec.pattern
    return node


def json_schema() -> dict[str, Any]:
    """:data:`FIELDS` as a draft-7 JSON Schema. It says everything the table says except
    ``domain_of`` (a schema cannot compare two values), which only the Rego checks."""
    root: dict[str, Any] = {"type": "object"}
    nodes: dict[str, dict[str, Any]] = {"": root}
    for spec in FIELDS:
        parent_path, _, name = spec.path.rpartition(".")
        parent = nodes[parent_path]
        node = _schema_node(spec)
        if name == "*":
            parent["additionalProperties"] = node
        elif name.endswith("[]"):
            nodes[parent_path + ("." if parent_path else "") + name[:-2]]["items"] = node
        else:
            parent.setdefault("properties", {})[name] = node
            if spec.required:
                parent.setdefault("required", []).append(name)
            if spec.required_for:
                parent.setdefault("allOf", []).append({
                    "if": {"required": ["type"],
                           "properties": {"type": {"enum": list(spec.required_for)}}},
                    "then": {"required": [name]},
                })
        nodes[spec.path] = node
    return {"$schema": "http://json-schema.org/draft-07/schema#", **root}


# ---- docs/input.md ------------------------------------------------------------------

DOC_INTRO = """\
# The input an agent sends

This page is generated from `compiler/input_contract.py` by `scripts/gen_docs.py`; the
same model is rendered into the bundle's Rego (`lib/input_contract`), so this page and
the decision cannot disagree (`tests/test_input_contract.py` checks the page is current).

```json
{"agent": "sales-bot",
 "action": {"type": "send_email", "recipient": {"address": "bob@client.example"},
            "content": {"subject": "Quote", "text": "Hello Bob ...", "topics": ["sales"]}},
 "usage": {"actions": {"send_email": {"hour": 4}}}}
```

## The input contract

The agent is the party being governed, and an LLM writes most of its action fields, so
before any rule (and before the unknown-agent check) the decision checks the input
against the shape below (SPEC section 4, "The input contract"). An input that breaks it
gets `block` with exactly one violation, and nothing else (no other violations,
`suppressed` and `obligations` empty, `approval` null):

```json
{"pack": "_system", "rule": "invalid-input", "type": "invalid_input",
 "category": "safety", "enforcement": "block", "level": "identity",
 "message": "action.amount: expected a number, got string; agent: expected a string, got null"}
```

The message names **every** offending field path, one `PATH: expected WHAT, got WHAT`
per path, sorted and joined with `; `. Paths are dot-separated from the input's root,
list indices as numbers (`action.attachments.0.size_bytes`), map keys as they are
(`usage.actions.send_email.hour`); the input itself, when it is not an object, is
`input`. A wrong JSON type says the type it got (`got string`; `null` is a type, so a
present `null` is wrong, not missing); a value of the right type that breaks a
constraint is shown: numbers as they are, strings JSON-quoted (their first 40
characters, then `...`); a missing required field says `got nothing`. The rest of the
decision keeps its SPEC section 5 shape: `identity`, `revision`, and `agent` (the
input's when it is a string, else `null`).

Fields nobody documented are allowed anywhere (conditions read them), and are not
looked at.
"""

DOC_CHECKS = """\
## Checks beyond the type

- `agent`, `action` and `action.type` are required; a missing parent (no `action`)
  gets one message, not one per field under it.
- `action.amount` is required when `action.type` is {money} (`expected a non-negative
  number (spend needs one), got nothing`).
- `action.recipient.domain`, when `action.recipient.address` is a string with exactly
  one `@`, must equal the address's domain case-insensitively (`x@evil.com` with domain
  `acme.com` is refused: the domain would hide where the data goes).
- `[]` in a path stands for every element of a list, `*` for every member of an object.

## Decisions this page records (SPEC extensions and readings)

- `currency` must match `{currency}` (three ASCII letters): `"USD "`, `"US$"`, `""` and
  `null` are invalid; case is free (`usd` is USD).
- `size_bytes` is a non-negative whole number (`2.0` is whole; `2.5` and `-1` are not).
- `records` and `retention_days` are non-negative numbers (SPEC documents no sign for
  them; a negative count of records or of days has no meaning and would slip under a
  maximum).
- `agent` and `action.type` must be non-empty strings; `agent` need not be declared
  (an undeclared agent gets `unknown-agent`, but only once its input is well formed).
- `consent` is a JSON boolean (`"true"` is refused).
- A present `null` is a wrong type for every documented field.
- The address check counts `@` only (`@acme.com` and `bob@` have exactly one).
- An input that is not a JSON object gets the one message `input: expected an object,
  got TYPE`.
- Attachment names are judged as a file system would: trailing dots and spaces are
  dropped before the extension is taken (`virus.exe.` and `virus.exe . ` are `exe`; a
  name of dots has none); see [attachment](rules/attachment.md).

## Cost

The verdict is one plain Rego rule body per check (`lib/input_contract`, rendered from
this model): on a well-formed input, the common case, each is a lookup that fails at
once where the input has no such field. The tables that word the messages
(`lib/input_messages`) are walked only for a malformed input; they are literals in the
Rego module rather than data, because OPA converts data to Rego values on every read.
`tests/test_input_contract.py` holds the verdict and the messages to the same answer on
every input it tries. `benchmarks/input_contract.py` measures what the check adds to a
decision (`opa bench` and HTTP p50/p99, against the same bundle with no check, in the
same run), and the same shape checked by OPA's `json.match_schema` (the road not
taken).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown() -> str:
    """docs/input.md."""
    lines = [DOC_INTRO, "## Fields", "",
             "| field | JSON type | must be | meaning |", "|---|---|---|---|"]
    for spec in FIELDS:
        must = spec.describe()
        if spec.required:
            must += ", required"
        if spec.required_for:
            must += ", required for " + " and ".join(f"`{t}`" for t in spec.required_for)
        if spec.pattern:
            must += f", matching `{spec.pattern}`"
        lines.append(f"| `{spec.path}` | {spec.type} | {_cell(must)} | {_cell(spec.doc)} |")
    money = " or ".join(f"`{t}`" for t in MONEY_ACTIONS)
    lines += ["", DOC_CHECKS.format(money=money, currency=f"`{CURRENCY_PATTERN}`")]
    return "\n".join(lines)
