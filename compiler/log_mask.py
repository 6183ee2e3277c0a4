"""What OPA's decision log may keep of an agent's input, derived from the repository.

OPA logs every decision with its input, and an LLM writes most of that input: message
bodies, subjects, addresses, file names, custom fields. The bundle's ``lib/log`` module
(``rego_templates/core/log.rego.j2``) turns this document into OPA's decision-log mask,
and ``opa-config/log-mask`` points OPA's ``system.log.mask`` at every loaded identity's.

The mask is an allowlist: only the documented structured fields (type, amount, currency,
recipient domain, attachment sizes and types, data classes...) stay; everything else an
agent sends is erased. What the repository adds:

* ``tone_bands`` and ``topics``: the labels its rules know, which may stay in the log (any
  other ``tone`` or ``topics`` value is free text and is erased);
* ``fields``: every free-text field its rules read (the text fields, recipient address,
  attachment names, the PII rules' fields and the custom fields ``when`` conditions
  read), always erased, listed so a reader of the bundle sees what is kept out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .catalog.tone import DEFAULT_MARKERS
from .model import Repository

# Documented free text (SPEC section 4), erased wherever it appears.
FREE_TEXT = (["action", "content", "text"], ["action", "content", "subject"],
             ["action", "recipient", "address"])
PII_FIELDS = (["action", "content", "text"], ["action", "content", "subject"])
# Documented structured fields a condition may read and the log keeps (numbers, labels,
# the recipient's domain); any other field a condition reads is erased.
STRUCTURED = {
    ("agent",), ("action", "type"), ("action", "amount"), ("action", "currency"),
    ("action", "api"), ("action", "recipient", "domain"), ("action", "data", "classes"),
    ("action", "data", "records"), ("action", "data", "retention_days"),
    ("action", "data", "destination"), ("action", "data", "region"),
    ("action", "data", "consent"), ("action", "data", "purpose"), ("usage",),
    ("action", "content", "tone"), ("action", "content", "topics"),
}


def log_mask(repo: Repository) -> dict[str, Any]:
    bands = set(DEFAULT_MARKERS)
    topics: set[str] = set()
    fields = {tuple(path) for path in FREE_TEXT}
    for pack in repo.packs.values():
        for rule in pack.rules:
            params = rule.params
            if rule.type == "tone":
                bands.update(params.get("allowed") or [])
                bands.update(params.get("markers") or {})
            elif rule.type == "prohibited_topics":
                topics.update(params.get("topics") or {})
                topics.update(params.get("patterns") or {})
            elif rule.type == "pii":
                fields.update(tuple(path) for path in PII_FIELDS)
                fields.update(tuple(str(f).split(".")) for f in params.get("fields") or [])
            topics.update(params.get("when_topics") or [])
            for path in condition_fields(params.get("when")):
                if tuple(path) not in STRUCTURED and not is_usage(path):
                    fields.add(tuple(path))
    return {"tone_bands": sorted(bands), "topics": sorted(topics),
            "fields": [list(path) for path in sorted(fields)]}


def condition_fields(condition: Any) -> Iterator[list[str]]:
    """The input paths a ``when`` condition reads (as authored: dotted strings)."""
    if isinstance(condition, dict):
        if isinstance(condition.get("field"), str):
            yield condition["field"].split(".")
        for value in condition.values():
            if isinstance(value, (dict, list)):
                yield from condition_fields(value)
    elif isinstance(condition, list):
        for item in condition:
            yield from condition_fields(item)


def is_usage(path: list[str]) -> bool:
    return bool(path) and path[0] == "usage"
