"""What the audit trail shows and keeps: terminal output escapes the control characters
an agent (an LLM) may have put in recorded data, and the store is its owner's only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from policypacks.cli.audit import approvals, printable, violations
from policypacks.runtime.store import open_store

HOSTILE = "bot\x1b[2J\x1b]0;owned\x07\rfake\u202eexe.txt\u2028x"


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain text, é ü 中文", "plain text, é ü 中文"),
    ("\x1b[31mred", "\\x1b[31mred"),
    ("line\rover", "line\\x0dover"),
    ("new\nline", "new\\x0aline"),
    ("bidi\u202eoverride", "bidi\\u202eoverride"),
    ("tag\U000e0041", "tag\\U000e0041"),
    ("bell\x07", "bell\\x07"),
])
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_listings_escape_recorded_control_characters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_store(url)
    violation = {"pack": "caps", "rule": "daily", "enforcement": "require_approval",
                 "message": f"over the cap {HOSTILE}"}
    decision = {"decision": "require_approval", "violations": [violation],
                "approval": {"approvers": ["finance", HOSTILE], "timeout_seconds": 60,
                             "fallback": "block", "route": "identity"}}
    store.record_decision("acme", HOSTILE, {"type": HOSTILE, "text": HOSTILE}, decision)
    # The agent never resolves its own request: a (hostile) approver of another agent's does.
    approval = store.create_approval("acme", "bot", {"type": HOSTILE, "note": HOSTILE},
                                     decision)
    env = {"POLICYPACKS_STORE": url}
    outputs = [CliRunner().invoke(group, args, env=env) for group, args in (
        (violations, ["list"]), (violations, ["stats", "--by-day"]),
        (approvals, ["list"]), (approvals, ["show", approval["id"]]),
        (approvals, ["deny", approval["id"], "--by", HOSTILE]))]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert "\\x1b[2J" in result.output
        for char in ("\x1b", "\x07", "\r", "\u202e", "\u2028"):
            assert char not in result.output
    assert stat.S_IMODE((tmp_path / "audit.db").stat().st_mode) == 0o600
    for extra in ("audit.db-wal", "audit.db-shm"):
        if (tmp_path / extra).exists():
            assert stat.S_IMODE((tmp_path / extra).stat().st_mode) == 0o600
