"""The PII detectors of docs/pii.md, case by case, through the real OPA: one batched
``opa eval`` answers every row. A row is a text and the findings it must give, written
as (entity, the exact text of the span)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from support import agent, compile_docs, identity, pack

from policypacks.compile import CompiledPolicy
from policypacks.opa import evaluate

E, P, S, C, IB, IP = "email", "phone", "ssn", "credit_card", "iban", "ip_address"

CASES: list[tuple[str, list[tuple[str, str]]]] = [
    # email
    ("write to jane.doe+tag@mail.example.co.uk today", [(E, "jane.doe+tag@mail.example.co.uk")]),
    ("user@xn--80ak6aa92e.com and a@xn--d1acufc.xn--p1ai", [(E, "user@xn--80ak6aa92e.com"),
                                                            (E, "a@xn--d1acufc.xn--p1ai")]),
    ("my email is info@example.", []),
    ("not an email: hello-world here, @handle, a@b", []),
    # phone: NANP
    ("Call 555-123-4567 555-987-6543", [(P, "555-123-4567"), (P, "555-987-6543")]),
    ("(415) 555-0132 or +1 415 555 0132", [(P, "(415) 555-0132"), (P, "+1 415 555 0132")]),
    ("_: (415)555-0132", [(P, "(415)555-0132")]),
    ("toll free 1-800-555-0199.", [(P, "1-800-555-0199")]),
    ("dial 415.555.0132 now", [(P, "415.555.0132")]),
    ("area code 123-456-7890 starts with 1", []),
    ("ext. 555-1234", []),
    # phone: UK, DE, FR, IL, IN, BR and international notation
    ("+44 20 7946 0958", [(P, "+44 20 7946 0958")]),
    ("+44 (20) 7123 4567 and +44 (0)20 7946 0958", [(P, "+44 (20) 7123 4567"),
                                                   (P, "+44 (0)20 7946 0958")]),
    ("020 7946 0958 or 07700 900123", [(P, "020 7946 0958"), (P, "07700 900123")]),
    ("Tel. 030 12345678, +49 30 1234567, 0049 89 1234567", [
        (P, "030 12345678"), (P, "+49 30 1234567"), (P, "0049 89 1234567")]),
    ("01 42 68 53 00 / +33 1 42 68 53 00", [(P, "01 42 68 53 00"), (P, "+33 1 42 68 53 00")]),
    ("My Israeli number is 09-7625400, mobile 050-123-4567", [(P, "09-7625400"),
                                                             (P, "050-123-4567")]),
    ("+91 98765 43210 or 98765 43210", [(P, "+91 98765 43210"), (P, "98765 43210")]),
    ("Brazil: +55 11 98456 5666, (11) 98456-5666", [(P, "+55 11 98456 5666"),
                                                     (P, "(11) 98456-5666")]),
    ("+39 06 678 4343 and +30 21 0 1234567", [(P, "+39 06 678 4343"), (P, "+30 21 0 1234567")]),
    ("91-415-555-0132", [(P, "91-415-555-0132")]),
    # phone: hard negatives
    ("host 192.168.1.254", [(IP, "192.168.1.254")]),
    ("on 2024-01-15 at 10:30, order 2024-000123", []),
    ("price $1,299.99 or 1.299,99 EUR", []),
    ("version 1.2.3, build 20240115", []),
    # ssn
    ("SSN 078-05-1123", [(S, "078-05-1123")]),
    ("078.05.1123 and 078 05 1123", [(S, "078.05.1123"), (S, "078 05 1123")]),
    ("abc 078 05 1123 abc", [(S, "078 05 1123")]),
    ("078051121", [(S, "078051121")]),
    ("000-12-3456 666-12-3456 900-12-3456 078-00-1123 078-05-0000", []),
    ("078-05-1120 219-09-9999 123-45-6789 111-11-1111", []),
    ("693-09.4444 078-05.1123", []),
    ("zip 07805-1121", []),
    # credit_card
    ("4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881", [
        (C, "4012888888881881"), (C, "4012-8888-8888-1881"), (C, "4012 8888 8888 1881")]),
    ("amex 371449635398431, mc 5555555555554444, 2-series 2221000000000009", [
        (C, "371449635398431"), (C, "5555555555554444"), (C, "2221000000000009")]),
    ("discover 6011000400000000, jcb 3528000700000000, diners 30569309025904", [
        (C, "6011000400000000"), (C, "3528000700000000"), (C, "30569309025904")]),
    ("maestro 6759649826438453, unionpay 6200000000000005, uatp 122000000000003", [
        (C, "6759649826438453"), (C, "6200000000000005"), (C, "122000000000003")]),
    ("4111 1111 1111 1111 12/25", [(C, "4111 1111 1111 1111")]),
    ("4012-8888-8888-1882 36168002586008", []),
    ("ts 1748503543012", []),
    ("id4111111111111111 and 4111111111111111x", []),
    ("4111-1111 1111-1111", []),
    # iban
    ("IBAN GB82 WEST 1234 5698 7654 32", [(IB, "GB82 WEST 1234 5698 7654 32")]),
    ("DE89370400440532013000", [(IB, "DE89370400440532013000")]),
    ("ES91 2100 0418 4502 0005 1332 EUR", [(IB, "ES91 2100 0418 4502 0005 1332")]),
    ("ES91 2100 0418 4502 0005 1332 2024", [(IB, "ES91 2100 0418 4502 0005 1332")]),
    ("AL47-2121-1009-0000-0002-3569-8741", [(IB, "AL47-2121-1009-0000-0002-3569-8741")]),
    ("DE88370400440532013000", []),
    ("IL15 0120 6900 0000", []),
    ("AM47212110090000000235698740 XX89370400440532013000", []),
    ("AL47/2121/1009/0000/0002/3569/8741", []),
    ("GI75 aWBK 0000 0000 7099 453", []),
    ("RS35 2600 0560 1001 6113 70", []),
    # ip_address
    ("microsoft.com 192.168.0.1", [(IP, "192.168.0.1")]),
    ("192.168.1.0/24 10.0.0.0/123", [(IP, "192.168.1.0/24"), (IP, "10.0.0.0")]),
    ("684D:1111:222:3333:4444:5555:6:77", [(IP, "684D:1111:222:3333:4444:5555:6:77")]),
    ("2001:db8::1. fe80::1%eth0 ::1 ::", [(IP, "2001:db8::1"), (IP, "fe80::1%eth0"),
                                           (IP, "::1"), (IP, "::")]),
    ("::ffff:192.0.2.1 and 2001:db8:85a3::8a2e:192.168.0.1", [
        (IP, "::ffff:192.0.2.1"), (IP, "2001:db8:85a3::8a2e:192.168.0.1")]),
    ("Connect to [2001:db8::1]:8080", [(IP, "2001:db8::1")]),
    ("2001::db8::1 12345:db8::1 gggg:hhhh::1234 684D:1111:222:3333:4444:5555:77", []),
    ("MAC aa:bb:cc:dd:ee:ff, time 12:34:56, std::cout, :::", []),
    ("256.256.256.256 192.168.1 IP192.168.1.1text fe80::1text", []),
    ("version 1.2.3.4, v1.2.3.4", []),
    # UUIDs block everything
    ("id 12345678-1234-4234-9234-415555013200", []),
    ("req 550e8400-e29b-41d4-a716-446655440000", []),
    # offsets are code points: non-ASCII text before the entity
    ("naïve café ☕ — jane@example.org", [(E, "jane@example.org")]),
    ("日本語のテキスト 078-05-1123 😀 4111111111111111", [(S, "078-05-1123"),
                                                   (C, "4111111111111111")]),
]


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> CompiledPolicy:
    rules = [{"id": "all", "type": "pii", "detect": [E, P, S, C, IB, IP]}]
    return compile_docs(tmp_path_factory.mktemp("pii") / "repo",
                        [identity("acme"), pack("p", "block", rules), agent("a", ["p"])])


def detect(policy: CompiledPolicy, texts: list[str]) -> list[list[dict[str, Any]]]:
    result = evaluate.query(policy, "[{prefix}.lib.pii.findings(x) | some x in input]", texts)
    assert isinstance(result, list)
    return result


@pytest.fixture(scope="module")
def answers(policy: CompiledPolicy) -> list[list[dict[str, Any]]]:
    return detect(policy, [text for text, _ in CASES])


@pytest.mark.parametrize(("index", "text"), [(i, c[0]) for i, c in enumerate(CASES)],
                         ids=[c[0][:40] for c in CASES])
def test_detector_case(index: int, text: str, answers: list[list[dict[str, Any]]]) -> None:
    found = [(f["entity"], text[f["start"]:f["end"]]) for f in answers[index]]
    assert found == CASES[index][1]


def test_no_span_is_reported_twice(answers: list[list[dict[str, Any]]]) -> None:
    """No detector fires on a span that another detector validates: findings never
    overlap, whatever the text."""
    for (text, _), found in zip(CASES, answers, strict=True):
        spans = sorted((f["start"], f["end"]) for f in found)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), text


@pytest.mark.parametrize(("entity", "text"), [
    (C, "4111111111111111"), (C, "371449635398431"), (IB, "DE89 3704 0044 0532 0130 00"),
    (IB, "GB29NWBK60161331926819"), (IP, "192.168.100.200"), (S, "078-05-1123"),
    (IP, "2001:db8::192.168.1.1"), (E, "415.555.0132@example.com"),
])
def test_an_entity_is_only_itself(entity: str, text: str, policy: CompiledPolicy) -> None:
    """The digits of a card, an IBAN, an address or an SSN also fit other detectors'
    shapes; each is reported once, as what it is, in every context."""
    contexts = [text, f"see {text}.", f"({text})", f"x {text} 12"]
    for context, found in zip(contexts, detect(policy, contexts), strict=True):
        assert [(f["entity"], context[f["start"]:f["end"]]) for f in found] == \
            [(entity, text)], context


def test_long_text_stays_linear(policy: CompiledPolicy, tmp_path: Path) -> None:
    """Offsets stay right deep into a long field (blocked prefix sums)."""
    filler = "word 12 ünï " * 3000
    text = filler + "jane@example.org"
    [found] = detect(policy, [text])
    assert [(f["entity"], f["start"]) for f in found] == [(E, len(filler))]


# ---- overlap resolution: exact, by rank ----------------------------------------------

RANKING = ["uuid", "email", "iban", "iban_shape", "credit_card", "ipv6", "ip_address", "ssn",
           "phone"]

Span = tuple[str, int, int]


def by_rank(candidates: list[Span]) -> set[Span]:
    """docs/pii.md's rule, one candidate at a time: in rank order (entity, then the
    earlier start, then the longer span) a candidate is kept iff it overlaps no kept one."""
    kept: list[Span] = []
    for c in sorted(set(candidates), key=lambda c: (RANKING.index(c[0]), c[1], -c[2])):
        if all(c[2] <= k[1] or k[2] <= c[1] for k in kept):
            kept.append(c)
    return set(kept)


def resolve(policy: CompiledPolicy, sets: list[list[Span]]) -> list[set[Span]]:
    documents = [{entity: [{"entity": e, "start": s, "end": t} for e, s, t in spans if e == entity]
                  for entity in RANKING} for spans in sets]
    result = evaluate.query(policy, "[{prefix}.lib.pii.resolve(x) | some x in input]", documents)
    return [{(c["entity"], c["start"], c["end"]) for c in kept} for kept in result]


CHAINS: list[tuple[str, list[Span], set[Span]]] = [
    ("seven phones, each overlapping the next: every other one",
     [("phone", 5 * i, 5 * i + 10) for i in range(7)],
     {("phone", 0, 10), ("phone", 10, 20), ("phone", 20, 30), ("phone", 30, 40)}),
    ("a chain of nine entities down the ranking, deeper than any fixed number of passes",
     [(e, 8 * i, 8 * i + 10) for i, e in enumerate(RANKING)],
     {("uuid", 0, 10), ("iban", 16, 26), ("credit_card", 32, 42), ("ip_address", 48, 58),
      ("phone", 64, 74)}),
    ("a dropped candidate blocks nothing",
     [("credit_card", 10, 26), ("phone", 0, 12), ("phone", 24, 36), ("ssn", 34, 45)],
     {("credit_card", 10, 26), ("ssn", 34, 45)}),
    ("same entity and start: the longer span",
     [("phone", 3, 15), ("phone", 3, 17), ("phone", 16, 30)], {("phone", 3, 17)}),
    ("same entity: the earlier start, even when a later one is longer",
     [("phone", 0, 12), ("phone", 8, 30)], {("phone", 0, 12)}),
    ("spans that only touch do not overlap",
     [("email", 0, 10), ("phone", 10, 20), ("uuid", 20, 30)],
     {("email", 0, 10), ("phone", 10, 20), ("uuid", 20, 30)}),
]


@pytest.mark.parametrize(("name", "spans", "kept"), CHAINS, ids=[c[0] for c in CHAINS])
def test_resolution_chain(name: str, spans: list[Span], kept: set[Span],
                          policy: CompiledPolicy) -> None:
    assert by_rank(spans) == kept, "the table disagrees with the rule"
    assert resolve(policy, [spans]) == [kept]


def test_resolution_is_the_rank_rule_on_random_candidates(policy: CompiledPolicy) -> None:
    rng = random.Random(10)
    sets = [[(rng.choice(RANKING), start, start + rng.randint(1, 14))
             for start in (rng.randrange(80) for _ in range(rng.randint(0, 16)))]
            for _ in range(300)]
    assert resolve(policy, sets) == [by_rank(spans) for spans in sets]


# ---- bounded work ----------------------------------------------------------------------

def test_too_many_candidates_fails_closed(policy: CompiledPolicy) -> None:
    """Digits and separators only (the worst case an attacker can write): past
    lib.pii.max_candidates digit groups the field is not examined, and the rule says so."""
    bound = evaluate.query(policy, "{prefix}.lib.pii.max_candidates")
    within = "4111 1111 1111 1111 " * ((bound - 8) // 4)
    over = "4111 1111 1111 1111 " * (bound // 4 + 1)
    scans = evaluate.query(policy, "[{prefix}.lib.pii.scan(x) | some x in input]", [within, over])
    assert scans[0]["candidates"] <= bound
    assert [f["entity"] for f in scans[0]["findings"]] == [C] * ((bound - 8) // 4)
    assert scans[1]["candidates"] > bound and "findings" not in scans[1]
    [decision] = evaluate.decisions(policy, [{"agent": "a", "action": {
        "type": "send_email", "content": {"text": over}, "recipient": {"address": "x@gmail.com"}}}])
    assert decision["decision"] == "block"
    assert [v["message"] for v in decision["violations"]] == [
        f"content.text has more than {bound} candidate spans (pattern matches and digit groups) "
        "for the PII detectors, so it was not scanned"]


def corpus_texts() -> list[str]:
    path = Path(__file__).resolve().parent.parent / "benchmarks/corpus/pii/corpus.jsonl"
    return [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_rule_scans_only_text_where_its_entities_can_occur(policy: CompiledPolicy) -> None:
    """scan_for(text, kinds) skips a text in which none of `kinds` has its necessary
    shape; what it reports of those kinds is exactly what the full scan reports, on every
    case above and the labelled corpus (1,450 texts), for each entity alone and for the
    example repository's [ssn, credit_card, iban]."""
    texts = [text for text, _ in CASES] + corpus_texts()
    kind_sets = [[E], [P], [S], [C], [IB], [IP], [S, C, IB]]
    answer = evaluate.query(policy, "[[[[k, found, r.candidates] | some k in kinds; "
                                    "r := {prefix}.lib.pii.scan_for(x, k); "
                                    "found := [f | some f in r.findings; f.entity in k]], "
                                    "{prefix}.lib.pii.findings(x)] | "
                                    "some x in input.texts; kinds := input.kinds]",
                            {"texts": texts, "kinds": kind_sets})
    skipped = 0
    for text, (per_kinds, full) in zip(texts, answer, strict=True):
        for kinds, found, _ in per_kinds:
            assert found == [f for f in full if f["entity"] in kinds], (text, kinds)
        skipped += per_kinds[-1][2] == 0 and any(n for *_, n in per_kinds)
    assert skipped > 0
