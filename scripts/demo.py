#!/usr/bin/env python3
"""The main job: build the example repository, serve it from a local OPA, and run
sample agent actions against it, printing each decision.

    make demo        (or: .venv/bin/python scripts/demo.py)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.sidecar import LocalOpa  # noqa: E402

PACKS = ROOT / "packs"
BUNDLE = ROOT / "out" / "bundle.tar.gz"
CLI = str(ROOT / ".venv" / "bin" / "policypacks")

# (what the agent tries, input) — each goes to OPA as-is.
SAMPLES: list[tuple[str, dict]] = [
    ("support-bot replies politely",
     {"agent": "support-bot", "action": {"type": "send_email",
      "recipient": {"address": "jane@customer.example"},
      "content": {"text": "Thank you for your patience.\n\n-- The Acme Team"}}}),
    ("support-bot shares a card number",
     {"agent": "support-bot", "action": {"type": "send_message",
      "recipient": {"address": "jane@customer.example"},
      "content": {"text": "Your card 4111 1111 1111 1111 is on file."}}}),
    ("sales-bot buys within the daily cap",
     {"agent": "sales-bot", "action": {"type": "spend", "amount": 20, "currency": "USD"},
      "usage": {"spend": {"day": 10}}}),
    ("sales-bot goes over the daily cap",
     {"agent": "sales-bot", "action": {"type": "spend", "amount": 60, "currency": "USD"},
      "usage": {"spend": {"day": 80}}}),
    ("sales-bot refunds $250",
     {"agent": "sales-bot", "action": {"type": "refund", "amount": 250, "currency": "USD"}}),
    ("an undeclared agent acts",
     {"agent": "rogue-bot", "action": {"type": "spend", "amount": 1}}),
]


def step(title: str, *args: str) -> None:
    print(f"\n$ policypacks {' '.join(args)}", flush=True)
    proc = subprocess.run([CLI, *args], cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"demo stopped: `policypacks {' '.join(args)}` failed ({title})")


def main() -> int:
    step("validate", "validate", "packs")
    step("test", "test", "packs")
    step("build", "build", "packs", "-o", str(BUNDLE.relative_to(ROOT)))
    print(f"\nstarting OPA with {BUNDLE.relative_to(ROOT)} ...", flush=True)
    with LocalOpa(bundles=[BUNDLE]) as opa:
        print(f"OPA is serving at {opa.url}\n")
        for title, document in SAMPLES:
            answer = requests.post(f"{opa.url}/v1/data/policypacks/acme/decision",
                                   json={"input": document}, timeout=5).json()["result"]
            print(f"{title}\n  -> {answer['decision'].upper()}")
            for violation in answer["violations"]:
                print(f"     {violation['pack']}/{violation['rule']} "
                      f"[{violation['enforcement']}]: {violation['message']}")
            if answer["approval"]:
                approval = answer["approval"]
                print(f"     approval: {', '.join(approval['approvers']) or 'nobody'} "
                      f"within {approval['timeout_seconds'] // 3600}h "
                      f"(route {approval['route']}, else {approval['fallback']})")
            for obligation in answer["obligations"]:
                print(f"     obligation: {json.dumps(obligation)}")
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
