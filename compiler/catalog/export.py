"""export: where data may be exported to, from which regions, and how much of it."""

from __future__ import annotations

from typing import Any

from ..schema import Field, ListOf, Str
from . import Example, RuleType
from ._common import COUNT
from ._data import CLASSES, FAIL_CLOSED_NOTE, Glob


def _export(**data: Any) -> dict[str, Any]:
    return {"action": {"type": "export_data", "data": data}}


S3 = {"allowed_destinations": ["s3://acme-*"]}

RULE_TYPE = RuleType(
    name="export",
    fires_on=lambda rule: ["export_data"],
    summary="Allow data exports only to listed destinations and regions, and only so much.",
    violated_when=(
        "an `export_data` action of the rule's `classes` (every class when absent; data "
        "that does not list its classes counts) goes to a destination no "
        "`allowed_destinations` glob matches, to a region outside `allowed_regions`, or "
        "moves more than `max_records` records; or lacks the destination, region or records "
        "count a set parameter needs."
    ),
    params={
        "allowed_destinations": Field(ListOf(Glob())),
        "allowed_regions": Field(ListOf(Str(non_empty=True))),
        "max_records": Field(COUNT),
        "classes": CLASSES,
    },
    doc_params={
        "allowed_destinations": "globs for `data.destination`; `*` matches any characters "
                                "(`/` too), `?` one; `[a-z]`, `{a,b}`; case-sensitive",
        "allowed_regions": "regions allowed for `data.region` (compared exactly)",
        "max_records": "most records one export may move (`data.records`; exactly the "
                       "limit is allowed)",
        "classes": "data classes the rule covers; absent: all data",
    },
    notes=f"""\
{FAIL_CLOSED_NOTE} Here: with `allowed_destinations` set, an export without a
`data.destination` string is a violation; likewise `allowed_regions` without a
`data.region`, and `max_records` without a numeric `data.records`. Data without an
`action.data.classes` list is covered by every rule, whatever its `classes`.

Destinations are matched with OPA's `glob.match` without delimiters, so
`s3://acme-*` covers `s3://acme-eu/exports/2024.csv`. Glob syntax is checked when the
repository is validated.""",
    examples=[
        Example("allowed destination", S3,
                _export(destination="s3://acme-eu/exports/q1.csv"), "ok"),
        Example("destination no glob matches", S3,
                _export(destination="s3://other/q1.csv"), "violated"),
        Example("glob is case-sensitive", S3, _export(destination="S3://ACME-EU/x"), "violated"),
        Example("missing destination fails closed", S3, _export(region="eu"), "violated"),
        Example("allowed region", {"allowed_regions": ["eu-west-1"]},
                _export(region="eu-west-1"), "ok"),
        Example("regions compare exactly", {"allowed_regions": ["eu-west-1"]},
                _export(region="EU-West-1"), "violated"),
        Example("region not allowed", {"allowed_regions": ["eu-west-1"]},
                _export(region="us-east-1"), "violated"),
        Example("missing region fails closed", {"allowed_regions": ["eu-west-1"]},
                _export(destination="s3://acme-eu/x"), "violated"),
        Example("exactly max_records is allowed", {"max_records": 1000},
                _export(records=1000), "ok"),
        Example("over max_records", {"max_records": 1000}, _export(records=1001), "violated"),
        Example("missing records count fails closed", {"max_records": 1000},
                _export(destination="s3://acme-eu/x"), "violated"),
        Example("absent parameters impose nothing", {"max_records": 10},
                _export(records=5, destination="ftp://anywhere", region="mars"), "ok"),
        Example("a class outside the rule's classes", {**S3, "classes": ["pii"]},
                _export(classes=["public"], destination="ftp://anywhere"), "ok"),
        Example("a class inside the rule's classes", {**S3, "classes": ["pii"]},
                _export(classes=["public", "pii"], destination="ftp://anywhere"), "violated"),
        Example("unlabelled data is covered", {**S3, "classes": ["pii"]},
                _export(destination="ftp://anywhere"), "violated"),
        Example("authored strings are data", {"allowed_destinations": ['s3://"x"} #*']},
                _export(destination='s3://"x"} # 1'), "ok"),
        Example("only export_data counts", S3,
                {"action": {"type": "share_data", "data": {"destination": "ftp://x"}}}, "ok"),
    ],
)
