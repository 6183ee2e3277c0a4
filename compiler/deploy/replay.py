"""Replay before rollout: the logged inputs, decided again by a new bundle, compared with
the baseline bundle's decisions (or, without one, with the decisions recorded in the
log), per decision and per pack/rule.

Evaluation is by one ``opa run --server`` per bundle, asked in batches (one ad-hoc query
decides a whole batch) from two threads per core, so both bundles' OPAs keep every core
busy. Identical inputs are decided once, a decision the log recorded from the
baseline's very build is not decided again (baseline_reuse), and an input the change
between the baseline and the new bundle cannot reach is decided by neither (reach.py).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from ..errors import OpaError, UsageError
from ..vocabulary import DECISIONS
from .decision_log import Logged, Source
from .publish import Bundle
from .reach import unaffected
from .sidecar import LocalOpa

BATCH = 100
# A replay is a batch job: OPA's garbage collector may let the heap grow ten times the
# live data before collecting (GOGC), under a soft ceiling (GOMEMLIMIT), which cuts
# the CPU a decision costs by a fifth to a third (benchmarks/replay.py). What the
# caller's environment sets wins.
GC_ENV = {"GOGC": "1000", "GOMEMLIMIT": "1GiB"}
EXAMPLE_TEXT = 80  # characters of free text an example keeps
ALLOWED = ("allow", "warn")  # SPEC 5: allow is true for these
Progress = Callable[[int, int], None]


# What a replay compares of a decision (compare, _example): OPA answers only this, not
# the whole document, which it would serialise and this process parse for nothing. A
# bundle this version builds has it as a rule of its own (`replayed`, main.rego), which
# OPA evaluates without the rest of the decision; SUMMARY cuts an older one's down.
SUMMARY = ('{"decision": r.decision, "violations": [{"pack": v.pack, "rule": v.rule, '
           '"enforcement": v.enforcement} | some v in r.violations]}')


class Encoded(str):
    """An input already written as JSON text (replay has it from deduplicating)."""


class BundleOpa:
    """One OPA server holding one bundle, deciding batches of inputs: whole decision
    documents, or with ``summary`` only what a replay compares (SUMMARY)."""

    def __init__(self, bundle: Bundle, summary: bool = False) -> None:
        self.bundle = bundle
        self.summary = summary
        self.package = "data." + ".".join(bundle.root.split("/"))
        self.query = self._batch(f"{self.package}.decision", SUMMARY if summary else "r")
        self.opa = LocalOpa(bundles=[bundle.path], extra_args=["--skip-verify"],
                            env={k: v for k, v in GC_ENV.items() if k not in os.environ})
        self._local = threading.local()

    @staticmethod
    def _batch(rule: str, answer: str) -> str:
        return f"decisions := [d | some x in input; r := {rule} with input as x; d := {answer}]"

    def ready(self) -> None:
        """Once OPA answers: a summary from the bundle's own `replayed` rule, when it has
        one (an input that fails the input contract is still decided: it is defined)."""
        if self.summary and self.decide_with(self._batch(f"{self.package}.replayed", "r"), [{}]):
            self.query = self._batch(f"{self.package}.replayed", "r")

    def __enter__(self) -> BundleOpa:
        self.opa.start()
        self.ready()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.opa.stop()

    def decide(self, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        """Each input's decision; an input given as ``Encoded`` JSON text is sent as is."""
        decided = self.decide_with(self.query, inputs)
        if len(decided) != len(inputs):
            raise OpaError(f"OPA with {self.bundle.path} left some decision undefined")
        return decided

    def decide_with(self, query: str, inputs: Sequence[Any]) -> list[dict[str, Any]]:
        """What the batch query answers for the inputs (fewer when some is undefined)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        texts = [x if isinstance(x, Encoded) else json.dumps(x) for x in inputs]
        body = f'{{"query": {json.dumps(query)}, "input": [{",".join(texts)}]}}'
        try:
            answer = session.post(f"{self.opa.url}/v1/query", timeout=600, data=body,
                                  headers={"Content-Type": "application/json"})
        except requests.RequestException as exc:
            raise OpaError(f"OPA with {self.bundle.path} stopped answering: {exc}") from exc
        if answer.status_code != 200:
            raise OpaError(f"OPA with {self.bundle.path} refused the replay query (HTTP "
                           f"{answer.status_code}): {answer.text[:300]}")
        result = answer.json().get("result") or []
        decided = result[0]["decisions"] if result else None
        if not isinstance(decided, list):
            raise OpaError(f"OPA with {self.bundle.path} answered no decisions")
        return decided


class Deciding:
    """Batches of inputs, each decided by every OPA, on one pool of threads shared by all
    OPAs (so two bundles are decided side by side), submitted as they come: a replay
    submits the first batches while it is still reading the log."""

    def __init__(self, opas: Sequence[BundleOpa], progress: Progress | None = None,
                 workers: int | None = None) -> None:
        self.opas = opas
        self.progress = progress
        self.total = self.done = 0
        self.complete = False  # every input submitted: until then progress has no total
        self._lock = threading.Lock()
        self._jobs: list[tuple[int, int, Future[list[dict[str, Any]]]]] = []
        # Two batches in flight per core: while this process sends one and reads the
        # answer of another, OPA still has work on every core (15% faster with one
        # bundle than one batch per core, in interleaved runs on 2 cores).
        self._pool = ThreadPoolExecutor(workers or 2 * (os.cpu_count() or 2),
                                        thread_name_prefix="replay")

    def __enter__(self) -> Deciding:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, start: int, chunk: Sequence[Any], only: int | None = None) -> None:
        """Decide ``chunk``, the inputs from position ``start`` on, with every OPA (or
        with the one at index ``only``)."""
        targets = range(len(self.opas)) if only is None else [only]
        self.total += len(chunk) * len(targets)
        for index in targets:
            job = self._pool.submit(self.opas[index].decide, chunk)
            job.add_done_callback(self._count)
            self._jobs.append((index, start, job))

    def submitted_all(self) -> None:
        """No more inputs come: progress reports the total from now on."""
        with self._lock:
            self.complete = True
            if self.progress and self.done:
                self.progress(self.done, self.total)

    def _count(self, job: Future[list[dict[str, Any]]]) -> None:
        if job.cancelled() or job.exception() is not None or not self.progress:
            return
        with self._lock:
            self.done += len(job.result())
            self.progress(self.done, self.total if self.complete else 0)

    def results(self, counts: Sequence[int]) -> list[list[dict[str, Any]]]:
        """Each OPA's decision of the inputs submitted to it (``counts[i]`` to the i-th),
        in order (the first failure is raised)."""
        results: list[list[dict[str, Any]]] = [[{}] * count for count in counts]
        for index, start, job in self._jobs:
            decided = job.result()
            results[index][start:start + len(decided)] = decided
        return results


def decide_all(opas: Sequence[BundleOpa], inputs: Sequence[Any],
               progress: Progress | None = None,
               workers: int | None = None) -> list[list[dict[str, Any]]]:
    """Each OPA's decision for every input (in order)."""
    with Deciding(opas, progress, workers) as deciding:
        for start in range(0, len(inputs), BATCH):
            deciding.submit(start, inputs[start:start + BATCH])
        deciding.submitted_all()
        return deciding.results([len(inputs)] * len(opas))


