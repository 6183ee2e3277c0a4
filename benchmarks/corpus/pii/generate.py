#!/usr/bin/env python3
"""Build the labelled PII corpus (corpus.jsonl) from public format definitions.

Deterministic (seeded): re-running rewrites the same file. Every positive is generated
from a format specification (see PROVENANCE.md), never copied from another project's
data; every text records its entities as [entity, start, end] (code points, end
exclusive). Hard negatives carry no labels.

    .venv/bin/python benchmarks/corpus/pii/generate.py
"""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("corpus.jsonl")
rng = random.Random(20261202)

# ---- generators of valid entities ----------------------------------------------------


def luhn_complete(body: str) -> str:
    total = 0
    for i, d in enumerate(reversed(body + "0")):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


# (prefix, length) per issuer, from the networks' published IIN ranges
CARD_ISSUERS = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16),
                ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("644", 16), ("3528", 16),
                ("3589", 16), ("36", 14), ("300", 14), ("62", 16), ("6759", 16), ("5019", 16)]


def card() -> str:
    prefix, length = rng.choice(CARD_ISSUERS)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digits = luhn_complete(body)
    style = rng.choice(["bare", "space", "dash"])
    if style == "bare":
        return digits
    if length == 13:
        return digits
    # as the networks print them: 4-6-5 (15 digits), 4-6-4 (14), groups of four otherwise
    cuts = {15: [0, 4, 10, 15], 14: [0, 4, 10, 14]}.get(length, list(range(0, length + 1, 4)))
    groups = [digits[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    return (" " if style == "space" else "-").join(groups)


# SWIFT IBAN registry: country, BBAN length and character kinds (n digits, a letters)
IBAN_FORMATS = {"DE": "18n", "GB": "4a14n", "FR": "10n11c2n", "ES": "20n", "IT": "1a10n12c",
                "NL": "4a10n", "BE": "12n", "CH": "5n12c", "AT": "16n", "PL": "24n",
                "PT": "21n", "IE": "4a14n", "SE": "20n", "NO": "11n", "DK": "14n",
                "FI": "14n", "IL": "19n", "SA": "2n18c", "BR": "23n1a1c", "TR": "5n1n16c"}


def iban() -> str:
    country = rng.choice(sorted(IBAN_FORMATS))
    bban = ""
    spec = IBAN_FORMATS[country]
    number = ""
    for ch in spec:
        if ch.isdigit():
            number += ch
            continue
        pool = {"n": string.digits, "a": string.ascii_uppercase,
                "c": string.digits + string.ascii_uppercase}[ch]
        bban += "".join(rng.choice(pool) for _ in range(int(number)))
        number = ""
    expanded = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(expanded) % 97
    compact = f"{country}{check:02d}{bban}"
    style = rng.choice(["bare", "space", "space", "dash"])
    if style == "bare":
        return compact
    groups = [compact[i:i + 4] for i in range(0, len(compact), 4)]
    return (" " if style == "space" else "-").join(groups)


def ssn() -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    sep = rng.choice(["-", "-", ".", " "])
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


def email() -> str:
    local = rng.choice(["jane.doe", "j_smith", "support+tickets", "anna.k", "ops", "li.wei88"])
    domain = rng.choice(["example.com", "mail.example.org", "example.co.uk", "example.io"])
    return f"{local}@{domain}"


def ipv4() -> str:
    return ".".join(str(rng.randint(0, 255)) for _ in range(4)) + rng.choice(["", "", "/24"])


def ipv6() -> str:
    groups = [f"{rng.randint(0, 0xffff):x}" for _ in range(8)]
    form = rng.choice(["full", "compressed", "embedded", "loopback"])
    if form == "full":
        return ":".join(groups)
    if form == "compressed":  # RFC 5952: the longest run of zero groups becomes ::
        return "2001:db8::" + ":".join(groups[:rng.randint(1, 4)])
    if form == "embedded":
        return "::ffff:" + ".".join(str(rng.randint(1, 254)) for _ in range(4))
    return "::1"


def d(n: int, first: str = string.digits) -> str:
    return rng.choice(first) + "".join(rng.choice(string.digits) for _ in range(n - 1))


# numbering plans (ITU-T E.164 national plans): national and international writing
PHONES: list[Callable[[], str]] = [
    lambda: f"({d(3, '23456789')}) {d(3, '23456789')}-{d(4)}",
    lambda: f"{d(3, '23456789')}-{d(3, '23456789')}-{d(4)}",
    lambda: f"+1 {d(3, '23456789')} {d(3, '23456789')} {d(4)}",
    lambda: f"1-800-{d(3, '23456789')}-{d(4)}",
    lambda: f"020 {d(4, '78')} {d(4)}",
    lambda: f"07{d(3)} {d(6)}",
    lambda: f"+44 20 {d(4, '78')} {d(4)}",
    lambda: f"030 {d(7, '123456789')}",
    lambda: f"+49 89 {d(7, '123456789')}",
    lambda: f"0{rng.randint(1, 5)} {d(2)} {d(2)} {d(2)} {d(2)}",
    lambda: f"+33 {rng.randint(1, 7)} {d(2)} {d(2)} {d(2)} {d(2)}",
    lambda: f"0{rng.choice('2348')}-{d(7, '23456789')}",
    lambda: f"05{d(1)}-{d(3)}-{d(4)}",
    lambda: f"+972 {rng.choice('2348')} {d(7, '23456789')}",
    lambda: f"{d(5, '6789')} {d(5)}",
    lambda: f"+91 {d(5, '6789')} {d(5)}",
    lambda: f"({d(1, '123456789')}{d(1, '123456789')}) 9{d(4)}-{d(4)}",  # DDD: no 0
    lambda: f"+55 11 9{d(4)} {d(4)}",
]

GENERATORS = {"credit_card": card, "iban": iban, "ssn": ssn, "email": email,
              "phone": lambda: rng.choice(PHONES)(),
              "ip_address": lambda: ipv4() if rng.random() < 0.5 else ipv6()}

TEMPLATES = ["Please use {} for this.", "{}", "Details: {}.", "Kindly confirm ({}) today",
             "naïve café note — {} — merci", "Ref 12: {}, thanks", "订单 {} 已确认",
             "From: {}\nTo: the team"]

# ---- hard negatives ------------------------------------------------------------------


def negative() -> str:
    kind = rng.choice(["order", "timestamp", "version", "date", "price", "tracking",
                       "uuid", "iban_typo", "card_typo", "ssn_unissued",
                       "zip"])
    if kind == "order":
        return f"Order #{rng.choice(['A', 'B', 'ORD-'])}{d(7)} shipped"
    if kind == "timestamp":
        return f"event at {rng.randint(1_600_000_000_000, 1_800_000_000_000)} ms"
    if kind == "version":
        return f"upgrade to v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}"
    if kind == "date":
        return f"due {rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "price":
        return f"total ${rng.randint(1, 9)},{rng.randint(100, 999)}.{rng.randint(10, 99)}"
    if kind == "tracking":
        return f"tracking 1Z{d(3)}AA1{d(10)}"
    if kind == "uuid":
        return f"request {uuid.UUID(int=rng.getrandbits(128), version=4)}"
    if kind == "iban_typo":
        good = iban().replace(" ", "").replace("-", "")
        # one digit changed: mod-97 catches every single substitution (ISO 7064)
        at = max(i for i, c in enumerate(good[:-2]) if c.isdigit())
        return f"IBAN {good[:at]}{(int(good[at]) + 1) % 10}{good[at + 1:]}"
    if kind == "card_typo":
        good = luhn_complete("4" + d(14))
        return f"card {good[:-1]}{(int(good[-1]) + 1) % 10}"
    if kind == "ssn_unissued":
        return f"{rng.choice(['000', '666', '912'])}-{d(2, '123456789')}-{d(4, '123456789')}"
    return f"ZIP {d(5)}-{d(4)}"


def main() -> None:
    rows = []
    for entity, make in sorted(GENERATORS.items()):
        for _ in range(150):
            value = make()
            template = rng.choice(TEMPLATES)
            text = template.format(value)
            start = template.index("{}")
            rows.append({"text": text, "entities": [[entity, start, start + len(value)]]})
    for _ in range(2):  # pairs side by side
        for _ in range(50):
            a, b = rng.choice(PHONES)(), rng.choice(PHONES)()
            rows.append({"text": f"Call {a} {b}", "entities": [
                ["phone", 5, 5 + len(a)], ["phone", 6 + len(a), 6 + len(a) + len(b)]]})
    for _ in range(50):  # an IPv4 address next to other numbers is one address, no phone
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        rows.append({"text": f"host {ip} {d(3)} {d(4)}",
                     "entities": [["ip_address", 5, 5 + len(ip)]]})
    for _ in range(400):
        rows.append({"text": negative(), "entities": []})
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} texts to {OUT}")


if __name__ == "__main__":
    main()
