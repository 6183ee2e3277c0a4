"""What ``policypacks init`` writes: a small repository that validates and tests green
straight away, each YAML file starting with the ``yaml-language-server`` line that
points an editor at the schema copied next to it (offline, and versioned with the repo).
"""

from __future__ import annotations

import re
from pathlib import Path

from .json_schema import file_name, rendered

SCHEMA_DIR = Path(".policypacks") / "schema"
MODELINE = "# yaml-language-server: $schema={path}\n"

IDENTITY = """\
# The organisation: exactly one Identity per policy repository (docs: repository.md).
apiVersion: policypacks/v1
kind: Identity
metadata:
  id: {identity}
  name: {name}
spec:
  precedence: identity_overrides
  unknownAgents: block          # an agent no file declares is refused
  internalDomains: [{identity}.example]
  escalation:                   # who approves require_approval decisions by default
    approvers: [ops-oncall]
    timeout: 24h
    fallback: block
"""

PACK = """\
# A policy pack: rules and the examples that prove them. `policypacks test` runs every
# example through OPA; add one for each rule you write (rule types: policypacks docs/rules/).
apiVersion: policypacks/v1
kind: PolicyPack
metadata:
  id: house-rules
  name: House rules
  description: What no agent of {name} may do
  category: safety
spec:
  enforcement: block
  scope: all                    # every agent; or {{agents: [id, ...]}}
  rules:
    - id: no-large-refunds
      type: condition
      when:
        all:
          - {{field: action.type, equals: refund}}
          - {{field: action.amount, gt: 100}}
      message: Refunds over 100 need a person
    - id: daily-spend
      type: spending_limit
      max: 500
      currency: USD
      period: day
    - id: no-legal-advice
      type: prohibited_topics
      topics:
        legal_advice: [lawsuit, legal advice]
  examples:
    - name: a small refund is fine
      input: {{agent: {agent}, action: {{type: refund, amount: 20}}}}
      expect: allow
    - name: a large refund is blocked
      input: {{agent: {agent}, action: {{type: refund, amount: 250}}}}
      expect: block
      violations: [house-rules/no-large-refunds]
    - name: spending past the daily cap is blocked
      input:
        agent: {agent}
        action: {{type: spend, amount: 100, currency: USD}}
        usage: {{spend: {{day: 450}}}}
      expect: block
      violations: [house-rules/daily-spend]
    - name: legal advice is off limits
      input:
        agent: {agent}
        action: {{type: send_message, content: {{text: You should file a lawsuit}}}}
      expect: block
      violations: [house-rules/no-legal-advice]
"""

AGENT = """\
# An agent and the packs it attaches besides those whose scope covers it.
apiVersion: policypacks/v1
kind: Agent
metadata:
  id: {agent}
  name: {agent_name}
spec:
  packs: []                     # e.g. [{{pack: casual-tone, enforcement: warn}}]
"""

TEST = """\
# Whole-agent scenarios: each case is decided by every pack the agent has, while a pack's
# examples are judged by that pack alone (policypacks docs/testing.md).
apiVersion: policypacks/v1
kind: Test
metadata:
  id: {agent}
  name: {agent_name} scenarios
spec:
  cases:
    - name: a large refund is blocked, with nobody to ask
      input: {{agent: {agent}, action: {{type: refund, amount: 250}}}}
      expect: block
      violations: [house-rules/no-large-refunds]
      approval: null
    - name: an agent nobody declared is refused
      input: {{agent: stranger, action: {{type: refund, amount: 5}}}}
      expect: block
      violations: [_system/unknown-agent]
"""

README = """\
# {name} policy repository

Made by `policypacks init`. Every YAML file names its JSON Schema in its first line, so
editors with the YAML language server (VS Code's YAML extension, Neovim, JetBrains, ...)
complete and check it as you type; the schemas are in `.policypacks/schema/` (refresh
them after upgrading policypacks: `policypacks schema -o .policypacks/schema`).

    policypacks validate            # every problem as FILE:LINE: message
    policypacks test                # opa check, every pack example and Test case, via OPA
    policypacks test --watch        # again on every change of a YAML file
    policypacks build -o bundle.tar.gz
    echo '{{"agent": "{agent}", "action": {{"type": "refund", "amount": 250}}}}' \\
      | policypacks eval --input -
"""


def slug(text: str, fallback: str) -> str:
    """An id (``^[a-z][a-z0-9-]{{0,62}}$``) made from a directory name."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    cleaned = re.sub(r"-{2,}", "-", cleaned)
    cleaned = re.sub(r"^[^a-z]+", "", cleaned)[:63].rstrip("-")
    return cleaned or fallback


def files(identity: str, agent: str, name: str | None = None) -> dict[Path, str]:
    """Relative path -> content of every file ``init`` writes."""
    values = {"identity": identity, "name": name or identity.replace("-", " ").title(),
              "agent": agent, "agent_name": agent.replace("-", " ").title()}
    out: dict[Path, str] = {}
    documents = {Path("identity.yaml"): (IDENTITY, "identity"),
                 Path("packs") / "house-rules.yaml": (PACK, "policypack"),
                 Path("agents") / f"{agent}.yaml": (AGENT, "agent"),
                 Path("tests") / f"{agent}.yaml": (TEST, "test")}
    for path, (template, stem) in documents.items():
        up = "../" * (len(path.parts) - 1)
        line = MODELINE.format(path=f"{up}{(SCHEMA_DIR / file_name(stem)).as_posix()}")
        out[path] = line + template.format(**values)
    for schema_name, text in rendered().items():
        out[SCHEMA_DIR / schema_name] = text
    out[Path("README.md")] = README.format(**values)
    return out
