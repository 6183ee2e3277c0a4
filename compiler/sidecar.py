"""A local OPA server process (the sidecar agents talk to), started from the pinned
binary: used by ``policypacks opa run``, the demo and the integration tests."""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import requests

from .errors import OpaError
from .opa import opa_binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, timeout: float = 30.0, bundles: bool = True,
                 process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until OPA answers /health (with ?bundles: its bundles are activated)."""
    deadline = time.monotonic() + timeout
    probe = f"{url}/health" + ("?bundles" if bundles else "")
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise OpaError(f"OPA exited with code {process.returncode} before it was ready")
        try:
            answer = requests.get(probe, timeout=1)
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code}: {answer.text.strip()[:200]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise OpaError(f"OPA at {url} was not ready within {timeout:g}s ({last})")


@dataclass
class LocalOpa:
    """``opa run --server`` on a loopback port; a context manager that always stops it."""

    bundles: list[Path] = field(default_factory=list)
    config_file: Path | None = None
    port: int = 0
    extra_args: list[str] = field(default_factory=list)
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> LocalOpa:
        self.port = self.port or free_port()
        args = [opa_binary(), "run", "--server", "--addr", f"127.0.0.1:{self.port}",
                "--log-level", "error", *self.extra_args]
        if self.config_file:
            args += ["--config-file", str(self.config_file)]
        for bundle in self.bundles:
            args += ["--bundle", str(bundle)]
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        try:
            wait_healthy(self.url, timeout, process=self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> LocalOpa:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
