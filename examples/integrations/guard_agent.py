"""Plain Python tools under @client.guard, against the example repository packs/.

    policypacks build packs -o bundle.tar.gz
    policypacks opa run --background --pid-file opa.pid -- --bundle bundle.tar.gz
    python examples/integrations/guard_agent.py
"""

from __future__ import annotations

from _scripted import OPA_URL, STORE

from policypacks import PolicyBlocked, PolicyClient

support = PolicyClient(OPA_URL, identity="acme", agent="support-bot", store=STORE)


@support.guard("gmail.send")  # packs/tools/gmail.yaml: to -> recipient, body -> content.text
def send_email(to: str, subject: str, body: str) -> str:
    print(f"  (gmail) to {to}: {body!r}")
    return "sent"


@support.guard("stripe.refund")  # packs/tools/stripe.yaml: cents -> dollars, order id
def refund(charge: str, amount: int, metadata: dict[str, str]) -> str:
    print(f"  (stripe) refund {amount} cents on {charge}")
    return "refunded"


print("an unsigned email: the brand's signature obligation signs it, then it is sent")
send_email("jane@example.com", "Your order", "Hi Jane, your replacement ships today.")
print("a 40 USD refund with its order id: allowed")
refund("ch_1", 4000, {"order_id": "A-1001"})
print("a 150 USD refund: compliance blocks it, and stripe is never called")
try:
    refund("ch_2", 15000, {"order_id": "A-1002"})
except PolicyBlocked as refused:
    print(f"  refused: {refused}")
support.close()
