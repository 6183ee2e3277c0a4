"""The decisions a replay re-evaluates: read from OPA's decision logs, or from the
client's store.

OPA writes decision-log events in two shapes, and both are read here:

* the console plugin (``decision_logs: {console: true}``): one JSON object per line in
  OPA's own log output, the events marked ``"msg": "Decision Log"`` among the server's
  other log lines;
* the service plugin (``decision_logs: {service: ...}``) POSTs gzip-compressed JSON arrays
  of events; a file holding such arrays (gzip or not, one array or one per line) reads
  the same.

An event carries ``decision_id``, ``path`` (``policypacks/<identity>/decision``), ``input``,
``result`` and ``timestamp``. An event whose input a mask policy changed (``erased`` or
``masked`` lists) is not the input OPA decided, so it is skipped unless asked for.

The store keeps the action of every decision the client recorded (the non-allow ones),
with its text only when the client was created with ``keep_text=True``; a redacted
action, or the usage it was judged with (the store does not keep it), cannot be
replayed faithfully, so a store replay needs a baseline bundle and skips redacted rows.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

DECISION_LOG_MSG = "Decision Log"
REDACTED = re.compile(r"^\[redacted: \d+ chars\]$")


@dataclass(frozen=True)
class Logged:
    """One decision to replay: the input, and the decision recorded for it (if any)."""

    input: dict[str, Any]
    recorded: dict[str, Any] | None
    where: str  # FILE:LINE, or store#ROW
    decision_id: str | None = None
    at: str | None = None
    opa_version: str | None = None  # of the OPA that decided it, as its log labels say
    masked: bool = False  # a mask policy changed the input OPA logged


@dataclass
class Source:
    """The decisions read, and how many were left out (reason -> count). A source opened
    lazily (``open_decision_log``) is read by ``stream()``, which a replay consumes while
    it decides the first entries; after it, ``entries`` and ``skipped`` are complete."""

    description: str
    entries: list[Logged] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    pending: Iterator[Logged] | None = None

    def stream(self) -> Iterator[Logged]:
        """Each entry, read as it is asked for when the source is lazy."""
        if self.pending is None:
            yield from list(self.entries)
            return
        pending, self.pending = self.pending, None
        for entry in pending:
            self.entries.append(entry)
            yield entry

    def read(self) -> Source:
        """The source with every entry read."""
        for _ in self.stream():
            pass
        return self


def _text(path: Path) -> str:
    """The file's text (gunzipped when it is gzip)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the decision log: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UsageError(f"{path}: not a readable gzip file ({exc})") from exc
    return raw.decode("utf-8", errors="replace")


def _events(text: str) -> Iterator[tuple[int, Any]]:
    """(line, parsed JSON value) for each event or array of events in the text; lines
    that are not JSON (OPA's text log lines, blank lines) are passed over."""
    if text.lstrip().startswith("["):
        try:
            yield 1, json.loads(text)
            return
        except json.JSONDecodeError:
            pass  # one array per line, read below
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line.startswith(("{", "[")):
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError:
            continue


def read_decision_log(path: Path, decision_path: str, include_masked: bool = False) -> Source:
    """Every decision of ``decision_path`` (e.g. ``policypacks/acme/decision``) in an
    OPA decision log file."""
    return open_decision_log(path, decision_path, include_masked).read()


def open_decision_log(path: Path, decision_path: str, include_masked: bool = False) -> Source:
    """The decision log as a lazy source: its events parsed (and checked) as
    ``stream()`` asks for them."""
    source = Source(f"decision log {path}")
    text = _text(path)  # a file that cannot be read fails here, before any decision
    source.pending = _decisions(path, text, decision_path.strip("/"), include_masked, source)
    return source


def _decisions(path: Path, text: str, wanted: str, include_masked: bool,
               source: Source) -> Iterator[Logged]:
    found = False
    for line, value in _events(text):
        for event in value if isinstance(value, list) else [value]:
            if not isinstance(event, dict):
                continue
            if "msg" in event and event.get("msg") != DECISION_LOG_MSG:
                continue  # another of OPA's log lines
            if "decision_id" not in event and "path" not in event:
                continue
            found = True
            logged_path = str(event.get("path") or "").strip("/")
            if logged_path != wanted:
                source.skipped[f"other path ({logged_path or 'none'})"] += 1
            elif not isinstance(event.get("input"), dict):
                source.skipped["no input object"] += 1
            elif (event.get("erased") or event.get("masked")) and not include_masked:
                source.skipped["input changed by a mask policy (erased/masked)"] += 1
            elif event.get("error") is not None:
                source.skipped["OPA reported an error"] += 1
            else:
                result = event.get("result")
                labels = event.get("labels")
                version = labels.get("version") if isinstance(labels, dict) else None
                yield Logged(event["input"], result if _is_decision(result) else None,
                             f"{path}:{line}", decision_id=event.get("decision_id"),
                             at=event.get("timestamp"),
                             opa_version=version if isinstance(version, str) else None,
                             masked=bool(event.get("erased") or event.get("masked")))
    if not found:
        raise UsageError(f"{path}: no decision log entries found: expected OPA's JSON log "
                         "output with decision_logs.console (lines with \"msg\": \"Decision "
                         "Log\") or the JSON arrays of its decision log service")


def _is_decision(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("decision"), str)


def _redacted(value: Any) -> bool:
    if isinstance(value, str):
        return bool(REDACTED.match(value))
    if isinstance(value, dict):
        return any(_redacted(v) for v in value.values())
    if isinstance(value, list):
        return any(_redacted(v) for v in value)
    return False


def read_store(url: str, identity: str) -> Source:
    """The decisions the client recorded for ``identity`` (oldest first)."""
    from ..runtime.store import open_store

    source = Source(f"store {url}")
    with open_store(url, create=False) as store:
        rows = store.decisions(identity=identity)
    for row in reversed(rows):
        action = row.get("action")
        if not isinstance(action, dict):
            source.skipped["no action"] += 1
            continue
        if _redacted(action.get("content")):
            source.skipped["text not kept (the client's keep_text is off)"] += 1
            continue
        recorded = {"decision": row.get("decision"), "violations": row.get("violations") or [],
                    "approval": row.get("approval"), "revision": row.get("revision")}
        source.entries.append(Logged({"agent": row.get("agent"), "action": action},
                                     recorded, f"store#{row.get('id')}",
                                     decision_id=row.get("decision_id"), at=row.get("at")))
    return source
