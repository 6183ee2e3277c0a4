"""The PostgreSQL roles of docs/security.md, applied verbatim to a real server: an agent
on its role still does everything the client does, and can no longer delete its trail,
resolve requests, forge an approved one or redeem an approval twice."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_backends import PostgresServer

from policypacks.runtime.store import ApprovalNotRedeemable, Store, StoreError

DOC = Path(__file__).resolve().parent.parent / "docs" / "security.md"
REQUIRE_APPROVAL = {"decision": "require_approval", "allow": False, "revision": "r",
                    "violations": [{"pack": "caps", "rule": "refunds",
                                    "enforcement": "require_approval"}],
                    "approval": {"approvers": ["finance"], "timeout_seconds": 3600,
                                 "fallback": "block", "route": "identity"}}


def grants() -> str:
    text = DOC.read_text()
    block = text.split("<!-- grants:begin -->")[1].split("<!-- grants:end -->")[0]
    return re.sub(r"^```\w*$", "", block, flags=re.M)


@pytest.fixture(scope="module")
def urls(postgres_server: PostgresServer) -> Iterator[dict[str, str]]:
    import psycopg
    database = "roles_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {database}")
    base = f"postgresql://{{user}}@{postgres_server.host}:{postgres_server.port}/{database}"
    schema = "?options=-csearch_path%3Dpolicypacks"
    owner = base.format(user=postgres_server.user)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA policypacks")
    Store(owner + schema).connect().close()  # the owner migrates, as the page says
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(grants())
    yield {"owner": owner + schema, "agent": base.format(user="policypacks_agent") + schema,
           "approver": base.format(user="policypacks_approver") + schema}


def test_an_agent_role_does_what_the_client_does(urls: dict[str, str]) -> None:
    agent = Store(urls["agent"])
    spend = {"type": "spend", "amount": 10}
    agent.record_usage("acme", "bot", spend)
    reserved = agent.locked("acme", "bot", lambda tx: agent.reserve(tx, "acme", "bot", spend))
    assert agent.usage("acme", "bot")["spend"]["day"] == 20
    assert agent.release("acme", "bot", reserved) == "reserved"
    assert agent.record_decision("acme", "bot", spend, REQUIRE_APPROVAL) > 0
    request = agent.create_approval("acme", "bot", spend, REQUIRE_APPROVAL)
    with pytest.raises(StoreError, match="permission denied"):
        agent.resolve_approval(request["id"], "approved", by="finance")  # not its role
    approver = Store(urls["approver"])
    assert approver.resolve_approval(request["id"], "approved", by="finance")["outcome"] == \
        "allow"
    agent.locked("acme", "bot", lambda tx: agent.redeem_approval(
        tx, request["id"], "acme", "bot", spend, "d-1"))
    with pytest.raises(ApprovalNotRedeemable, match="already used"):
        agent.locked("acme", "bot", lambda tx: agent.redeem_approval(
            tx, request["id"], "acme", "bot", spend, "d-2"))
    agent.close()
    approver.close()


@pytest.mark.parametrize("statement", [
    "DELETE FROM usage_events",
    "DELETE FROM decisions",
    "DELETE FROM violations",
    "UPDATE decisions SET decision = 'allow'",
    "UPDATE approvals SET status = 'approved', outcome = 'allow', resolved_by = 'finance'",
    "DELETE FROM approvals",
    "DELETE FROM approval_redemptions",
    "UPDATE approval_redemptions SET approval_id = 'x'",
    "TRUNCATE usage_events",
    "DROP TABLE usage_windows",
    "INSERT INTO schema_version VALUES (99, 'now')",
])
def test_an_agent_role_cannot_rewrite_its_trail(urls: dict[str, str], statement: str) -> None:
    import psycopg
    with psycopg.connect(urls["agent"]) as conn, \
            pytest.raises((psycopg.errors.InsufficientPrivilege,
                           psycopg.errors.UndefinedTable)) as refused:
        conn.execute(statement)
    assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)


def test_an_agent_role_cannot_insert_an_approved_request(urls: dict[str, str]) -> None:
    import psycopg
    with psycopg.connect(urls["agent"]) as conn:
        conn.execute(
            "INSERT INTO approvals (id, created_at, expires_at, identity, agent, action,"
            " violations, approvers, timeout_seconds, fallback, status, outcome, resolved_by,"
            " resolved_at, digest) VALUES ('apr-forged', '2024-01-01T00:00:00.000000Z',"
            " '2999-01-01T00:00:00.000000Z', 'acme', 'bot', '{}', '[]', '[\"finance\"]', 60,"
            " 'allow', 'approved', 'allow', 'finance', '2024-01-01T00:00:00.000000Z', 'x')")
    forged = Store(urls["owner"]).get_approval("apr-forged")
    assert forged is not None
    assert (forged["status"], forged["outcome"], forged["resolved_by"]) == (
        "pending", None, None)
