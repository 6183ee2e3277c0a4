"""``kind: Waiver``: one rule lifted for one agent until a moment (called by ``validate``
and ``compile``).

A waiver is an exception with an owner and an end: who asked (``reason``), who agreed
(``approvedBy``) and when it stops (``expires``, RFC 3339 with an offset). Whether it is
still in force is decided in Rego, against OPA's clock, on every decision
(``rego_templates/core/main.rego.j2``): a bundle built today stops honouring the waiver
at the expiry without a rebuild. ``validate`` warns about waivers that have expired or
expire within a week, and about waivers that lift a rule the agent does not have.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import Problems, UsageError, warn
from .load import Document, YMap
from .model import Agent, Pack, Waiver
from .schema import MISSING, Check, Ctx, Field, Id, Obj, Str, section, suggestion

#: RFC 3339 date-time: a date, a time, optional fractions, and an offset (required).
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
#: How soon an expiry is worth a warning.
EXPIRY_NOTICE = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_moment(text: str) -> datetime:
    """An RFC 3339 date-time with an offset as an aware datetime; ValueError names why not."""
    if not RFC3339.match(text):
        raise ValueError(f"expected {Timestamp.label}, got {text!r}")
    try:
        return datetime.fromisoformat(text.upper().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a real date and time") from None


class Timestamp(Check):
    """An RFC 3339 date-time with an offset (``2026-12-31T23:59:59Z``), normalised to an
    aware :class:`datetime`."""

    label = "an RFC 3339 date-time with an offset, such as 2026-12-31T23:59:59Z"

    def __call__(self, value: Any, ctx: Ctx) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value
        if not isinstance(value, str) or not RFC3339.match(value):
            return self.fail(value, ctx)
        try:
            return parse_moment(value)
        except ValueError as exc:
            ctx.error(str(exc))
            return MISSING


METADATA = Obj({"id": Field(Id(), required=True), "name": Field(Str()),
                "description": Field(Str())})

SPEC = Obj({
    "agent": Field(Id(), required=True),
    "pack": Field(Id(), required=True),
    "rule": Field(Id(), required=True),
    "reason": Field(Str(non_empty=True), required=True),
    "approvedBy": Field(Str(non_empty=True), required=True),
    "expires": Field(Timestamp(), required=True),
})


def check_waiver(doc: Document, ctx: Ctx) -> Waiver:
    """The waiver of one document; its problems are reported at their lines."""
    body = doc.body
    meta = section(body, "metadata", METADATA, ctx)
    spec = section(body, "spec", SPEC, ctx)
    raw = body.get("spec")
    line = raw.line_of("rule") if isinstance(raw, YMap) and "rule" in raw else doc.line
    return Waiver(id=meta.get("id", ""), agent=spec.get("agent", ""),
                  pack=spec.get("pack", ""), rule=spec.get("rule", ""),
                  reason=spec.get("reason", ""), approved_by=spec.get("approvedBy", ""),
                  expires=spec.get("expires"), loc=doc.loc(line))


def _has_pack(agent: Agent, pack: Pack) -> bool:
    """Whether the agent has the pack at any level (SPEC section 3)."""
    return (pack.scope == "all" or (isinstance(pack.scope, list) and agent.id in pack.scope)
            or any(a.pack == pack.id for a in agent.packs))


def check_waivers(waivers: list[Waiver], packs: dict[str, Pack], agents: dict[str, Agent],
                  problems: Problems, references: bool = True,
                  now: datetime | None = None) -> dict[str, Waiver]:
    """Index by id; unknown agents, packs and rules are errors, a waiver that lifts
    nothing (expired, or a rule the agent does not have) or expires soon a warning.
    References are checked only when every file loaded (``references``): else the agent
    or pack may be in a file that did not."""
    now = now or datetime.now(UTC)
    index: dict[str, Waiver] = {}
    for waiver in sorted(waivers, key=lambda w: w.loc):
        if not (waiver.id and waiver.agent and waiver.pack and waiver.rule) \
                or waiver.expires is None:
            continue  # incomplete: reported already
        if waiver.id in index:
            problems.add(waiver.loc, f"duplicate Waiver id {waiver.id!r} (first declared at "
                         f"{index[waiver.id].loc})")
            continue
        index[waiver.id] = waiver
        _warn_expiry(waiver, now)
        if not references or not _references_ok(waiver, packs, agents, problems):
            continue
        if not _has_pack(agents[waiver.agent], packs[waiver.pack]):
            warn(waiver.loc, f"waiver {waiver.id!r} lifts {waiver.pack}/{waiver.rule} for "
                 f"agent {waiver.agent!r}, which does not have pack {waiver.pack!r}: it "
                 "lifts nothing")
    return index


def _references_ok(waiver: Waiver, packs: dict[str, Pack], agents: dict[str, Agent],
                   problems: Problems) -> bool:
    ok = True
    if waiver.agent not in agents:
        problems.add(waiver.loc, f"waiver {waiver.id!r} names unknown agent {waiver.agent!r}"
                     + suggestion(waiver.agent, agents))
        ok = False
    pack = packs.get(waiver.pack)
    if pack is None:
        problems.add(waiver.loc, f"waiver {waiver.id!r} names unknown pack {waiver.pack!r}"
                     + suggestion(waiver.pack, packs))
        return False
    rules = {r.id for r in pack.rules}
    if waiver.rule not in rules:
        problems.add(waiver.loc, f"waiver {waiver.id!r} names unknown rule {waiver.rule!r} "
                     f"of pack {waiver.pack!r}" + suggestion(waiver.rule, rules))
        ok = False
    return ok


def _warn_expiry(waiver: Waiver, now: datetime) -> None:
    assert waiver.expires is not None
    when = rfc3339(waiver.expires)
    if waiver.expires <= now:
        warn(waiver.loc, f"waiver {waiver.id!r} expired at {when}: it lifts nothing any "
             "more; delete it or renew it with a new expiry")
    elif waiver.expires - now <= EXPIRY_NOTICE:
        left = waiver.expires - now
        days = left.days
        span = f"{days} day(s)" if days else f"{left.seconds // 3600} hour(s)"
        warn(waiver.loc, f"waiver {waiver.id!r} expires at {when}, in {span}: "
             f"{waiver.pack}/{waiver.rule} applies to {waiver.agent!r} again after that")


def rfc3339(moment: datetime) -> str:
    """``2026-12-31T23:59:59Z``: UTC, seconds (and microseconds when there are any)."""
    utc = moment.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def expires_ns(moment: datetime) -> int:
    """Nanoseconds since the Unix epoch, exactly (what Rego's ``time.now_ns()`` counts)."""
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def moment_ns(text: str) -> int:
    """An RFC 3339 moment from the command line, as nanoseconds since the epoch."""
    try:
        return expires_ns(parse_moment(text))
    except ValueError as exc:
        raise UsageError(f"--at: {exc}") from None


def waiver_data(waivers: dict[str, Waiver]) -> dict[str, Any]:
    """``agent -> pack -> rule -> [waiver]``, the latest expiry first, for a decision to
    look its rule up in (config.waivers)."""
    out: dict[str, Any] = {}
    for waiver in sorted(waivers.values(), key=lambda w: (w.agent, w.pack, w.rule, w.id)):
        assert waiver.expires is not None
        entries = out.setdefault(waiver.agent, {}).setdefault(waiver.pack, {}) \
            .setdefault(waiver.rule, [])
        entries.append({"id": waiver.id, "reason": waiver.reason,
                        "approved_by": waiver.approved_by, "expires": rfc3339(waiver.expires),
                        "expires_ns": expires_ns(waiver.expires)})
    for by_pack in out.values():
        for by_rule in by_pack.values():
            for entries in by_rule.values():
                entries.sort(key=lambda e: (-e["expires_ns"], e["id"]))
    return out

