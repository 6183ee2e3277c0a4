"""``policypacks doctor``: the troubleshooting list, run against a live OPA.

Each check asks OPA (or the audit store) one question a person would otherwise ask by
hand when an agent is refused or not refused, and says how to fix a bad answer. Checks
that depend on an earlier failure are skipped rather than piling up the same cause.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import OpaError
from ..opa.binary import pinned_versions
from ..vocabulary import AUTHORED_ENFORCEMENTS, ENFORCEMENTS, SHADOW, package_segment
from .api import UNDEFINED, OpaApi

PROBE_AGENT = "policypacks-doctor"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Doctor:
    api: OpaApi
    identity: str | None = None
    agent: str | None = None
    revision: str | None = None
    store: str | None = None
    since: timedelta = timedelta(hours=24)

    def run(self) -> list[Check]:
        checks = [self.reachable()]
        if checks[0].status == "fail":
            return checks + [skipped(name, "OPA is not reachable") for name in
                             ("bundles", "revision", "decision", "agent", "packs",
                              "enforcement")] + [self.violations()]
        checks.append(guard("bundles", self.bundles))
        segment, config = None, None
        try:
            segment, found = self.find_identity()
            if segment is not None:
                config = self.api.data(f"policypacks/{segment}/config")
        except OpaError as exc:
            found = Check("revision", "fail", str(exc), "read OPA's log")
        checks.append(found)
        checks.append(guard("decision", lambda: self.decision(segment)) if segment else
                      skipped("decision", "no identity is loaded"))
        try:
            checks += self.agent_checks(segment, config)
        except OpaError as exc:
            checks.append(Check("agent", "fail", str(exc), "read OPA's log"))
        checks.append(self.violations())
        return checks

    def reachable(self) -> Check:
        try:
            answer = self.api.request("GET", "/health")
        except OpaError as exc:
            return Check("opa-reachable", "fail", str(exc),
                         "start the sidecar (policypacks opa run --config "
                         "opa-config/config.yaml, or opa up) or fix --opa: scheme, host, port")
        if answer.status_code != 200:
            return Check("opa-reachable", "fail", f"/health answered HTTP {answer.status_code}",
                         "OPA is up but unhealthy: read its log")
        version = self.opa_version()
        pinned = pinned_versions().get("OPA_VERSION")
        if version and pinned and version != pinned:
            return Check("opa-reachable", "warn", f"OPA {version} answers at {self.api.url}",
                         f"bundles are tested with OPA {pinned} (compiler/tool_versions.env): "
                         "run that version")
        return Check("opa-reachable", "ok", f"OPA {version or ''} answers at {self.api.url}"
                     .replace("OPA  ", "OPA "))

    def opa_version(self) -> str | None:
        try:
            answer = self.api.request("GET", "/v1/query",
                                      params={"q": "v := opa.runtime().version"})
            return answer.json()["result"][0]["v"]
        except (OpaError, ValueError, KeyError, IndexError, TypeError):
            return None

    def bundles(self) -> Check:
        answer = self.api.request("GET", "/health?bundles")
        status = self.api.status() or {}
        active = {name: info.get("active_revision") for name, info in
                  (status.get("bundles") or {}).items()}
        if answer.status_code == 200:
            if not active:
                return Check("bundles", "ok", "no bundle polling configured (pushed policies "
                             "or --bundle files), or status reporting is off")
            return Check("bundles", "ok", "activated: " + ", ".join(
                f"{name} (revision {rev})" for name, rev in sorted(active.items())))
        problems = self.api.bundle_problems()
        return Check("bundles", "fail", "; ".join(problems) or
                     f"/health?bundles answered HTTP {answer.status_code}: not activated",
                     "check that the bundle service serves the resource in OPA's config "
                     "(BUNDLE_SERVICE_URL, POLICYPACKS_IDENTITY), that it was published "
                     "(policypacks publish bundle.tar.gz --to DIR), and OPA's log")

    def loaded_identities(self) -> list[str]:
        segments = set()
        for policy in self.api.policies():
            path = ((policy.get("ast") or {}).get("package") or {}).get("path") or []
            values = [term.get("value") for term in path]
            if len(values) >= 3 and values[1] == "policypacks":
                segments.add(str(values[2]))
        return sorted(segments)

    def find_identity(self) -> tuple[str | None, Check]:
        loaded = self.loaded_identities()
        publish_hint = ("publish the bundle (policypacks publish bundle.tar.gz --opa URL, or "
                        "--to DIR for bundle polling) and check OPA's bundle configuration")
        if self.identity:
            segment = package_segment(self.identity)
        elif len(loaded) == 1:
            segment = loaded[0]
        elif not loaded:
            return None, Check("revision", "fail", "no policypacks bundle is loaded",
                               publish_hint)
        else:
            return None, Check("revision", "fail", "several identities are loaded: "
                               + ", ".join(loaded), "give --identity ID")
        revision = self.api.data(f"policypacks/{segment}/config/revision")
        if revision is UNDEFINED:
            return None, Check("revision", "fail",
                               f"no data.policypacks.{segment}.config: the identity's bundle "
                               f"is not loaded (loaded: {', '.join(loaded) or 'none'})",
                               publish_hint)
        if self.revision and revision != self.revision:
            problems = self.api.bundle_problems()
            return segment, Check(
                "revision", "fail", f"identity {segment} serves revision {revision}, "
                f"expected {self.revision}" + "".join(f"; {p}" for p in problems),
                "publish the expected bundle and wait for it (policypacks publish ... "
                "--opa URL); with bundle polling it arrives within max_delay_seconds once "
                "the bundle service has it: check OPA's log or /v1/status for errors")
        return segment, Check("revision", "ok", f"identity {segment}: revision {revision} "
                              "active" + (" (as expected)" if self.revision else ""))

    def decision(self, segment: str) -> Check:
        probe = {"agent": self.agent or PROBE_AGENT, "action": {"type": "doctor_probe"}}
        path = f"policypacks/{segment}/decision"
        answer = self.api.decide(path, probe)
        if not isinstance(answer, dict) or answer.get("decision") not in (
                "allow", *ENFORCEMENTS):
            return Check("decision", "fail", f"POST /v1/data/{path} returned "
                         f"{'nothing (undefined)' if answer is UNDEFINED else answer!r}",
                         "the bundle's modules are missing or stale: publish it again")
        return Check("decision", "ok", f"POST /v1/data/{path} answers (a no-op action: "
                     f"{answer['decision']})")

    def agent_checks(self, segment: str | None, config: Any) -> list[Check]:
        names = ("agent", "packs", "enforcement")
        if not self.agent:
            return [skipped(name, "no --agent given") for name in names]
        if segment is None or not isinstance(config, dict):
            return [skipped(name, "no identity is loaded") for name in names]
        agents = config.get("agents") or {}
        if self.agent not in agents:
            unknown = (config.get("identity") or {}).get("unknown_agents", "block")
            effect = ("every action it asks about is blocked" if unknown == "block" else
                      "it gets only the packs with scope: all")
            return [Check("agent", "fail", f"agent {self.agent} is not declared (declared: "
                          f"{', '.join(sorted(agents)) or 'none'}); unknownAgents is "
                          f"{unknown}: {effect}",
                          f"add an Agent document with metadata.id: {self.agent}, or fix "
                          "the agent id the client sends")] + [
                skipped(name, "the agent is not declared") for name in names[1:]]
        view = self.api.data(f"policypacks/{segment}/effective/{self.agent}")
        packs = view.get("packs") if isinstance(view, dict) else None
        checks = [Check("agent", "ok", f"agent {self.agent} is declared")]
        if not packs:
            return checks + [
                Check("packs", "fail", f"no pack applies to {self.agent}: every action is "
                      "allowed", "attach packs in the Agent's spec.packs, or give packs "
                      f"scope: all / a scope listing {self.agent}"),
                skipped("enforcement", "no packs attached")]
        checks.append(Check("packs", "ok", "attached: " + ", ".join(
            f"{p['pack']} ({p.get('level')})" for p in packs)))
        return checks + [enforcement_check(packs)]

    def violations(self) -> Check:
        if not self.store:
            return skipped("violations", "no --store given (or POLICYPACKS_STORE)")
        if not self.agent:
            return skipped("violations", "no --agent given")
        from ..runtime.store import open_store

        since = datetime.now(UTC) - self.since
        try:
            store = open_store(self.store, create=False)
            rows = store.violations(identity=self.identity, agent=self.agent, since=since)
        except Exception as exc:  # a store we cannot read is a finding, not a crash
            return Check("violations", "fail", f"cannot read {self.store}: {exc}",
                         "check --store / POLICYPACKS_STORE and that the file is readable")
        counts = Counter(rule_keys(rows))
        hours = self.since.total_seconds() / 3600
        if not rows:
            return Check("violations", "ok", f"no violations for {self.agent} in the last "
                         f"{hours:g}h")
        top = ", ".join(f"{key} x{n}" for key, n in counts.most_common(3))
        return Check("violations", "warn", f"{len(rows)} violation record(s) for "
                     f"{self.agent} in the last {hours:g}h" + (f"; most: {top}" if top else ""),
                     f"review them: policypacks violations list --agent {self.agent}; a "
                     "rule that fires too often: policypacks violations stats")


def enforcement_check(packs: list[dict[str, Any]]) -> Check:
    unset = [p["pack"] for p in packs if p.get("enforcement") not in AUTHORED_ENFORCEMENTS]
    if unset:
        return Check("enforcement", "fail", "no valid enforcement on: " + ", ".join(unset),
                     "set spec.enforcement on the pack (block, require_approval or warn)")
    levels = ", ".join(f"{p['pack']}={p['enforcement']}" for p in packs)
    if packs and all(p["enforcement"] == SHADOW for p in packs):
        return Check("enforcement", "warn", f"every pack is in shadow mode ({levels}): "
                     "nothing is enforced", "promote the packs once their shadow reports "
                     "look right: policypacks violations stats --shadow, then "
                     "policypacks promote PACK --to block")
    if all(p["enforcement"] in ("warn", SHADOW) for p in packs):
        return Check("enforcement", "warn", f"every pack only warns ({levels}): nothing is "
                     "blocked", "set enforcement: block or require_approval on the packs "
                     "that must stop the agent")
    return Check("enforcement", "ok", levels)


def rule_keys(rows: Iterable[dict[str, Any]]) -> Iterable[str]:
    """``pack/rule`` of each violation row of the store."""
    for row in rows:
        yield f"{row['pack']}/{row['rule']}"


def guard(name: str, check: Callable[[], Check]) -> Check:
    """A check whose OPA call fails (OPA stopped mid-run, a refused token) fails itself
    instead of ending the doctor with an error."""
    try:
        return check()
    except OpaError as exc:
        return Check(name, "fail", str(exc), "read OPA's log")


def skipped(name: str, reason: str) -> Check:
    return Check(name, "skip", reason)


def render_text(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status.upper() if check.status == 'fail' else check.status:<5} "
                     f"{check.name:<14} {check.detail}")
        if check.hint and check.status in ("warn", "fail"):
            lines.append(f"{'':<20} fix: {check.hint}")
    failed = sum(c.status == "fail" for c in checks)
    lines.append(f"{failed} check(s) failed" if failed else "no check failed")
    return "\n".join(lines)
