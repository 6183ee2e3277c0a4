"""``@client.guard``: a plain Python tool (sync and async) behind the real OPA: allowed,
blocked (the body never runs), approval (approved runs once, denied and timed out take
the fallback), obligations rewriting the arguments, usage counted only for calls that
succeeded, and the event loop kept free while the guard waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tool_support import AGENT, IDENTITY, SIGNATURE, Approver, counting, tool_opa

from policypacks import PolicyBlocked, PolicyClient
from policypacks.deploy.sidecar import LocalOpa
from policypacks.runtime import ApprovalDenied, ApprovalRequired
from policypacks.runtime.guard import map_tool, write_back


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    with tool_opa(tmp_path_factory.mktemp("guard")) as server:
        yield server


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "agent.db"


@pytest.fixture
def client(opa: LocalOpa, store_path: Path) -> Iterator[PolicyClient]:
    with PolicyClient(opa.url, IDENTITY, AGENT, store=f"sqlite:///{store_path}",
                      timeout=5) as c:
        yield c


def tools(client: PolicyClient, **options: Any) -> tuple[dict[str, list[Any]], Any]:
    calls, note = counting()

    class Tools:
        @staticmethod
        @client.guard("lookup_order", **options)
        def lookup_order(order_id: str) -> str:
            note("lookup_order", order_id)
            return f"order {order_id}: shipped"

        @staticmethod
        @client.guard("delete_customer", **options)
        def delete_customer(customer: str) -> str:
            note("delete_customer", customer)
            return "deleted"

        @staticmethod
        @client.guard("refund", **options)
        def refund(cents: int, reason: str = "") -> str:
            note("refund", cents)
            return f"refunded {cents}"

        @staticmethod
        @client.guard("send_email", **options)
        def send_email(to: str, body: str) -> str:
            note("send_email", body)
            return "sent"

        @staticmethod
        @client.guard("lookup_order", **options)
        async def lookup_async(order_id: str) -> str:
            await asyncio.sleep(0)
            note("lookup_async", order_id)
            return f"order {order_id}"

        @staticmethod
        @client.guard("refund", **options)
        async def refund_async(cents: int) -> str:
            note("refund_async", cents)
            return "refunded"
    return calls, Tools


def test_the_mapping_comes_from_opa(client: PolicyClient) -> None:
    action, sources = map_tool(client, "refund", {"cents": 12345})
    assert action == {"type": "refund", "amount": 123.45, "currency": "USD",
                      "tool": {"name": "refund", "arguments": {"cents": 12345}}}
    assert sources == {}  # a divided field is never written back
    action, sources = map_tool(client, "send_email", {"to": "a@b.com", "body": "hi"})
    assert action["content"] == {"text": "hi"} and sources["/content/text"] == ["body"]


@pytest.mark.parametrize("after, expected", [
    ({"content": {"text": "hi\n\n-- X"}}, {"to": "a@b.com", "body": "hi\n\n-- X"}),
    ({"content": {"text": "hi"}}, {"to": "a@b.com", "body": "hi"}),
    ({}, {"to": "a@b.com", "body": "hi"}),
])
def test_write_back(after: dict[str, Any], expected: dict[str, Any]) -> None:
    before = {"content": {"text": "hi"}}
    assert write_back({"to": "a@b.com", "body": "hi"}, before, after,
                      {"/content/text": ["body"]}) == expected


def test_allowed_tool_runs_and_counts(client: PolicyClient) -> None:
    calls, t = tools(client)
    assert t.lookup_order("A-1") == "order A-1: shipped"
    assert calls == {"lookup_order": ["A-1"]}
    assert client.usage({"type": "api_call"})["apis"]["orders"]["day"] == 1


def test_blocked_tool_never_runs(client: PolicyClient) -> None:
    calls, t = tools(client)
    with pytest.raises(PolicyBlocked) as raised:
        t.delete_customer("cus_1")
    assert "delete_customer" not in calls
    assert [v["rule"] for v in raised.value.decision.violations] == ["no-deletes"]
    assert client.store is not None and client.store.violations()[0]["rule"] == "no-deletes"


def test_approval_raises_by_default(client: PolicyClient) -> None:
    calls, t = tools(client)
    assert t.refund(2000) == "refunded 2000"  # 20 USD: no approval needed
    with pytest.raises(ApprovalRequired) as raised:
        t.refund(9000)
    assert raised.value.request is not None and raised.value.request.status == "pending"
    assert calls == {"refund": [2000]}


@pytest.mark.parametrize("answer, runs", [
    ("approved", True),
    ("denied", False),
    (None, False),  # nobody answers within the wait: the route's fallback (block)
])
def test_approval_wait(client: PolicyClient, store_path: Path, answer: str | None,
                       runs: bool) -> None:
    calls, t = tools(client, approval="wait", approval_timeout=1.5)
    with Approver(store_path, answer):
        if runs:
            assert t.refund(9000) == "refunded 9000"
        else:
            with pytest.raises(ApprovalDenied):
                t.refund(9000)
    assert calls.get("refund", []) == ([9000] if runs else [])


def test_obligations_rewrite_the_arguments(client: PolicyClient) -> None:
    calls, t = tools(client)
    assert t.send_email("jane@example.com", "Your refund is on its way.") == "sent"
    assert calls["send_email"] == [f"Your refund is on its way.\n{SIGNATURE}"]


def test_obligations_off_leaves_the_call_blocked(client: PolicyClient) -> None:
    calls, t = tools(client, obligations=False)
    with pytest.raises(PolicyBlocked):
        t.send_email("jane@example.com", "unsigned")
    assert "send_email" not in calls


def test_a_tool_that_raises_is_not_counted(client: PolicyClient) -> None:
    @client.guard("lookup_order")
    def broken(order_id: str) -> str:
        raise RuntimeError("upstream down")
    with pytest.raises(RuntimeError):
        broken("A-2")
    assert "orders" not in client.usage({"type": "api_call"}).get("apis", {})


def test_async_guard(client: PolicyClient) -> None:
    calls, t = tools(client)

    async def main() -> None:
        assert await t.lookup_async("A-9") == "order A-9"
        with pytest.raises(ApprovalRequired):
            await t.refund_async(9000)
    asyncio.run(main())
    assert calls == {"lookup_async": ["A-9"]}


def test_async_wait_does_not_block_the_event_loop(client: PolicyClient,
                                                  store_path: Path) -> None:
    calls, t = tools(client, approval="wait", approval_timeout=3)
    ticks: list[float] = []

    async def ticker() -> None:
        for _ in range(20):
            ticks.append(time.monotonic())
            await asyncio.sleep(0.02)

    async def main() -> None:
        with Approver(store_path, "approved"):
            result, _ = await asyncio.gather(t.refund_async(9000), ticker())
        assert result == "refunded"
    asyncio.run(main())
    assert calls == {"refund_async": [9000]}
    assert len(ticks) == 20 and max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 0.5


def test_opa_down_blocks(store_path: Path) -> None:
    with PolicyClient("http://127.0.0.1:9", IDENTITY, AGENT, store=f"sqlite:///{store_path}",
                      timeout=0.5) as client:
        calls, t = tools(client)
        with pytest.raises(PolicyBlocked) as raised:
            t.lookup_order("A-1")
    assert "lookup_order" not in calls
    assert raised.value.decision.incident


@pytest.mark.parametrize("text, obligations, expected", [
    ("hi", [{"type": "append_signature", "text": "-- A"}], "hi\n-- A"),
    ("hi\n", [{"type": "append_signature", "text": "-- A"}], "hi\n-- A"),
    ("hi\n-- A  ", [{"type": "append_signature", "text": "-- A"}], "hi\n-- A  "),
    (None, [{"type": "append_signature", "text": "-- A"}], "-- A"),
    ("hi", [{"type": "shred"}], ValueError),
])
def test_apply_obligations(text: str | None, obligations: list[dict[str, Any]],
                           expected: Any) -> None:
    from policypacks import Decision
    from policypacks.runtime.guard import apply_obligations
    content = {} if text is None else {"text": text}
    action: dict[str, Any] = {"type": "send_email", "content": content}
    decision = Decision("block", False, obligations=obligations)
    if expected is ValueError:
        with pytest.raises(ValueError):  # the runtime's obligations module raises its own
            apply_obligations(action, decision)
    else:
        assert apply_obligations(action, decision)["content"]["text"] == expected
        assert action["content"] == ({} if text is None else {"text": text})  # not changed
