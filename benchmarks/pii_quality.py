#!/usr/bin/env python3
"""PII detector quality and cost: a script that prints measured numbers.

Quality: reads the labelled corpus benchmarks/corpus/pii/corpus.jsonl (see its
PROVENANCE.md), asks the real OPA for the decision on every text in one batched
`opa eval`, and prints precision and recall per entity (a finding counts when entity,
start and end all match a label).

Cost: one long-running `opa run --server` holds one bundle with two agents, `pii`
(a pack with a pii rule running every detector) and `plain` (a pack without rules), and
this process asks it for decisions over keep-alive HTTP. Every text is asked for both
agents in turn (A B B A ...), so both sides see the same load on a shared machine; the
numbers to read are the ratios and the difference per KiB of text:
- the corpus: texts/s with and without detection;
- single texts: a typical 2 KiB email with a few entities, 16 KiB and the longest
  text allowed (lib.pii.max_chars) of mixed prose, text without digits, and the worst
  case an attacker would write (digits and separators only, up to the bound on
  candidate spans): median ms with and without detection, and microseconds per KiB.

    .venv/bin/python benchmarks/pii_quality.py [--rounds 5] [--repeat 21]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import agent, compile_docs, identity, pack  # noqa: E402

from policypacks.bundle import write_bundle  # noqa: E402
from policypacks.compile import CompiledPolicy  # noqa: E402
from policypacks.deploy.sidecar import LocalOpa  # noqa: E402
from policypacks.opa import evaluate  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus" / "pii" / "corpus.jsonl"
ENTITIES = ["email", "phone", "ssn", "credit_card", "iban", "ip_address"]

EMAIL = """Hi Jane,

thanks for the call this morning. As discussed, here are the details for onboarding the
new vendor. Please forward them to accounting before Friday, and let me know if any of
the numbers look wrong; the last batch had a typo in the account number, which cost us
a week of back and forth with their bank.

Contact: Robert Miller, robert.miller@example-vendor.com, phone (415) 555-0132, or his
assistant on +44 20 7946 0958 during UK office hours. Bank details: IBAN
DE89 3704 0044 0532 0130 00. The invoice number is INV-2024-000123, dated 2024-03-15,
total EUR 12,450.00 net plus VAT; order reference 7781-2231-09, delivery to warehouse 3.

We agreed on net 30 payment terms, with a 2% discount for payment within 10 days. The
contract runs for 24 months starting April 1st, with a review after 12 months. Their
insurance certificate CERT-99812-A expires on 2025-12-31, and the meeting notes from
2024-03-14 are attached (version 1.4.2 of the document).

Their support desk is staffed from 8:00 to 18:00 CET on weekdays; outside those hours
tickets are answered the next morning. Escalations go to the account manager, who has
promised a named contact for the first three months of the contract, and a monthly
review call where we can raise anything that is not working as it should.

Let me know if anything is missing, and thanks again for pushing this through so
quickly. I will be out of the office on Thursday afternoon but reachable by phone.

