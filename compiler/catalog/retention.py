"""retention: how long stored data may (or must) be kept, per data class."""

from __future__ import annotations

from typing import Any

from ..schema import Field
from . import Example, RuleType
from ._common import NON_NEGATIVE
from ._data import CLASSES, FAIL_CLOSED_NOTE, classes_key


def _store(**data: Any) -> dict[str, Any]:
    return {"action": {"type": "store_data", "data": data}}


RULE_TYPE = RuleType(
    name="retention",
    fires_on=lambda rule: ["store_data"],
    summary="Bound how long stored data is kept, for all data or for some classes.",
    violated_when=(
        "a `store_data` action of the rule's `classes` (every class when absent; data that "
        "does not list its classes counts) has a `retention_days` over `max_days`, under "
        "`min_days`, or none at all."
    ),
    params={
        "max_days": Field(NON_NEGATIVE),
        "min_days": Field(NON_NEGATIVE),
        "classes": CLASSES,
    },
    doc_params={
        "max_days": "longest retention allowed, in days (exactly `max_days` is allowed)",
        "min_days": "shortest retention allowed, in days (exactly `min_days` is allowed)",
        "classes": "data classes the rule covers; absent: all data",
    },
    key_doc="`retention:CLASSES` (the sorted classes joined by `,`; `*` when "
            "`classes` is absent)",
    conflict_key=lambda p: f"retention:{classes_key(p.get('classes'))}",
    notes=f"""\
{FAIL_CLOSED_NOTE} Here: a covered `store_data` action without a numeric
`action.data.retention_days` is a violation, even when the rule sets neither bound, and
data without an `action.data.classes` list is covered by every rule, whatever its
`classes`. Data that lists an empty `classes` carries no class.""",
    examples=[
        Example("within the bounds", {"max_days": 365, "min_days": 30},
                _store(classes=["pii"], retention_days=90), "ok"),
        Example("over max_days", {"max_days": 365},
                _store(classes=["pii"], retention_days=400), "violated"),
        Example("exactly max_days is allowed", {"max_days": 365},
                _store(retention_days=365), "ok"),
        Example("under min_days", {"min_days": 30},
                _store(classes=["financial"], retention_days=7), "violated"),
        Example("missing retention_days fails closed", {"max_days": 365},
                _store(classes=["pii"]), "violated"),
        Example("no data at all fails closed", {"max_days": 365},
                {"action": {"type": "store_data"}}, "violated"),
        Example("a class the rule covers", {"max_days": 30, "classes": ["pii", "health"]},
                _store(classes=["marketing", "health"], retention_days=90), "violated"),
        Example("classes compare exactly", {"max_days": 30, "classes": ["PII"]},
                _store(classes=["pii"], retention_days=90), "ok"),
        Example("a class the rule does not cover", {"max_days": 30, "classes": ["pii"]},
                _store(classes=["marketing"], retention_days=90), "ok"),
        Example("unlabelled data is covered", {"max_days": 30, "classes": ["pii"]},
                _store(retention_days=90), "violated"),
        Example("only store_data counts", {"max_days": 30},
                {"action": {"type": "export_data", "data": {"retention_days": 90}}}, "ok"),
    ],
)
