"""SPEC section 2: a malformed-input corpus. Every mistake is reported as
`FILE:LINE: message`, all of them at once, exit code 2, and nothing is written.

Each case is a small repository written as annotated YAML: a line that must be
reported ends with `#! <substring of the message>` (several `#!` for several errors on
one line). The test checks that exactly those lines are reported -- the exact
`FILE:LINE: ` prefix and the substring -- and nothing else. Unless a case declares its
own Identity, a valid one is added in identity.yaml.
"""

# The corpus lines are annotated YAML, a message substring after each: they stay long.
# ruff: noqa: E501
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from policypacks.errors import ValidationFailed
from policypacks.validate import validate_repository

POLICYPACKS = Path(sys.executable).with_name("policypacks")
MARK = "#!"
IDENTITY = """\
apiVersion: policypacks/v1
kind: Identity
metadata: {id: acme}
spec: {}
"""
CAPS = """\
apiVersion: policypacks/v1
kind: PolicyPack
metadata: {id: caps, category: operational}
spec:
  enforcement: require_approval
  rules:
    - {id: daily, type: spending_limit, max: 100, period: day}
"""


@dataclass
class Case:
    name: str
    files: dict[str, str]  # file name -> annotated YAML
    repo_errors: list[str] = field(default_factory=list)  # errors naming the directory
    identity: bool = True  # add identity.yaml

    def write(self, root: Path) -> None:
        root.mkdir(parents=True)
        if self.identity:
            (root / "identity.yaml").write_text(IDENTITY)
        for name, text in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))

    def expected(self, shown: str) -> list[tuple[str, str]]:
        """(prefix, substring) for every marked error."""
        found = []
        for name, text in self.files.items():
            for number, line in enumerate(textwrap.dedent(text).splitlines(), start=1):
                for substring in line.split(MARK)[1:]:
                    found.append((f"{shown}/{name}:{number}: ", substring.strip()))
        found += [(f"{shown}: ", substring) for substring in self.repo_errors]
        return found


def case(name: str, *texts: str, **options: object) -> Case:
    """A case of one file (case.yaml) or several (a.yaml, b.yaml, ...)."""
    names = ["case.yaml"] if len(texts) == 1 else [f"{chr(97 + i)}.yaml"
                                                    for i in range(len(texts))]
    return Case(name, dict(zip(names, texts, strict=True)), **options)  # type: ignore[arg-type]


