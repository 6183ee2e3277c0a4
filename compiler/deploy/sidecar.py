"""A local OPA server process (the sidecar agents talk to), started from the pinned
binary: used by ``policypacks opa run``, the demo and the integration tests.

Readiness is OPA's own ``/health?bundles``: it answers 200 only once every configured
bundle is activated, so "started" means "deciding with the policy", not "listening".
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import requests

from ..errors import OpaError, UsageError
from ..opa.binary import opa_binary

ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def auth_headers(token: str | None) -> dict[str, str]:
    """OPA's ``--authentication=token`` reads a bearer token."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def wait_healthy(url: str, timeout: float = 30.0, bundles: bool = True,
                 process: subprocess.Popen[bytes] | None = None,
                 token: str | None = None,
                 gone: Callable[[], str | None] | None = None) -> None:
    """Wait until OPA answers /health (with ?bundles: its bundles are activated).

    Stops early when OPA is gone: its ``process`` exited, or ``gone()`` (for OPA in a
    container) says why it cannot come up any more.
    """
    deadline = time.monotonic() + timeout
    probe = f"{url}/health" + ("?bundles" if bundles else "")
    last = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise OpaError(f"OPA exited with code {process.returncode} before it was ready")
        reason = gone() if gone is not None else None
        if reason:
            raise OpaError(reason)
        try:
            answer = requests.get(probe, timeout=1, headers=auth_headers(token))
            if answer.status_code == 200:
                return
            last = f"HTTP {answer.status_code}: {answer.text.strip()[:200]}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    raise OpaError(f"OPA at {url} was not ready within {timeout:g}s ({last})")


def missing_env(config_file: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """Variables a config file references as ``${NAME}`` that are not set.

    OPA substitutes an unset variable with an empty string and then fails later and
    obscurely (a bundle URL without a host); naming the variable up front is kinder.
    """
    env = os.environ if env is None else env
    try:
        text = config_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{config_file}: cannot read the OPA configuration: "
                         f"{exc.strerror or exc}") from exc
    uncommented = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return sorted({name for name in ENV_REFERENCE.findall(uncommented) if not env.get(name)})


def log_tail(path: Path | None, offset: int = 0, lines: int = 15) -> str:
    """The last lines OPA wrote to its log after ``offset`` (where this run began)."""
    if path is None or not path.exists():
        return ""
    with open(path, "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:])


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """Terminate a process by id (SIGTERM, then SIGKILL); False if it was not running.

    Reaps it when it is our own child, so a stopped OPA never lingers as a zombie.
    """
    def gone() -> bool:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    if gone():
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone():
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    while not gone():
        time.sleep(0.05)
    return True


def is_opa_process(pid: int) -> bool:
    """Whether ``pid`` runs an ``opa`` binary (Linux /proc; elsewhere assume yes), so a
    stale pid file never makes us kill an unrelated process."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self").exists():
        return True
    try:
        first = cmdline.read_bytes().split(b"\0", 1)[0].decode(errors="replace")
    except OSError:
        return False
    return Path(first).name.startswith("opa")


@dataclass
class LocalOpa:
    """``opa run --server`` on a loopback port; a context manager that always stops it.

    ``detach`` starts OPA in its own session so it outlives the command that started
    it (``policypacks opa run --background``); ``wait_bundles`` False only waits for the
    server, for an OPA whose bundle does not exist yet.
    """

    bundles: list[Path] = field(default_factory=list)
    config_file: Path | None = None
    port: int = 0
    extra_args: list[str] = field(default_factory=list)
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    log_level: str = "error"
    token: str | None = None
    env: dict[str, str] | None = None
    detach: bool = False
    wait_bundles: bool = True
    log_offset: int = 0

    @property
    def url(self) -> str:
        probe_host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{probe_host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        """The ``opa run`` command line (also what ``opa run`` execs in the foreground)."""
        self.port = self.port or free_port()
        args = [opa_binary(), "run", "--server", "--addr", f"{self.host}:{self.port}",
                "--log-level", self.log_level, *self.extra_args]
        if self.config_file:
            args += ["--config-file", str(self.config_file)]
        for bundle in self.bundles:
            args += ["--bundle", str(bundle)]
        return args

    def launch(self) -> LocalOpa:
        """Start the process without waiting for it (see :meth:`wait`)."""
        args = self.command()
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self.log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env else None,
                start_new_session=self.detach)
        except OSError as exc:
            raise OpaError(f"cannot start {args[0]}: {exc}") from exc
        finally:
            if not isinstance(log, int):
                log.close()
        return self

    def wait(self, timeout: float = 30.0) -> LocalOpa:
        """Wait for readiness; on failure stop OPA and raise with the end of its log."""
        try:
            wait_healthy(self.url, timeout, bundles=self.wait_bundles, process=self.process,
                         token=self.token)
        except OpaError as exc:
            self.stop()
            tail = log_tail(self.log_file, self.log_offset)
            raise OpaError(f"{exc}" + (f"\nOPA's log ({self.log_file}):\n{tail}" if tail
                                       else "")) from None
        except BaseException:
            self.stop()
            raise
        return self

    def start(self, timeout: float = 30.0) -> LocalOpa:
        return self.launch().wait(timeout)

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
