"""One POST to OPA bounded in total time and size, and its JSON reply bounded in depth.

``requests``' timeout bounds each socket read, not the call: a reply trickled one byte
per 0.8 s would keep a 1 s check waiting for as long as the server likes. So the
exchange runs in a worker thread and the caller waits for it until the deadline, no
longer; the worker reads the body in pieces as they arrive (``read1``), stops at
``max_bytes`` and gives up as soon as it sees the deadline has passed.

The worker threads are kept for later calls (a thread started per call cost more than
a tenth of a decision: benchmarks/client_ratio.py). A call that finds none idle starts
one, so a worker still stuck with an abandoned exchange never delays another call; they
are daemon threads, so none can hold up the process's exit.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

MAX_REPLY_BYTES = 1 << 20
MAX_REPLY_DEPTH = 64


class _Workers:
    """Daemon threads that run jobs and then wait for the next one."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a job that no caller has claimed

    def run(self, job: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1
        self._jobs.put(job)
        if start:
            threading.Thread(target=self._work, name="policypacks-opa-call",
                             daemon=True).start()

    def _work(self) -> None:
        while True:
            self._jobs.get()()
            with self._lock:
                self._idle += 1


_workers = _Workers()


def _forgotten_in_child() -> None:
    """A forked process has none of its parent's threads (a pre-fork server's workers):
    its calls start workers of their own, under a lock no parent thread holds."""
    global _workers
    _workers = _Workers()


os.register_at_fork(after_in_child=_forgotten_in_child)


class ExchangeFailed(Exception):  # noqa: N818 - reads as what happened
    """No usable reply; the message says why (for the fail-closed decision)."""


def _exchange(session: requests.Session, url: str, body: bytes, deadline: float,
              max_bytes: int, cancel: threading.Event) -> tuple[int, bytes]:
    remaining = max(0.001, deadline - time.monotonic())
    answer = session.post(url, data=body, stream=True, timeout=(remaining, remaining),
                          headers={"Content-Type": "application/json",
                                   "Accept-Encoding": "identity"})
    try:
        length = answer.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise ExchangeFailed(f"a reply of {int(length):,} bytes (the limit is "
                                 f"{max_bytes:,})")
        chunks, size = [], 0
        while True:
            if cancel.is_set() or time.monotonic() > deadline:
                raise ExchangeFailed("gave up reading the reply at the deadline")
            chunk = answer.raw.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise ExchangeFailed(f"a reply over {max_bytes:,} bytes")
            chunks.append(chunk)
        return answer.status_code, b"".join(chunks)
    finally:
        answer.close()


def post(session: requests.Session, url: str, body: bytes, deadline: float,
         max_bytes: int = MAX_REPLY_BYTES) -> tuple[int, bytes]:
    """``(status, body)`` of the POST, or :class:`ExchangeFailed` / a requests error,
    by ``deadline`` (``time.monotonic()``) at the latest."""
    box: dict[str, Any] = {}
    done, cancel = threading.Event(), threading.Event()

    def job() -> None:
        try:
            box["result"] = _exchange(session, url, body, deadline, max_bytes, cancel)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc
        finally:
            done.set()

    _workers.run(job)
    if not done.wait(max(0.0, deadline - time.monotonic())):
        cancel.set()  # the worker stops reading at its next piece
        raise requests.Timeout("deadline")
    if "error" in box:
        raise box["error"]
    result: tuple[int, bytes] = box["result"]
    return result


def too_deep(value: Any, limit: int = MAX_REPLY_DEPTH) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def parse(data: bytes) -> Any:
    """The reply's JSON; :class:`ExchangeFailed` for text that is not JSON or nests
    deeper than :data:`MAX_REPLY_DEPTH` (never a ``RecursionError``)."""
    try:
        reply = json.loads(data)
    except RecursionError:
        raise ExchangeFailed("a reply nested too deeply to read") from None
    except ValueError:
        raise ExchangeFailed("answered something that is not JSON") from None
    if too_deep(reply):
        raise ExchangeFailed(f"a reply nested deeper than {MAX_REPLY_DEPTH} levels")
    return reply