Best regards,
Alice
"""

WORDS = ("the order was shipped on time and the team will review the invoice next week "
         "please confirm the delivery address and the contact person for the account").split()


def prose(size: int, rng: random.Random, digits: bool = True) -> str:
    """Words, with a number now and then (and an entity every ~2 KiB) when `digits`."""
    out: list[str] = []
    length = 0
    while length < size:
        roll = rng.random()
        if digits and roll < 0.04:
            word = str(rng.randrange(1, 10_000))
        elif digits and roll < 0.042:
            word = rng.choice(["jane@example.org", "(415) 555-0132", "4111 1111 1111 1111",
                               "192.168.10.25", "078-05-1123"])
        else:
            word = rng.choice(WORDS)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


def adversarial(size: int, groups: int) -> str:
    """Digits and separators only: card-, phone- and SSN-shaped groups in one long run,
    `groups` digit groups in all (padded with spaces)."""
    pattern = "4111 1111 1111 1111 (415) 555-0132 078-05-1123 +44 20 7946 0958 "
    text = pattern * (size // len(pattern) + 1)
    cut = 0
    for _ in range(groups):
        while cut < len(text) and not text[cut].isdigit():
            cut += 1
        while cut < len(text) and text[cut].isdigit():
            cut += 1
    return (text[:cut] + " " * size)[:size]


def policy(tmp: Path) -> CompiledPolicy:
    rules = [{"id": "r", "type": "pii", "detect": ENTITIES}]
    return compile_docs(tmp / "repo", [identity("acme"),
                                       pack("p", "block", rules, scope="none"),
                                       pack("q", "block", [], scope="none"),
                                       agent("pii", ["p"]), agent("plain", ["q"])])


def action(text: str) -> dict[str, Any]:
    return {"type": "send_email", "content": {"text": text},
            "recipient": {"address": "x@gmail.com"}}


def quality(compiled: CompiledPolicy, rows: list[dict[str, Any]]) -> None:
    answers = evaluate.decisions(compiled, [{"agent": "pii", "action": action(r["text"])}
                                            for r in rows])
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for row, answer in zip(rows, answers, strict=True):
        found = {(f["entity"], f["start"], f["end"])
                 for v in answer["violations"] for f in v.get("findings", [])}
        labels = {tuple(label) for label in row["entities"]}
        for entity, *_ in found & labels:
            tp[entity] += 1
        for entity, *_ in found - labels:
            fp[entity] += 1
        for entity, *_ in labels - found:
            fn[entity] += 1
    print(f"corpus: {len(rows)} texts, {sum(1 for r in rows if not r['entities'])} hard negatives")
    print(f"{'entity':<12} {'labels':>6} {'precision':>9} {'recall':>7}")
    for entity in ENTITIES:
        precision = tp[entity] / ((tp[entity] + fp[entity]) or 1)
        recall = tp[entity] / ((tp[entity] + fn[entity]) or 1)
        print(f"{entity:<12} {tp[entity] + fn[entity]:>6} {precision:>9.4f} {recall:>7.4f}")


class Server:
    """Decisions from one `opa run --server` over one keep-alive connection."""

    def __init__(self, opa: LocalOpa, http: requests.Session) -> None:
        self.url = f"{opa.url}/v1/data/policypacks/acme/decision"
        self.http = http

    def seconds(self, agent_id: str, text: str) -> float:
        body = json.dumps({"input": {"agent": agent_id, "action": action(text)}})
        started = time.perf_counter()
        answer = self.http.post(self.url, data=body, timeout=60,
                                headers={"Content-Type": "application/json"})
        elapsed = time.perf_counter() - started
        answer.raise_for_status()
        if "result" not in answer.json():
            raise SystemExit(f"no decision for {agent_id}")
        return elapsed

    def pair(self, text: str, flip: bool) -> tuple[float, float]:
        """(with detection, without) for one text, in the order `flip` says."""
        if flip:
            plain = self.seconds("plain", text)
            return self.seconds("pii", text), plain
        detect = self.seconds("pii", text)
        return detect, self.seconds("plain", text)


def throughput(server: Server, texts: list[str], rounds: int) -> None:
    kib = sum(len(t.encode()) for t in texts) / 1024
    detect = plain = 0.0
    for r in range(rounds):
        for i, text in enumerate(texts):
            d, p = server.pair(text, (i + r) % 2 == 1)
            detect += d
            plain += p
    n = len(texts) * rounds
    print(f"corpus through one opa server, {rounds} rounds interleaved: "
          f"{n / detect:,.0f} texts/s with detection, {n / plain:,.0f} without "
          f"(detection costs {detect / plain:.2f}x the decision without it; "
          f"{(detect - plain) / (kib * rounds) * 1e6:,.0f} us per KiB of text, "
          f"{(detect - plain) / n * 1e6:,.0f} us per text of {kib * 1024 / len(texts):,.0f} B)")


def single(server: Server, name: str, text: str, repeat: int) -> None:
    detect, plain = [], []
    for i in range(repeat):
        d, p = server.pair(text, i % 2 == 1)
        detect.append(d)
        plain.append(p)
    d_ms, p_ms = statistics.median(detect) * 1000, statistics.median(plain) * 1000
    kib = len(text.encode()) / 1024
    print(f"{name:<34} {kib:>6.1f} {p_ms:>9.2f} {d_ms:>9.2f} {d_ms / p_ms:>6.1f}x "
          f"{(d_ms - p_ms) * 1000 / kib:>9,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the corpus")
    parser.add_argument("--repeat", type=int, default=21, help="requests per single text")
    args = parser.parse_args()
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        compiled = policy(Path(tmp))
        quality(compiled, rows)
        limits = evaluate.query(compiled, "[{prefix}.lib.pii.max_chars, "
                                          "{prefix}.lib.pii.max_candidates]")
        max_chars, max_candidates = limits
        bundle = Path(tmp) / "bundle.tar.gz"
        write_bundle(compiled, bundle)
        with LocalOpa(bundles=[bundle]) as opa, requests.Session() as http:
            server = Server(opa, http)
            for row in rows[:50]:  # warm up
                server.pair(row["text"], False)
            throughput(server, [r["text"] for r in rows], args.rounds)
            rng = random.Random(5)
            cases = [
                ("typical email (5 entities)", EMAIL),
                ("prose, 16 KiB", prose(16 * 1024, rng)),
                (f"prose, {max_chars // 1024} KiB (the limit)", prose(max_chars, rng)),
                (f"no digits, {max_chars // 1024} KiB", prose(max_chars, rng, digits=False)),
                ("all digits, at the candidate bound",
                 adversarial(max_chars, max_candidates - 10)),
                ("all digits, over the bound", adversarial(max_chars, max_chars)),
            ]
            print(f"single texts, median of {args.repeat} interleaved requests:")
            print(f"{'text':<34} {'KiB':>6} {'plain ms':>9} {'pii ms':>9} {'ratio':>7} "
                  f"{'us/KiB':>9}")
            for name, text in cases:
                single(server, name, text, args.repeat)


if __name__ == "__main__":
    main()