def truncated(value: Any, limit: int = EXAMPLE_TEXT) -> Any:
    """The value with every long string cut to ``limit`` characters (examples show the
    shape of an input, not the text an agent wrote)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit - 1] + "…"
    if isinstance(value, dict):
        return {k: truncated(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [truncated(v, limit) for v in value]
    return value


def _rules(decision: dict[str, Any]) -> dict[str, str]:
    """pack/rule -> enforcement of every violation of a decision."""
    out = {}
    for violation in decision.get("violations") or []:
        if isinstance(violation, dict):
            out[f"{violation.get('pack')}/{violation.get('rule')}"] = str(
                violation.get("enforcement"))
    return out


@dataclass
class RuleChange:
    pack: str
    rule: str
    newly_violated: int = 0
    no_longer_violated: int = 0
    enforcement_changed: int = 0
    allowed_to_refused: int = 0
    refused_to_allowed: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Transition:
    before: str
    after: str
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ReplayReport:
    source: str
    new: dict[str, Any]
    baseline: dict[str, Any]
    read: int = 0
    replayed: int = 0
    distinct_inputs: int = 0
    changed: int = 0
    rules_changed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    rules: list[RuleChange] = field(default_factory=list)
    packs: dict[str, dict[str, int]] = field(default_factory=dict)  # pack -> counts

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "new": self.new, "baseline": self.baseline,
            "read": self.read, "replayed": self.replayed,
            "distinct_inputs": self.distinct_inputs, "changed": self.changed,
            "rules_changed": self.rules_changed, "skipped": self.skipped,
            "transitions": [vars(t) for t in self.transitions],
            "rules": [vars(r) for r in self.rules], "packs": self.packs,
        }


def _example(entry: Logged, before: dict[str, Any], after: dict[str, Any],
             added: list[str], removed: list[str]) -> dict[str, Any]:
    return {"where": entry.where, "decision_id": entry.decision_id, "at": entry.at,
            "agent": entry.input.get("agent"), "before": before.get("decision"),
            "after": after.get("decision"), "newly_violated": added,
            "no_longer_violated": removed, "input": truncated(entry.input)}


def compare(source: Source, new: Bundle, before: list[dict[str, Any]],
            after: list[dict[str, Any]], baseline: dict[str, Any],
            examples: int = 3) -> ReplayReport:
    """Per entry: the decision before and after; counted per transition and per rule."""
    report = ReplayReport(source.description, {"bundle": str(new.path),
                                               "revision": new.revision}, baseline,
                          read=len(source.entries) + sum(source.skipped.values()),
                          replayed=len(source.entries), skipped=dict(source.skipped))
    transitions: dict[tuple[str, str], Transition] = {}
    rules: dict[str, RuleChange] = {}
    for entry, old, fresh in zip(source.entries, before, after, strict=True):
        old_rules, new_rules = _rules(old), _rules(fresh)
        added = sorted(set(new_rules) - set(old_rules))
        removed = sorted(set(old_rules) - set(new_rules))
        moved = sorted(r for r in set(old_rules) & set(new_rules)
                       if old_rules[r] != new_rules[r])
        was, now = str(old.get("decision")), str(fresh.get("decision"))
        if was == now and not (added or removed or moved):
            continue
        report.rules_changed += 1
        example = _example(entry, old, fresh, added, removed)
        if was != now:
            report.changed += 1
            step = transitions.setdefault((was, now), Transition(was, now))
            step.count += 1
            if len(step.examples) < examples:
                step.examples.append(example)
        flipped_out = was in ALLOWED and now not in ALLOWED
        flipped_in = was not in ALLOWED and now in ALLOWED
        for pack_id in sorted({ref.partition("/")[0] for ref in {*added, *removed, *moved}}):
            counts = report.packs.setdefault(pack_id, {"inputs_changed": 0,
                                                       "allowed_to_refused": 0,
                                                       "refused_to_allowed": 0})
            counts["inputs_changed"] += 1
            counts["allowed_to_refused"] += flipped_out
            counts["refused_to_allowed"] += flipped_in
        for ref in {*added, *removed, *moved}:
            pack, _, rule = ref.partition("/")
            change = rules.setdefault(ref, RuleChange(pack, rule))
            if ref in added:
                change.newly_violated += 1
            elif ref in removed:
                change.no_longer_violated += 1
            else:
                change.enforcement_changed += 1
            # a rule that appeared or got stricter can refuse; one that went or eased, allow
            change.allowed_to_refused += flipped_out and ref not in removed
            change.refused_to_allowed += flipped_in and ref not in added
            if len(change.examples) < examples:
                change.examples.append(example)
    order = {d: i for i, d in enumerate(DECISIONS)}
    report.transitions = sorted(transitions.values(), key=lambda t: (
        -t.count, order.get(t.before, 9), order.get(t.after, 9)))
    report.packs = dict(sorted(report.packs.items()))
    report.rules = sorted(rules.values(), key=lambda r: (
        -(r.newly_violated + r.no_longer_violated + r.enforcement_changed), r.pack, r.rule))
    return report


@dataclass
class Lane:
    """The distinct inputs one OPA is asked to decide, in the order they came (each
    input's JSON text, sent to OPA as it is)."""

    distinct: dict[str, int] = field(default_factory=dict)
    unique: list[Encoded] = field(default_factory=list)
    launched: bool = False  # its OPA was started
    ready: bool = False  # its OPA answers

    def place(self, key: Encoded) -> tuple[int, bool]:
        """The input's position, and whether it completes a batch."""
        position = self.distinct.setdefault(key, len(self.unique))
        if position < len(self.unique):
            return position, False
        self.unique.append(key)
        return position, len(self.unique) % BATCH == 0


def baseline_reuse(baseline: Bundle | None) -> Callable[[Logged], bool]:
    """Whether an entry's recorded decision is the baseline's own, so deciding the input
    again with it could only give the same (and is skipped): recorded by this very build
    (the decision's ``digest`` is the bundle's content digest), by the OPA version this
    replay runs, on the input as logged (no mask policy), with no waiver in force (a
    waiver only expires, and is the one thing a decision reads of the clock)."""
    from ..opa.binary import opa_binary, reported_version

    digest = baseline.digest if baseline is not None else ""
    version = reported_version(opa_binary()) if digest else None
    if not (digest and version):
        return lambda entry: False

    def reusable(entry: Logged) -> bool:
        recorded = entry.recorded
        return (recorded is not None and recorded.get("digest") == digest
                and recorded.get("waived") == [] and not entry.masked
                and entry.opa_version == version)

    return reusable


def replay(source: Source, new: Bundle, baseline: Bundle | None = None,
           progress: Progress | None = None, examples: int = 3,
           reuse: bool = True) -> ReplayReport:
    """Decide every entry of ``source`` with ``new`` (and ``baseline``) and compare.

    With a baseline, an entry whose recorded decision the baseline itself made
    (baseline_reuse) is compared with that decision: only the other entries' inputs are
    decided by the baseline's OPA, which is not started when there are none. An entry
    whose input both bundles must decide alike (reach.unaffected: same Rego, same data
    for its agent and action) is decided by neither. ``reuse`` False decides every input
    with both (a log, or a shortcut, that is not trusted)."""
    if baseline is not None and baseline.root != new.root:
        raise UsageError(f"--baseline {baseline.path} is for {baseline.root}, --bundle "
                         f"{new.path} for {new.root}: replay compares one identity's bundles")
    bundles = [new] + ([baseline] if baseline else [])
    opas = [BundleOpa(b, summary=True) for b in bundles]
    lanes = [Lane() for _ in opas]
    reusable = baseline_reuse(baseline if reuse else None)
    alike = unaffected(baseline, new) if baseline is not None and reuse else None
    kept: list[Logged] = []
    # per kept entry: its input's position in each lane (-1: not decided there)
    places: list[tuple[int, int]] = []
    missing = reused = 0
    unreached_inputs: set[str] = set()
    decided: list[list[dict[str, Any]]] = []
    try:
        opas[0].opa.launch()  # OPA starts while the first entries are read
        lanes[0].launched = True
        with Deciding(opas, progress) as deciding:

            def submit(index: int, start: int) -> None:
                lane, opa = lanes[index], opas[index]
                if not lane.ready:  # its first batch: once its OPA answers
                    opa.opa.wait()
                    opa.ready()
                    lane.ready = True
                deciding.submit(start, lane.unique[start:start + BATCH], only=index)

            def take(index: int, key: Encoded) -> int:
                """The input's place in the lane, submitted once its batch is full."""
                if not lanes[index].launched:  # the first input the baseline decides
                    opas[index].opa.launch()
                    lanes[index].launched = True
                position, full = lanes[index].place(key)
                if full:
                    submit(index, len(lanes[index].unique) - BATCH)
                return position

            for entry in source.stream():  # a lazy source is read while OPA decides
                if baseline is None and entry.recorded is None:
                    missing += 1
                    continue
                kept.append(entry)
                key = Encoded(json.dumps(entry.input, sort_keys=True, separators=(",", ":")))
                if alike is not None and alike(entry.input):
                    unreached_inputs.add(key)
                    places.append((-1, -1))
                    continue
                first, second = take(0, key), -1
                if baseline is not None and reusable(entry):
                    reused += 1
                elif baseline is not None:
                    second = take(1, key)
                places.append((first, second))
            for index, lane in enumerate(lanes):
                if len(lane.unique) % BATCH:
                    submit(index, len(lane.unique) - len(lane.unique) % BATCH)
            deciding.submitted_all()
            decided = deciding.results([len(lane.unique) for lane in lanes])
    finally:
        for opa in opas:
            opa.opa.stop()
    source.entries = kept
    if missing:
        source.skipped["no recorded decision to compare with (give --baseline)"] += missing
    unreached: dict[str, Any] = {}  # one decision on both sides: compared as unchanged
    after = [decided[0][first] if first >= 0 else unreached for first, _ in places]
    if baseline is not None:
        before = [decided[1][second] if second >= 0
                  else unreached if first < 0 else entry.recorded or {}
                  for entry, (first, second) in zip(kept, places, strict=True)]
        described: dict[str, Any] = {"bundle": str(baseline.path),
                                     "revision": baseline.revision,
                                     "recorded_reused": reused,
                                     "unaffected": sum(first < 0 for first, _ in places)}
    else:
        before = [e.recorded or {} for e in source.entries]
        revisions = sorted({str(r.get("revision")) for r in before if r.get("revision")})
        described = {"recorded": True, "revisions": revisions}
    report = compare(source, new, before, after, described, examples)
    report.distinct_inputs = len(lanes[0].unique) + len(unreached_inputs)
    return report


def load_bundle(path: Path) -> Bundle:
    from .publish import read_bundle

    return read_bundle(path)
