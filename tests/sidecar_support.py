"""Helpers for the tests of the sidecar as `policypacks opa run` starts it: with token
authentication, the authorization bundle and the decision-log mask."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner, Result

from policypacks.cli.deploy import opa_group
from policypacks.deploy.sidecar import free_port, stop_pid


@dataclass
class Sidecar:
    url: str
    state: Path
    pid_file: Path
    result: Result

    @property
    def agent_token(self) -> str:
        return (self.state / "agent.token").read_text().strip()

    @property
    def publisher_token(self) -> str:
        return (self.state / "publisher.token").read_text().strip()

    @property
    def log(self) -> Path:
        return self.pid_file.with_suffix(".log")

    def call(self, method: str, path: str, token: str | None = None,
             **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=5,
                                **kwargs)

    def decide(self, input_doc: dict[str, Any], token: str | None = None,
               identity: str = "acme") -> dict[str, Any]:
        answer = self.call("POST", f"/v1/data/policypacks/{identity}/decision",
                           token or self.agent_token, json={"input": input_doc})
        answer.raise_for_status()
        return answer.json()["result"]


def opa_cli(*args: object, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(opa_group, [str(a) for a in args], env=env)


@contextmanager
def sidecar(tmp_path: Path, *args: object, env: dict[str, str] | None = None,
            port: int | None = None) -> Iterator[Sidecar]:
    """`policypacks opa run --background` on a free port; stopped afterwards."""
    port = port or free_port()
    state = tmp_path / "state"
    pid_file = tmp_path / "opa.pid"
    result = opa_cli("run", *args, "--addr", f"127.0.0.1:{port}", "--background",
                     "--pid-file", pid_file, "--state-dir", state, env=env)
    try:
        assert result.exit_code == 0, result.output
        yield Sidecar(f"http://127.0.0.1:{port}", state, pid_file, result)
    finally:
        if pid_file.exists():
            stop_pid(int(pid_file.read_text()))


def rsa_key_pair(directory: Path) -> tuple[Path, Path]:
    """A fresh RSA key pair (private, public PEM) made by openssl."""
    private, public = directory / "signing.pem", directory / "verify.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(private), "-pubout", "-out", str(public)],
                   check=True, capture_output=True)
    return private, public