CORPUS = [
    case("unknown keys, with did-you-mean", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps, nmae: Caps}  #! metadata.nmae: unknown key 'nmae' (did you mean 'name'?)
        spec:
          enforcement: block
          overidable: false  #! spec.overidable: unknown key 'overidable' (did you mean 'overridable'?)
          rules:
            - id: daily
              type: spending_limit
              max: 100
              period: day
              curency: EUR  #! spec.rules[0].curency: unknown key 'curency' (did you mean 'currency'?)
          exmaples: []  #! unknown key 'exmaples' (did you mean 'examples'?)
        """),
    case("unknown keys in the envelope", """\
        apiVersion: policypacks/v1  #! missing required key 'spec'
        kind: Agent
        metadata: {id: bot}
        specs: {packs: []}  #! unknown key 'specs' (did you mean 'spec'?)
        """),
    case("unknown keys of Identity and Agent", textwrap.dedent("""\
        apiVersion: policypacks/v1
        kind: Identity
        metadata: {id: acme}
        spec:
          allowAgentOverride: true  #! unknown key 'allowAgentOverride' (did you mean 'allowAgentOverrides'?)
          escalation: {approvers: [ops], timout: 1h}  #! spec.escalation.timout: unknown key 'timout' (did you mean 'timeout'?)
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: bot}
        spec:
          packs:
            - {pack: caps, enforce: warn}  #! spec.packs[0].enforce: unknown key 'enforce' (did you mean 'enforcement'?)
          precedance: most_restrictive  #! unknown key 'precedance' (did you mean 'precedence'?)
        ---
        """) + CAPS, identity=False),
    case("wrong types", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps, name: 42}  #! metadata.name: expected a string, got integer 42
        spec:
          enforcement: block
          overridable: no  #! spec.overridable: expected true or false, got string "no"
          scope: [bot]  #! spec.scope: expected all, none or {agents: [id, ...]}, got list
          rules:
            - id: daily
              type: spending_limit
              max: "100"  #! spec.rules[0].max: expected a number, got string "100"
              period: day
            - id: negative
              type: spending_limit
              max: -5  #! spec.rules[1].max: must be at least 0, got -5
              period: day
            - just-a-string  #! spec.rules[2]: a rule must be a mapping, got string "just-a-string"
            - id: route
              type: escalation
              priority: 1.5  #! spec.rules[3].priority: expected an integer, got number 1.5
              timeout: 24 hours  #! spec.rules[3].timeout: expected a duration such as 24h, 30m or 1d, got string "24 hours"
              approvers: ops  #! spec.rules[3].approvers: expected a list, got string "ops"
          examples:
            - {name: x, input: [1], expect: allow}  #! spec.examples[0].input: expected a mapping (the input document), got list
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: bot}
        spec: {packs: caps}  #! spec.packs: expected a list, got string "caps"
        """),
    case("wrong types of the Identity", """\
        apiVersion: policypacks/v1
        kind: Identity
        metadata: {id: acme}
        spec:
          allowAgentOverrides: "true"  #! spec.allowAgentOverrides: expected true or false, got string "true"
          internalDomains: acme.com  #! spec.internalDomains: expected a list, got string "acme.com"
          escalation: [ops]  #! spec.escalation: expected a mapping, got list
        """, identity=False),
    case("values outside the listed choices", """\
        apiVersion: policypacks/v1
        kind: Identity
        metadata: {id: acme}
        spec:
          precedence: most_restrictve  #! spec.precedence: must be one of identity_overrides, most_restrictive, agent_overrides; got string "most_restrictve" (did you mean 'most_restrictive'?)
          unknownAgents: allow  #! spec.unknownAgents: must be one of block, defaults; got string "allow"
          escalation: {fallback: deny}  #! spec.escalation.fallback: must be one of block, allow; got string "deny"
        ---
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps, category: ops}  #! metadata.category: must be one of brand, safety, compliance, operational, data_governance, escalation
        spec:
          enforcement: deny  #! spec.enforcement: must be one of block, require_approval, warn, shadow; got string "deny"
          scope: everyone  #! spec.scope: must be one of all, none; got string "everyone"
          rules:
            - {id: daily, type: spending_limit, max: 1, period: week}  #! spec.rules[0].period: must be one of transaction, hour, day, month
            - {id: loud, type: condition, when: {field: a, exists: true}, enforcement: allow}  #! spec.rules[1].enforcement: must be one of block, require_approval, warn
          examples:
            - {name: x, input: {agent: bot}, expect: deny}  #! spec.examples[0].expect: must be one of allow, warn, require_approval, block
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: bot}
        spec:
          precedence: agent_override  #! (did you mean 'agent_overrides'?)
          packs: [{pack: caps, enforcement: allow}]  #! spec.packs[0].enforcement: must be one of block, require_approval, warn
        """, identity=False),
    case("missing required keys and unknown rule types", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {name: Caps}  #! metadata: missing required key 'id'
        spec:  #! spec: missing required key 'enforcement'
          rules:
            - {type: spending_limit, max: 1, period: day}  #! spec.rules[0]: missing required key 'id'
            - {id: no-type, max: 1}  #! spec.rules[1]: missing required key 'type'
            - {id: no-period, type: spending_limit, max: 1}  #! spec.rules[2]: missing required key 'period'
            - {id: typo, type: spending_limits}  #! spec.rules[3].type: unknown rule type string "spending_limits" (did you mean 'spending_limit'?)
          examples:
            - {name: x, input: {}}  #! spec.examples[0]: missing required key 'expect'
        """),
    case("bad ids", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: Caps}  #! metadata.id: "Caps" is not valid: ids are lowercase letters, digits and '-'
        spec: {enforcement: block}
        ---
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: 1caps}  #! metadata.id: "1caps" is not valid
        spec: {enforcement: block}
        ---
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps_eu}  #! metadata.id: "caps_eu" is not valid
        spec:
          enforcement: block
          scope: {agents: [Bot]}  #! spec.scope.agents[0]: "Bot" is not valid
          rules:
            - {id: Daily, type: condition, when: {field: a, exists: true}}  #! spec.rules[0].id: "Daily" is not valid
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: a234567890123456789012345678901234567890123456789012345678901234}  #! metadata.id: "a234567890123456789012345678901234567890123456789012345678901234" is not valid
        spec: {}
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: "bot\\n"}  #! metadata.id: "bot\\n" is not valid
        spec: {}
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: ""}  #! metadata.id: "" is not valid
        spec: {packs: [Caps]}  #! spec.packs[0]: "Caps" is not valid
        """),
    case("duplicate ids, per kind, across files", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}
        spec:
          enforcement: block
          rules:
            - {id: daily, type: spending_limit, max: 1, period: day}
            - {id: daily, type: spending_limit, max: 2, period: month}  #! duplicate rule id 'daily' in pack 'caps' (first declared at repo/a.yaml:7)
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: caps}
        spec: {packs: [caps, {pack: caps, enforcement: warn}]}  #! duplicate pack attachment id 'caps' in agent 'caps'
        """, """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}  #! duplicate PolicyPack id 'caps' (first declared at repo/a.yaml:3)
        spec: {enforcement: warn}
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: caps}  #! duplicate Agent id 'caps' (first declared at repo/a.yaml:12)
        spec: {}
        """),
    case("unknown pack and rule references", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}
        spec:
          enforcement: require_approval
          rules:
            - {id: daily, type: spending_limit, max: 1, period: day}
            - id: route  #! matches unknown pack 'cpas' (did you mean 'caps'?) #! matches unknown rule 'caps/weekly' #! matches unknown rule 'dialy'
              type: escalation
              match: {packs: [cpas, caps], rules: [caps/weekly, caps/daily, dialy, daily]}
          examples:
            - name: cap  #! example 'cap' expects a violation of unknown rule 'caps/nope'
              input: {agent: bot}
              expect: allow
              violations: [caps/nope, caps/daily, _system/unknown-agent]
            - {name: bad ref, input: {}, expect: allow, violations: [daily]}  #! spec.examples[1].violations[0]: "daily" is not valid: write violations as pack/rule
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: bot}
        spec:
          packs:
            - cpas  #! agent 'bot' attaches unknown pack 'cpas' (did you mean 'caps'?)
            - {pack: ghost}  #! agent 'bot' attaches unknown pack 'ghost'
        """),
    case("no Identity: the error names the repository", CAPS, identity=False,
         repo_errors=["no Identity document"]),
    case("two Identities", IDENTITY, """\
        apiVersion: policypacks/v1
        kind: Identity
        metadata: {id: other}  #! a repository has exactly one Identity; another is declared at repo/a.yaml:3
        spec: {}
        """, identity=False),
    case("apiVersion, kind and document shape", """\
        apiVersion: policypacks/v2  #! apiVersion must be 'policypacks/v1', got string "policypacks/v2"
        kind: PolicyPack
        metadata: {id: caps}
        spec: {enforcement: block}
        ---
        apiVersion: policypacks/v1
        kind: Policypack  #! kind must be one of Identity, PolicyPack, Agent, Tool, Waiver, Test; got string "Policypack" (did you mean 'PolicyPack'?)
        metadata: {id: other}
        spec: {}
        ---
        - a list  #! a document must be a mapping, got list
        """),
    case("YAML syntax error: later documents are lost, earlier ones checked", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}
        spec: {enforcement: blok}  #! spec.enforcement: must be one of block, require_approval, warn
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: bot}
        spec: {packs: [caps}  #! YAML syntax error: the '[' opened on line 9 is not closed with ']', or a ',' is missing
        """),
    case("YAML syntax errors in several files", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
          metadata: {id: caps}  #! YAML syntax error: a ': ' where no key can start: if this line is a new key, indent it like the keys above it
        """, """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata:
        \tid: caps  #! YAML syntax error: YAML does not allow tabs for indentation; use spaces
        """, """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps
        spec: {}  #! YAML syntax error: the '{' opened on line 3 is not closed with '}'
        """, """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: *caps  #! YAML syntax error: found undefined alias 'caps'
        """),
    case("duplicate YAML keys are reported, and the rest is still checked", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}
        spec:
          enforcement: block
          rules:
            - id: daily
              type: spending_limit
              max: 100
              period: day
              max: 200  #! YAML: duplicate key 'max' (first at line 9)
          enforcement: warn  #! YAML: duplicate key 'enforcement' (first at line 5)
          scope: nobody  #! spec.scope: must be one of all, none
        """),
    case("values JSON cannot carry", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}
        spec:
          enforcement: block
          rules:
            - {id: daily, type: spending_limit, max: .inf, period: day}  #! unsupported YAML value: '.inf' is not a finite number
        """, """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: other}
        spec:
          enforcement: block
          examples:
            - {name: x, input: {at: !!timestamp 2024-01-01}, expect: allow}  #! unsupported YAML value: !!timestamp values are not supported
        """, """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: third}
        spec:
          enforcement: block
          rules:
            - {id: c, type: condition, when: {field: a, equals: !!binary aGk=}}  #! unsupported YAML value: !!binary
        """),
    case("condition operators, field paths and operand types", """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: conds}
        spec:
          enforcement: block
          rules:
            - {id: c1, type: condition, when: {field: action.amount, equal: 3}}  #! spec.rules[0].when.equal: unknown condition operator 'equal' (did you mean 'equals'?)
            - {id: c2, type: condition, when: {field: action..x, equals: 3}}  #! spec.rules[1].when.field: field path string "action..x" is not valid
            - {id: c3, type: condition, when: {field: action.a-b, exists: true}}  #! field path string "action.a-b" is not valid
            - {id: c4, type: condition, when: {field: "action.x ", exists: true}}  #! field path string "action.x " is not valid
            - {id: c5, type: condition, when: {field: "action.x\\n", exists: true}}  #! field path string "action.x\\n" is not valid
            - {id: c6, type: condition, when: {field: action.é, exists: true}}  #! field path string "action.é" is not valid
            - {id: c7, type: condition, when: {field: 5, equals: 1}}  #! field path integer 5 is not valid
            - {id: c8, type: condition, when: {field: action.amount, gt: 1, lt: 5}}  #! spec.rules[7].when: a condition leaf needs exactly one operator besides 'field', got gt, lt
            - {id: c9, type: condition, when: {field: action.amount}}  #! needs exactly one operator besides 'field', got none
            - {id: c10, type: condition, when: {equals: 1}}  #! spec.rules[9].when: a condition needs 'field'
            - {id: c11, type: condition, when: {field: action.type, in: refund}}  #! spec.rules[10].when.in: 'in' takes a list, got string "refund"
            - {id: c12, type: condition, when: {field: action.type, not_in: 5}}  #! 'not_in' takes a list, got integer 5
            - {id: c13, type: condition, when: {field: action.x, exists: "yes"}}  #! 'exists' takes true or false, got string "yes"
            - {id: c14, type: condition, when: {field: action.x, gt: [1]}}  #! 'gt' takes a number (or a string), got list
            - {id: c15, type: condition, when: {field: action.x, lte: true}}  #! 'lte' takes a number (or a string), got boolean true
            - {id: c16, type: condition, when: {field: action.x, matches: 5}}  #! 'matches' takes a string, got integer 5
            - {id: c17, type: condition, when: {field: action.x, starts_with: [a]}}  #! 'starts_with' takes a string, got list
            - {id: c18, type: condition, when: {all: {field: a, exists: true}}}  #! spec.rules[17].when.all: expected a list of conditions, got mapping
            - {id: c19, type: condition, when: {all: [], field: a}}  #! 'all' cannot be combined with other keys: field
            - {id: c20, type: condition, when: {not: {field: a, exists: true}, field: a}}  #! 'not' cannot be combined with other keys
            - {id: c21, type: condition, when: "action.amount > 3"}  #! spec.rules[20].when: expected a condition
            - {id: c22, type: condition, when: {field: "a..b", in: 5}}  #! field path string "a..b" is not valid #! 'in' takes a list, got integer 5
            - {id: c23, type: condition}  #! spec.rules[22]: missing required key 'when'
            - id: c24
              type: condition
              when:
                any:
                  - {field: action.type, equals: refund}
                  - not:
                      all:
                        - {field: action.amount, gte: 10}
                        - {field: action.amount, between: [1, 2]}  #! spec.rules[23].when.any[1].not.all[1].between: unknown condition operator 'between'
        """),
    case("regular expressions as OPA's RE2 sees them", r"""
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: rx}
        spec:
          enforcement: block
          rules:
            - id: t
              type: prohibited_topics
              topics:
                literal: ["(?=x)", '(a)\1', "a{1001}"]  # keywords are literal text: fine
              patterns:
                ahead: ["(?=x)y"]  #! spec.rules[0].patterns.ahead[0]: invalid regular expression
                behind: ["(?<=x)y"]  #! spec.rules[0].patterns.behind[0]: invalid regular expression
                negative: ["x(?!y)", "(?<!x)y"]  #! patterns.negative[0]: invalid regular expression #! patterns.negative[1]: invalid regular expression
                backref: ['(a)\1']  #! spec.rules[0].patterns.backref[0]: invalid regular expression
                python-only: ['a\Z', 'a{1001}']  #! python-only[0]: invalid regular expression #! python-only[1]: invalid regular expression
                unbalanced: ["(a"]  #! spec.rules[0].patterns.unbalanced[0]: invalid regular expression
                fine: ['\d{3}-\d{4}', '(?i)bit ?coin', '\p{L}+', '\pN', '[[:alpha:]]+', '(?P<n>x)', '\bword\b', '(?s)a.b', '\Qa.b\E']
            - id: c
              type: condition
              when:
                any:
                  - {field: action.api, matches: '(?<!admin)\.x'}  #! spec.rules[1].when.any[0].matches: invalid regular expression
                  - {field: action.api, matches: '(?i)^admin\.\d+$'}
        """.removeprefix("\n")),
    # kind: Test (docs/testing.md): whole-agent scenarios; an undeclared agent is allowed
    case("Test documents: shapes and references", CAPS, """\
        apiVersion: policypacks/v1
        kind: Test
        metadata: {id: scenarios}
        spec:
          cases:
            - name: every expectation, well formed
              input: {agent: ghost, action: {type: spend, amount: 5}}
              expect: allow
              violations: {include: [caps/daily], exclude: [_system/unknown-agent]}
              approval: null
              obligations: {include: [{type: append_signature}], exclude: [{type: redact}]}
              shadow: []
              waived: {exclude: [caps/daily]}
            - name: typos
              input: {agent: bot}
              expect: alow  #! spec.cases[1].expect: must be one of allow, warn, require_approval, block
              violation: []  #! spec.cases[1].violation: unknown key 'violation' (did you mean 'violations'?)
            - name: wrong types
              input: [1]  #! spec.cases[2].input: expected a mapping (the input document), got list
              expect: block
              violations: caps/daily  #! spec.cases[2].violations: expected a list of pack/rule ids, or {include: [...], exclude: [...]}, got string "caps/daily"
              approval: {route: identity, timeout_seconds: 4h, approver: [x]}  #! spec.cases[2].approval.approver: unknown key 'approver' (did you mean 'approvers'?) #! spec.cases[2].approval.timeout_seconds: expected an integer, got string "4h"
              obligations: [append_signature]  #! spec.cases[2].obligations[0]: expected a mapping (an obligation), got string "append_signature"
              shadow: {include: [daily]}  #! spec.cases[2].shadow.include[0]: "daily" is not valid: write violations as pack/rule
            - name: unknown references  #! case 'unknown references' names unknown rule 'caps/weekly' #! case 'unknown references' expects approval route 'caps/daily', which is no escalation rule
              input: {agent: bot}
              expect: require_approval
              violations: [caps/weekly, caps/daily]
              approval: {route: caps/daily}
            - {input: {agent: bot}, expect: allow}  #! spec.cases[4]: missing required key 'name'
        ---
        apiVersion: policypacks/v1
        kind: Test
        metadata: {id: scenarios}  #! duplicate Test id 'scenarios' (first declared at repo/b.yaml:3)
        spec:
          cases: []  #! spec.cases: a Test needs at least one case
        ---
        apiVersion: policypacks/v1
        kind: Test
        metadata: {id: no-cases}
        spec: {case: []}  #! spec.case: unknown key 'case' (did you mean 'cases'?) #! spec: missing required key 'cases'
        """),
]


