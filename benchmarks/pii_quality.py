#!/usr/bin/env python3
"""PII detector quality and throughput: a script that prints measured numbers.

Reads the labelled corpus benchmarks/corpus/pii/corpus.jsonl (see its PROVENANCE.md),
asks the real OPA for the findings of every text in one batched `opa eval`, and prints
precision and recall per entity (a finding counts when entity, start and end all match
a label), then the throughput: texts and kilobytes per second through `opa eval`, as a
ratio against a baseline measured in the same run (the same batch through a pack without a pii
rule: the cost of the decision without detection).

    .venv/bin/python benchmarks/pii_quality.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support import agent, compile_docs, identity, pack  # noqa: E402

from policypacks.opa import evaluate  # noqa: E402

CORPUS = Path(__file__).resolve().parent / "corpus" / "pii" / "corpus.jsonl"
ENTITIES = ["email", "phone", "ssn", "credit_card", "iban", "ip_address"]


def decide(detect: list[str], texts: list[str]) -> tuple[list[Any], float]:
    rules = [{"id": "r", "type": "pii", "detect": detect}] if detect else []
    with tempfile.TemporaryDirectory() as tmp:
        policy = compile_docs(Path(tmp) / "repo", [identity("acme"), pack("p", "block", rules),
                                                   agent("a", ["p"])])
    inputs = [{"agent": "a", "action": {"type": "send_email", "content": {"text": t},
                                        "recipient": {"address": "x@gmail.com"}}}
              for t in texts]
    started = time.perf_counter()
    answers = evaluate.decisions(policy, inputs)
    return answers, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (best is shown)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    texts = [row["text"] for row in rows]
    answers, _ = decide(ENTITIES, texts)
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
    kilobytes = sum(len(t.encode()) for t in texts) / 1024
    detect = min(decide(ENTITIES, texts)[1] for _ in range(args.repeat))
    baseline = min(decide([], texts)[1] for _ in range(args.repeat))
    print(f"throughput (one batched opa eval, best of {args.repeat}): "
          f"{len(texts) / detect:,.0f} texts/s, {kilobytes / detect:,.1f} KiB/s with all "
          f"detectors; baseline without detection {len(texts) / baseline:,.0f} texts/s; "
          f"detection costs {detect / baseline:.2f}x the baseline, "
          f"{(detect - baseline) / kilobytes * 1000:.1f} ms per KiB of text")
    long_text = ("Kind regards from the team, call 415-555-0132 or jane@example.org. " * 970)
    single = min(decide(ENTITIES, [long_text])[1] for _ in range(args.repeat))
    empty = min(decide(ENTITIES, ["x"])[1] for _ in range(args.repeat))
    print(f"one {len(long_text) / 1024:.0f} KiB text: {single:.2f}s vs {empty:.2f}s for one "
          f"short text ({single / empty:.1f}x, including the opa eval start-up)")


if __name__ == "__main__":
    main()
