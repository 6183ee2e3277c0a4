"""A local OPA server process (the sidecar agents talk to), started from the pinned
binary: used by ``policypacks opa run``, the demo and the integration tests.

Readiness is OPA's own ``/health?bundles``: it answers 200 only once every configured
bundle is activated, so "started" means "deciding with the policy", not "listening".
"""

from __future__ import annotations

import json
import os
import re
import secrets
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
from ..opa.binary import STORE_ARGS, opa_binary

ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _listening_ports() -> range:
    """Ports no outgoing connection is given: the wider stretch beside the kernel's
    ephemeral range (32768-60999 on Linux by default), or none where it cannot be read."""
    try:
        low, high = (int(n) for n in EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return range(0)
    return max(range(1024, low), range(high + 1, 65536), key=len)


def free_port() -> int:
    """A loopback port free to listen on now. Taken outside the ephemeral range where
    possible: a port the kernel hands out (bind to 0) goes back to its pool when the probe
    closes, and any outgoing connection (a test's client, a store's) may get it before
    OPA listens; a random port outside the pool can only collide with another listener."""
    rng = secrets.SystemRandom()
    candidates = _listening_ports()
    for _ in range(50 if len(candidates) >= 1000 else 0):
        port = rng.choice(candidates)
        if port_taken("127.0.0.1", port) is None:
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def auth_headers(token: str | None) -> dict[str, str]:
    """OPA's ``--authentication=token`` reads a bearer token."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def wait_healthy(url: str, timeout: float = 30.0, bundles: bool = True,
                 process: subprocess.Popen[bytes] | None = None,
                 token: str | None = None,
                 gone: Callable[[], str | None] | None = None,
                 progress: Callable[[float, str], None] | None = None,
                 every: float = 5.0, why: Callable[[], str | None] | None = None) -> None:
    """Wait until OPA answers /health (with ?bundles: its bundles are activated).

    Stops early when OPA is gone: its ``process`` exited, or ``gone()`` (for OPA in a
    container) says why it cannot come up any more. ``progress(seconds, last)`` is called
    every ``every`` seconds while waiting; ``why()`` says what OPA itself reports as the
    problem (its bundle plugin's last error), for those lines and the timeout.
    """
    started = time.monotonic()
    deadline = started + timeout
    next_report = started + every
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
            last = f"HTTP {answer.status_code}" + (
                ": bundles not activated yet" if bundles and answer.status_code == 500 else "")
        except requests.RequestException as exc:
            last = type(exc).__name__
        if progress is not None and time.monotonic() >= next_report:
            progress(time.monotonic() - started, (why() if why else None) or last)
            next_report += every
        time.sleep(0.2)
    cause = (why() if why else None) or last
    raise OpaError(f"OPA at {url} was not ready within {timeout:g}s: {cause}")


class PortLost(OpaError):
    """Another process took OPA's port before OPA could listen on it."""


def port_taken(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (another process has it), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def log_events(path: Path | None, offset: int = 0) -> list[dict[str, object] | str]:
    """OPA's log since ``offset``: JSON lines as objects, anything else as text."""
    if path is None or not path.exists():
        return []
    with open(path, "rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace").splitlines()
    events: list[dict[str, object] | str] = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            event = line
        events.append(event if isinstance(event, dict) else line)
    return [e for e in events if e]


def last_bundle_error(path: Path | None, offset: int = 0) -> str | None:
    """The bundle plugin's last complaint in OPA's JSON log ("Bundle load failed: server
    replied with Not Found"), with the bundle's name."""
    for event in reversed(log_events(path, offset)):
        if isinstance(event, dict) and event.get("level") in ("error", "warning") and \
                "bundle" in str(event.get("msg", "")).lower():
            name = event.get("name")
            return (f"bundle {name}: " if name else "") + str(event["msg"])
    return None


def opa_errors(path: Path | None, offset: int = 0, lines: int = 5) -> str:
    """OPA's own error lines since ``offset`` (what it said before it exited)."""
    found = []
    for event in log_events(path, offset):
        if isinstance(event, str):
            found.append(event.strip())
        elif event.get("level") == "error" and event.get("msg") not in (
                "Received request.", "Sent response."):
            found.append(str(event.get("msg")) + (f": {event['err']}" if event.get("err")
                                                   else ""))
    unique = [line for i, line in enumerate(found) if line not in found[i + 1:]]
    return "\n".join(unique[-lines:])


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
    server, for an OPA whose bundle does not exist yet. ``token`` is sent on every probe
    (the publisher's, for an OPA started with token authentication).
    """

    bundles: list[Path] = field(default_factory=list)
    config_file: Path | None = None
    port: int = 0
    extra_args: list[str] = field(default_factory=list)
    store_args: tuple[str, ...] = STORE_ARGS  # () for OPA's default store
    log_file: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    log_level: str = "error"
    token: str | None = None
    env: dict[str, str] | None = None
    detach: bool = False
    wait_bundles: bool = True
    log_offset: int = 0
    progress: Callable[[float, str], None] | None = None
    # A label only this process carries, so readiness is checked on *our* OPA, not on
    # whatever else answers on the port.
    instance: str = field(default_factory=lambda: secrets.token_hex(8))

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
        # Request logs one level below OPA's: health probes never flood the log, while
        # decision logs (info) stay.
        args = [opa_binary(), "run", "--server", "--addr", f"{self.host}:{self.port}",
                "--log-level", self.log_level, "--log-level-request", "debug",
                *self.store_args, "--set", f"labels.policypacks_instance={self.instance}",
                *self.extra_args]
        if self.config_file:
            args += ["--config-file", str(self.config_file)]
        for bundle in self.bundles:
            args += ["--bundle", str(bundle)]
        return args

    def check_port(self) -> None:
        if self.port:
            taken = port_taken(self.host, self.port)
            if taken:
                raise OpaError(f"cannot start OPA on {self.host}:{self.port}: {taken} "
                               "(another process listens there; stop it or give --addr)")

    def launch(self) -> LocalOpa:
        """Start the process without waiting for it (see :meth:`wait`)."""
        self.check_port()
        args = self.command()
        log: int = subprocess.DEVNULL
        if self.log_file:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self.log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            # Decision logs are sensitive even masked: owner only.
            log = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.chmod(self.log_file, 0o600)
        try:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env else None,
                start_new_session=self.detach)
        except OSError as exc:
            raise OpaError(f"cannot start {args[0]}: {exc}") from exc
        finally:
            if log != subprocess.DEVNULL:
                os.close(log)
        return self

    def bundle_error(self) -> str | None:
        return last_bundle_error(self.log_file, self.log_offset)

    def answering_instance(self) -> str | None:
        """The instance label of the OPA answering on our port (GET /v1/config); "" when
        our token may not read the config (then only our process can tell)."""
        try:
            answer = requests.get(f"{self.url}/v1/config", timeout=2,
                                  headers=auth_headers(self.token))
            if answer.status_code in (401, 403):
                return ""
            labels = answer.json().get("result", {}).get("labels", {})
        except (requests.RequestException, ValueError, AttributeError):
            return None
        return labels.get("policypacks_instance") if isinstance(labels, dict) else None

    def wait(self, timeout: float = 30.0) -> LocalOpa:
        """Wait for readiness; on failure stop OPA and raise with what OPA said."""
        try:
            wait_healthy(self.url, timeout, bundles=self.wait_bundles, process=self.process,
                         token=self.token, progress=self.progress, why=self.bundle_error)
            theirs = self.answering_instance()
            if theirs != self.instance:
                time.sleep(0.2)  # an OPA that lost the port exits right after trying it
                if self.process is not None and self.process.poll() is not None:
                    raise PortLost(f"OPA exited with code {self.process.returncode} "
                                   f"before it was ready: another process answers on "
                                   f"{self.host}:{self.port}")
            if theirs not in (self.instance, ""):
                raise OpaError(f"another process answers on {self.host}:{self.port}, not "
                               "the OPA just started")
        except OpaError as exc:
            # OPA that exited by itself (not stopped here) while another process holds
            # its port lost the port: a caller that picked the port may pick another.
            exited = self.process is not None and (self.process.poll() or 0) > 0
            lost = isinstance(exc, PortLost) or (exited and port_taken(self.host, self.port)
                                                 is not None)
            self.stop()
            said = "\n".join(line for line in opa_errors(self.log_file, self.log_offset)
                             .splitlines() if line not in str(exc))
            raise (PortLost if lost else OpaError)(
                f"{exc}" + (f"\nOPA said:\n{said}" if said else "")
                + (f"\n(OPA's log: {self.log_file})" if self.log_file else "")) from None
        except BaseException:
            self.stop()
            raise
        return self

    def start(self, timeout: float = 30.0) -> LocalOpa:
        """Launch and wait. A port picked here (none given) is free when picked but may be
        taken by another process before OPA listens on it: then OPA runs on another."""
        attempts = 1 if self.port else 3
        for attempt in range(1, attempts + 1):
            try:
                return self.launch().wait(timeout)
            except PortLost:
                if attempt == attempts:
                    raise
                self.port = 0
        raise AssertionError("unreachable")

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