def problem_lines(root: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as failed:
        validate_repository(root)
    return failed.value.lines()


@pytest.mark.parametrize("corpus_case", CORPUS, ids=[c.name for c in CORPUS])
def test_malformed_repository(corpus_case: Case, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    corpus_case.write(tmp_path / "repo")
    lines = problem_lines(Path("repo"))
    expected = corpus_case.expected("repo")
    unmatched = list(lines)
    missing = []
    for prefix, substring in expected:
        hit = next((line for line in unmatched
                    if line.startswith(prefix) and substring in line[len(prefix):]), None)
        if hit is None:
            missing.append(f"{prefix}...{substring}")
        else:
            unmatched.remove(hit)
    assert not missing and not unmatched, (
        "expected but not reported:\n  " + "\n  ".join(missing)
        + "\nreported but not expected:\n  " + "\n  ".join(unmatched))


VALID = """\
apiVersion: policypacks/v1
kind: PolicyPack
metadata: {id: same-id, name: "Same id as the agent: ids are unique per kind"}
spec:
  enforcement: block
  overridable: false
  scope: {agents: [same-id, not-declared-is-fine]}
  rules:
    - id: t
      type: prohibited_topics
      topics: {literal: ["(?=x)", 'a\\1', "c++", "#hash", "}"]}
      patterns: {rx: ['\\d+', '(?i)x', '\\p{L}', '\\bword\\b']}
    - id: c
      type: condition
      when: {field: action.data.x_1.Y2, matches: '^\\p{Lu}\\d$'}
    - {id: route, type: escalation, timeout: 90, match: {rules: [same-id/t, c]}}
    - &cap {id: cap-a, type: spending_limit, max: 10, period: day}
    - {<<: *cap, id: cap-b, period: month}
---
apiVersion: policypacks/v1
kind: Agent
metadata: {id: same-id}
spec: {packs: [same-id]}
---
apiVersion: policypacks/v1
kind: Agent
metadata: {id: a23456789012345678901234567890123456789012345678901234567890123}
spec: {packs: [same-id]}
---
apiVersion: policypacks/v1
kind: Agent
metadata: {id: merged}
spec:
  <<: [{packs: [same-id]}, {precedence: most_restrictive}]
  precedence: identity_overrides  # overrides the merged key: not a duplicate
"""


def test_tricky_but_valid_repository(tmp_path: Path) -> None:
    (tmp_path / "identity.yaml").write_text(IDENTITY)
    (tmp_path / "packs.yml").write_text(VALID)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "broken.yaml").write_text("not: [valid")  # dot-dirs skipped
    (tmp_path / "notes.txt").write_text("not: [yaml")  # only *.yaml / *.yml
    repo = validate_repository(tmp_path)
    assert set(repo.packs) == {"same-id"} and len(repo.agents) == 3
    # YAML anchors and merge keys work; the mapping's own keys override merged ones
    assert [(r.id, r.params["period"]) for r in repo.packs["same-id"].rules[3:]] == [
        ("cap-a", "day"), ("cap-b", "month")]
    merged = repo.agents["merged"]
    assert (merged.precedence, [a.pack for a in merged.packs]) == ("identity_overrides",
                                                                   ["same-id"])


# ---------------------------------------------------------------------------------------
# All errors at once, through the command line
# ---------------------------------------------------------------------------------------

KITCHEN_SINK = Case("kitchen sink", {
    "identity.yaml": """\
        apiVersion: policypacks/v1
        kind: Identity
        metadata: {id: acme}
        spec: {precedence: strictest}  #! spec.precedence: must be one of
        """,
    "packs/caps.yaml": """\
        apiVersion: policypacks/v1
        kind: PolicyPack
        metadata: {id: caps}
        spec:
          enforcement: block
          rules:
            - {id: daily, type: spending_limit, max: lots, period: day}  #! expected a number
            - {id: rx, type: prohibited_topics, patterns: {a: ["(?=a)"]}}  #! invalid regular expression
            - {id: daily, type: condition, when: {field: x, equal: 1}}  #! unknown condition operator 'equal' #! duplicate rule id 'daily'
        """,
    "agents/bot.yml": """\
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: bot}
        spec: {packs: [caps, capz], precedense: x}  #! unknown pack 'capz' #! unknown key 'precedense'
        ---
        apiVersion: policypacks/v1
        kind: Agent
        metadata: {id: bot}  #! duplicate Agent id 'bot'
        spec: {}
        """,
}, identity=False)

LOCATED = re.compile(r"^repo(/[\w./-]+:\d+)?: \S")


def run_cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POLICYPACKS), *args], cwd=cwd, capture_output=True, text=True,
                          input=stdin, check=False, timeout=120)


