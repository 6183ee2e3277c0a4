#!/usr/bin/env python3
"""The main job, end to end, as a platform team would run it:

1. validate, test and build the example repository packs/ into a bundle;
2. start a local OPA sidecar (the pinned binary) and publish the bundle to it;
3. run a scripted agent session through the PolicyClient: allowed, warned,
   approval-needing and blocked actions, with spend accumulating to the daily cap;
4. print each decision, then the audit trail the client recorded.

    make demo        (or: .venv/bin/python scripts/demo.py)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policypacks import PolicyClient  # noqa: E402
from policypacks.deploy.sidecar import LocalOpa  # noqa: E402

OUT = ROOT / "out"
BUNDLE = OUT / "bundle.tar.gz"
STORE = f"sqlite:///{OUT / 'demo-audit.db'}"
CLI = str(ROOT / ".venv" / "bin" / "policypacks")

EMAIL = {"type": "send_email", "recipient": {"address": "lee@customer.example"}}


def policypacks(*args: str) -> None:
    print(f"\n$ policypacks {' '.join(args)}", flush=True)
    proc = subprocess.run([CLI, *args], cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"demo stopped: `policypacks {' '.join(args)}` exited {proc.returncode}")


def show(who: str, what: str, decision: Any) -> None:
    print(f"{who:<12} {what:<48} -> {decision.decision.upper()}")
    for violation in decision.violations:
        print(f"{'':<16}{violation['pack']}/{violation['rule']} "
              f"[{violation['enforcement']}]: {violation['message']}")
    if decision.approval:
        approval = decision.approval
        print(f"{'':<16}approval by {', '.join(approval['approvers']) or 'nobody'} within "
              f"{approval['timeout_seconds'] // 3600}h (route {approval['route']}, "
              f"else {approval['fallback']})")
    for obligation in decision.obligations:
        print(f"{'':<16}obligation: {obligation}")
    for report in decision.shadow:
        print(f"{'':<16}shadow mode, not enforced: {report['pack']}/{report['rule']}: "
              f"{report['message']}")
    for lifted in decision.waived:
        print(f"{'':<16}waived by {lifted['waiver']['id']} until {lifted['waiver']['expires']}: "
              f"{lifted['pack']}/{lifted['rule']}")


def session(opa_url: str) -> list[str]:
    print("\n== an agent session through the client (usage kept in the audit store)\n")
    support = PolicyClient(opa_url, identity="acme", agent="support-bot", store=STORE)
    sales = PolicyClient(opa_url, identity="acme", agent="sales-bot", store=STORE)
    rogue = PolicyClient(opa_url, identity="acme", agent="rogue-bot", store=STORE)

    signed = {**EMAIL, "content": {"subject": "Your ticket", "tone": "friendly",
                                   "text": "Your replacement ships today.\n\n-- The Acme Team"}}
    show("support-bot", "signed, friendly email", support.check(signed))
    unsigned = {**EMAIL, "content": {"subject": "Your ticket", "tone": "friendly",
                                     "text": "Your replacement ships today."}}
    show("support-bot", "email without the signature", support.check(unsigned))
    show("support-bot", "casual chat message", support.check(
        {"type": "send_message", "content": {"text": "Hey, gonna check that for you lol"}}))
    show("support-bot", "a word the brand avoids", support.check(
        {"type": "send_message", "content": {"text": "Our plans are cheap.", "tone": "friendly"}}))
    show("support-bot", "card number in a reply", support.check(
        {**EMAIL, "content": {"text": "Card 4111 1111 1111 1111 is on file.\n\n-- The Acme Team",
                              "tone": "friendly"}}))
    show("support-bot", "refund of $250", support.check(
        {"type": "refund", "amount": 250, "currency": "USD"}))

    # A guarded tool: packs/tools/gmail.yaml maps its arguments onto a send_email action
    # in OPA; the brand's signature obligation signs the body before the tool runs.
    @support.guard("gmail.send")
    def send_email(to: str, subject: str, body: str) -> str:
        print(f"{'':<16}(the tool ran) body: {body!r}")
        return "sent"
    print(f"{'support-bot':<12} {'tool gmail.send, body not signed':<48} -> SIGNED, SENT")
    sent = send_email("lee@customer.example", "Your ticket", "Your replacement ships today.")
    print(f"{'':<16}the tool returned {sent!r}")

    print()
    purchase = {"type": "spend", "amount": 30, "currency": "USD"}
    requests = []
    for attempt in range(1, 5):
        decision = sales.check(purchase)
        spent = sales.usage(purchase)["spend"]["day"]
        show("sales-bot", f"purchase #{attempt}: 30 USD (spent today: {spent:g})", decision)
        if decision.allow:
            sales.record(purchase)  # the purchase really happened: count it
        elif decision.decision == "require_approval":
            request = sales.request_approval(decision, purchase)
            print(f"{'':<16}approval request {request.id} is {request.status}")
            requests.append(request.id)
    show("sales-bot", "one purchase of 600 USD", sales.check(
        {"type": "spend", "amount": 600, "currency": "USD"}))
    show("sales-bot", "a pitch that guarantees results", sales.check(
        {"type": "send_message", "content": {"text": "Guaranteed results in a week."}}))
    show("sales-bot", "a refund in GBP (the UK pilot)", sales.check(
        {"type": "refund", "amount": 40, "currency": "GBP", "order_id": "UK-7"}))
    show("rogue-bot", "an undeclared agent spends", rogue.check(
        {"type": "spend", "amount": 1, "currency": "USD"}))
    for client in (support, sales, rogue):
        client.close()
    return requests


def main() -> int:
    OUT.mkdir(exist_ok=True)
    (OUT / "demo-audit.db").unlink(missing_ok=True)
    policypacks("validate", "packs")
    policypacks("test", "packs")
    policypacks("build", "packs", "-o", str(BUNDLE.relative_to(ROOT)))
    print("\n== a local OPA sidecar (opa run --server, loopback)", flush=True)
    with LocalOpa(log_file=OUT / "opa.log") as opa:
        print(f"OPA is up at {opa.url} (decision log: out/opa.log)")
        policypacks("publish", str(BUNDLE.relative_to(ROOT)), "--opa", opa.url)
        pending = session(opa.url)
    print("\n== a human answers the approval request")
    for request_id in pending:
        policypacks("approvals", "approve", request_id, "--by", "finance-lead", "--store", STORE)
    print("\n== the audit trail the client recorded")
    policypacks("violations", "list", "--store", STORE)
    policypacks("violations", "stats", "--store", STORE)
    policypacks("violations", "stats", "--shadow", "--store", STORE)
    policypacks("approvals", "list", "--store", STORE)
    print(NEXT_STEPS.format(store=STORE, bundle=BUNDLE.relative_to(ROOT)))
    return 0


NEXT_STEPS = """
== what to type next
The `policypacks` command is in .venv/bin; put it on PATH for this shell with
  . .venv/bin/activate
then, for example:
  policypacks effective packs --agent support-bot      # what applies to an agent, and why
  policypacks conflicts packs                          # how precedence resolved each conflict
  echo '{{"agent": "sales-bot", "action": {{"type": "spend", "amount": 600}}}}' \\
    | policypacks eval packs --input -                 # one decision, evaluated by OPA
  policypacks violations stats --store {store}
  policypacks --help                                   # every command; COMMAND --help for one
"""


if __name__ == "__main__":
    sys.exit(main())
