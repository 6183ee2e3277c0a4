"""A thin client for OPA's REST API, shared by ``publish`` and ``doctor``.

It turns every way a call can go wrong (unreachable, refused token, OPA's own error
document) into an :class:`OpaError` that says what to do, and reuses one HTTP session.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import requests

from ..errors import OpaError, UsageError
from .sidecar import auth_headers

UNDEFINED = object()


def check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--opa {url}: give OPA's URL, e.g. http://127.0.0.1:8181")
    return url.rstrip("/")


class OpaApi:
    def __init__(self, url: str, token: str | None = None, timeout: float = 5.0) -> None:
        self.url = check_url(url)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(auth_headers(token))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            answer = self.session.request(method, f"{self.url}{path}", timeout=self.timeout,
                                          **kwargs)
        except requests.RequestException as exc:
            raise OpaError(f"cannot reach OPA at {self.url}: {short_reason(exc)}") from exc
        if answer.status_code in (401, 403):
            raise OpaError(f"OPA at {self.url} refused {method} {path} (HTTP "
                           f"{answer.status_code}: {error_message(answer)}): send the "
                           "publisher token (POLICYPACKS_PUBLISHER_TOKEN_FILE=opa-state/"
                           "publisher.token, or --token-file)")
        return answer

    def expect_ok(self, answer: requests.Response, what: str) -> requests.Response:
        if answer.status_code >= 300:
            raise OpaError(f"OPA at {self.url} refused to {what} (HTTP {answer.status_code}: "
                           f"{error_message(answer)})")
        return answer

    def data(self, path: str) -> Any:
        """The document at ``data/<path>``, or :data:`UNDEFINED`."""
        answer = self.expect_ok(self.request("GET", f"/v1/data/{quote(path)}"),
                                f"read data/{path}")
        body = answer.json()
        return body["result"] if "result" in body else UNDEFINED

    def decide(self, path: str, input_doc: Any) -> Any:
        answer = self.expect_ok(self.request("POST", f"/v1/data/{quote(path)}",
                                             json={"input": input_doc}), f"evaluate {path}")
        return answer.json().get("result", UNDEFINED)

    def put_data(self, path: str, document: Any) -> None:
        self.expect_ok(self.request("PUT", f"/v1/data/{quote(path)}", json=document),
                       f"write data/{path}")

    def policies(self) -> list[dict[str, Any]]:
        answer = self.expect_ok(self.request("GET", "/v1/policies"), "list policies")
        return list(answer.json().get("result") or [])

    def put_policy(self, policy_id: str, source: str) -> None:
        self.expect_ok(self.request("PUT", f"/v1/policies/{quote(policy_id)}",
                                    data=source.encode(),
                                    headers={"Content-Type": "text/plain"}),
                       f"load policy {policy_id}")

    def delete_policy(self, policy_id: str) -> None:
        self.expect_ok(self.request("DELETE", f"/v1/policies/{quote(policy_id)}"),
                       f"delete policy {policy_id}")

    def status(self) -> dict[str, Any] | None:
        """``/v1/status`` (bundle activation per bundle), or None when OPA's status
        plugin is off."""
        answer = self.request("GET", "/v1/status")
        if answer.status_code != 200:
            return None
        return answer.json().get("result")

    def bundle_problems(self) -> list[str]:
        """What /v1/status says went wrong with OPA's bundles (download, activation)."""
        try:
            status = self.status() or {}
        except OpaError:
            return []
        return [f"bundle {name}: {info.get('code')}: {info.get('message')}"
                for name, info in sorted((status.get("bundles") or {}).items())
                if info.get("code") or info.get("errors")]


def error_message(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text.strip()[:300] or answer.reason
    message = body.get("message") or body.get("code") or str(body)
    details = [e.get("message", "") for e in body.get("errors") or [] if isinstance(e, dict)]
    return "; ".join([message, *details])


def short_reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or host unreachable"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__