def test_every_error_at_once_through_the_cli(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    KITCHEN_SINK.write(tmp_path / "repo")
    lines = problem_lines(Path("repo"))
    assert len(lines) == len(KITCHEN_SINK.expected("repo")) == 8
    for prefix, substring in KITCHEN_SINK.expected("repo"):
        assert any(line.startswith(prefix) and substring in line for line in lines), substring

    proc = run_cli("validate", "repo", cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    printed = proc.stderr.splitlines()
    assert printed == lines  # every error, sorted by file and line, one per line
    assert all(LOCATED.match(line) for line in printed), printed

    (tmp_path / "out").mkdir()
    for command in (["build", "repo", "-o", "out/bundle.tar.gz", "--revision", "r1"],
                    ["test", "repo"], ["eval", "repo", "--input", "-"],
                    ["effective", "repo", "--agent", "bot"], ["conflicts", "repo"]):
        proc = run_cli(*command, cwd=tmp_path, stdin='{"agent": "bot"}')
        assert proc.returncode == 2, (command, proc.stderr)
        assert "Traceback" not in proc.stderr, command
        assert proc.stderr.splitlines() == lines, command
    assert list((tmp_path / "out").iterdir()) == []  # nothing is written


def test_missing_identity_names_the_directory_in_the_cli(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "caps.yaml").write_text(CAPS)
    proc = run_cli("validate", "repo", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("repo: no Identity document"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_build_keeps_an_existing_bundle_when_the_repository_turns_invalid(
        tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "identity.yaml").write_text(IDENTITY)
    (tmp_path / "repo" / "caps.yaml").write_text(CAPS)
    built = run_cli("build", "repo", "-o", "bundle.tar.gz", "--revision", "r1", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    before = (tmp_path / "bundle.tar.gz").read_bytes()
    (tmp_path / "repo" / "caps.yaml").write_text(CAPS.replace("max: 100", "max: -1"))
    broken = run_cli("build", "repo", "-o", "bundle.tar.gz", "--revision", "r2", cwd=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.startswith("repo/caps.yaml:7: spec.rules[0].max: must be at least 0")
    assert (tmp_path / "bundle.tar.gz").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.tar.gz", "repo"]
