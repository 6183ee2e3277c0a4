"""Tool bindings (kind: Tool): validated like every document (FILE:LINE), compiled to
data, and mapped by OPA, so that a decision on {agent, tool} is the decision on the
action the binding derives. Malformed calls, unbound tools and hostile names fail closed."""

# ruff: noqa: E501
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import agent, decide, identity, pack
from test_validation import Case, problem_lines

API = "policypacks/v1"

CORPUS = [
    Case("tool document mistakes", {"tools.yaml": """
        apiVersion: policypacks/v1
        kind: Tool
        metadata: {id: Stripe}  #! metadata.id: "Stripe" is not valid
        spec:
          tool: "stripe charge"  #! spec.tool: "stripe charge" is not valid
          action: spend
          fields:
            amount: {from: amount, divide: 0}  #! spec.fields.amount.divide: cannot divide by 0
            currency: {from: currency, value: USD}  #! spec.fields.currency: give exactly one of 'from'
            type: {value: refund}  #! spec.fields.type: 'type': the action's 'type' is set by the binding
            tool.name: {value: x}  #! spec.fields.tool.name: 'tool.name': the action's 'tool'
            recipient: {from: to}  #! spec.fields.recipient: 'recipient' and 'recipient.domain' cannot both be mapped
            recipient.domain: {value: acme.com}
            content.text: {from: "body text"}  #! spec.fields.content.text.from: "body text" is not valid
            data.records: {value: 3, divide: 2}  #! spec.fields.data.records: 'default' and 'divide' go with 'from'
            api: {frm: x}  #! spec.fields.api.frm: unknown key 'frm' (did you mean 'from'?)
          exampels: []  #! spec.exampels: unknown key 'exampels' (did you mean 'examples'?)
        ---
        apiVersion: policypacks/v1
        kind: Tool
        metadata: {id: no-action}
        spec: {tool: gmail.send}  #! spec: missing required key 'action'
        """}),
    Case("duplicate tools and examples naming unknown rules", {"tools.yaml": """
        apiVersion: policypacks/v1
        kind: Tool
        metadata: {id: one}
        spec:
          tool: gmail.send
          action: send_email
          examples:
            - {name: e, agent: bot, expect: alow}  #! spec.examples[0].expect: must be one of
            - {name: f, agent: bot, expect: block, violations: [caps/nope]}  #! example 'f' expects a violation of unknown rule 'caps/nope'
        ---
        apiVersion: policypacks/v1
        kind: Tool
        metadata: {id: one}  #! duplicate Tool id 'one'
        spec: {tool: other, action: x}
        ---
        apiVersion: policypacks/v1
        kind: Tool
        metadata: {id: two}  #! tool 'gmail.send' is already bound at
        spec: {tool: gmail.send, action: send_email}
        """, "caps.yaml": """
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}
        spec: {enforcement: block}
        """}),
    Case("identity unboundTools and tool_access parameters", {"identity.yaml": """
        apiVersion: policypacks/v1
        kind: Identity
        metadata: {id: acme}
        spec: {unboundTools: warn}  #! spec.unboundTools: must be one of block, allow
        """, "pack.yaml": """
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: tools}
        spec:
          enforcement: block
          rules:
            - {id: a, type: tool_access, allow: stripe.*}  #! spec.rules[0].allow: expected a list
            - {id: b, type: tool_access, block: [""]}  #! spec.rules[1].block[0]: must not be empty
            - {id: c, type: tool_access, when: {field: arguments.x, bigger: 1}}  #! spec.rules[2].when
        """}, identity=False),
]


@pytest.mark.parametrize("corpus_case", CORPUS, ids=[c.name for c in CORPUS])
def test_tool_documents_are_validated(corpus_case: Case, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    corpus_case.write(tmp_path / "repo")
    lines = problem_lines(Path("repo"))
    unmatched = list(lines)
    missing = []
    for prefix, substring in corpus_case.expected("repo"):
        hit = next((line for line in unmatched
                    if line.startswith(prefix) and substring in line[len(prefix):]), None)
        if hit is None:
            missing.append(f"{prefix}...{substring}")
        else:
            unmatched.remove(hit)
    assert not missing and not unmatched, (
        "expected but not reported:\n  " + "\n  ".join(missing)
        + "\nreported but not expected:\n  " + "\n  ".join(unmatched))


def tool(id: str, name: str, action: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Tool", "metadata": {"id": id},
            "spec": {"tool": name, "action": action, "fields": fields}}


HOSTILE = 'x"}#}else:=true\\'
DOCS = [
    identity("acme"),
    pack("caps", "block", [{"id": "single", "type": "spending_limit", "max": 500,
                            "period": "transaction"}]),
    agent("bot"),
    tool("charge", "stripe.create_charge", "spend",
         amount={"from": "amount", "divide": 100}, currency={"from": "currency", "default": "USD"},
         **{"data.purpose": {"value": "billing"}, "recipient.domain": {"value": "stripe.com"}}),
    tool("mail", "gmail.send", "send_email",
         **{"recipient.address": {"from": "to"}, "content.text": {"from": "message.body"},
            "content.subject": {"from": "subject", "default": ""}}),
    tool("hostile", HOSTILE, "api_call", api={"value": HOSTILE}),
]


def call(name: Any, arguments: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if arguments is not None:
        body["arguments"] = arguments
    return {"agent": "bot", "tool": body, **extra}


def without_tool(action: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in action.items() if k != "tool"}


# (what, input, decision, violations, the mapped action without `tool`)
CASES = [
    ("cents become dollars, the currency is the argument's",
     call("stripe.create_charge", {"amount": 2050, "currency": "eur"}), "allow", [],
     {"type": "spend", "amount": 20.5, "currency": "eur", "data": {"purpose": "billing"},
      "recipient": {"domain": "stripe.com"}}),
    ("a missing argument takes its default",
     call("stripe.create_charge", {"amount": 100}), "allow", [],
     {"type": "spend", "amount": 1, "currency": "USD", "data": {"purpose": "billing"},
      "recipient": {"domain": "stripe.com"}}),
    ("the mapped amount meets the caps", call("stripe.create_charge", {"amount": 60000}),
     "block", ["caps/single"], None),
    ("nested argument paths; absent fields stay absent (no empty objects)",
     call("gmail.send", {"message": {"body": "hi"}}), "allow", [],
     {"type": "send_email", "content": {"text": "hi", "subject": ""}}),
    ("no arguments at all", call("gmail.send"), "allow", [],
     {"type": "send_email", "content": {"subject": ""}}),
    ("a value the model typed wrong is passed on as it is, not divided",
     call("stripe.create_charge", {"amount": "2000"}), None, None,
     {"type": "spend", "amount": "2000", "currency": "USD", "data": {"purpose": "billing"},
      "recipient": {"domain": "stripe.com"}}),
    ("a hostile tool name is data", call(HOSTILE, {}), "allow", [],
     {"type": "api_call", "api": HOSTILE}),
    ("an unbound tool is blocked", call("shell.run", {"cmd": "rm -rf /"}), "block",
     ["_system/unbound-tool"], {"type": "tool_call"}),
    ("the action inside a tool call is derived, never taken from the caller",
     {"agent": "bot", "action": {"type": "spend", "amount": 1, "tool": {
         "name": "stripe.create_charge", "arguments": {"amount": 90000}}}},
     "block", ["caps/single"], None),
    ("tool is not an object", {"agent": "bot", "tool": "stripe.create_charge"}, "block",
     ["_system/invalid-tool"], {"type": "tool_call"}),
    ("tool.name is not a string", call(7, {}), "block", ["_system/invalid-tool"], None),
    ("tool.name is empty", call("", {}), "block", ["_system/invalid-tool"], None),
    ("tool.arguments is not an object", call("gmail.send", ["x"]), "block",
     ["_system/invalid-tool"], None),
    ("tool is null", {"agent": "bot", "tool": None}, "block", ["_system/invalid-tool"], None),
    ("action.tool is not an object", {"agent": "bot", "action": {"type": "spend", "tool": 1}},
     "block", ["_system/invalid-tool"], None),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return decide(tmp_path_factory.mktemp("tools"), DOCS, [c[1] for c in CASES])


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[0] for c in CASES])
def test_tool_calls(index: int, results: list[dict[str, Any]]) -> None:
    _, _, decision, violations, action = CASES[index]
    result = results[index]
    if decision is not None:
        assert result["decision"] == decision
    if violations is not None:
        assert sorted(f"{v['pack']}/{v['rule']}" for v in result["violations"]) == violations
    if action is not None:
        assert without_tool(result["action"]) == action
    assert "tool" in result["action"]  # the decision shows the call it mapped


def test_unbound_tools_allow(tmp_path: Path) -> None:
    docs = [identity("acme", unboundTools="allow"), agent("bot")]
    [result] = decide(tmp_path, docs, [call("shell.run", {"cmd": "ls"})])
    assert (result["decision"], result["action"]["type"]) == ("allow", "tool_call")


def test_a_plain_action_has_no_action_field(results: list[dict[str, Any]], tmp_path: Path) -> None:
    [result] = decide(tmp_path, DOCS, [{"agent": "bot", "action": {"type": "spend", "amount": 5}}])
    assert "action" not in result and result["decision"] == "allow"


@pytest.mark.parametrize("module, loaded", [
    ("policypacks.runtime", False),  # the guard included: no framework is loaded
    ("policypacks.integrations", False),  # the adapters' shared part neither
    ("policypacks.integrations.langchain", True),
    ("policypacks.integrations.openai_agents", True),
    ("policypacks.integrations.mcp_proxy", True),
])
def test_only_an_integration_loads_its_framework(module: str, loaded: bool) -> None:
    import json
    import subprocess
    import sys
    frameworks = ("langchain", "langgraph", "agents", "mcp")
    code = (f"import sys, json\nimport {module}\n"
            f"print(json.dumps(sorted(m for m in {frameworks!r} if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    found = json.loads(result.stdout)
    assert bool(found) == loaded, found
