"""``policypacks opa up``: the same sidecar as ``opa run``, in the official OPA image.

The ``docker`` package is an optional extra and is imported only here, only when asked
for, so the compiler itself never needs Docker. "No engine" is an expected situation on
CI runners and laptops, reported as one clear sentence, not a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import OpaError
from ..opa.binary import STORE_ARGS, pinned_versions
from .sidecar import wait_healthy

CONTAINER_PORT = 8181
NO_ENGINE_HINT = "use `policypacks opa run` to start the opa binary instead"


def docker_client(timeout: float = 5.0) -> Any:
    """A client for the Docker engine, or OpaError saying that none answers."""
    try:
        import docker  # type: ignore[import-untyped]  # noqa: PLC0415 (optional extra)
    except ImportError:
        raise OpaError("`policypacks opa up` needs the docker Python package "
                       "(pip install 'policypacks[docker]'); " + NO_ENGINE_HINT) from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=int(max(1, timeout)))
        client.ping()
    except Exception as exc:  # docker raises DockerException, requests and OS errors
        reason = engine_error(exc)
        raise OpaError(f"no Docker engine answers at {where} ({reason}); "
                       + NO_ENGINE_HINT) from None
    return client


def engine_error(exc: Exception) -> str:
    text = str(exc)
    for needle, reason in (("FileNotFoundError", "no such socket"),
                           ("No such file", "no such socket"),
                           ("Connection refused", "connection refused"),
                           ("Permission denied", "permission denied on the socket")):
        if needle in text:
            return reason
    return text[:160]


def engine_answers() -> bool:
    try:
        docker_client(timeout=2)
    except OpaError:
        return False
    return True


@dataclass
class ContainerOpa:
    """OPA in a container: config and bundles mounted read-only, the API published on
    ``host:port`` (loopback by default), environment variables passed through."""

    name: str = "policypacks-opa"
    port: int = 8181
    host: str = "127.0.0.1"
    config_file: Path | None = None
    bundles: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    log_level: str = "info"
    image: str = ""
    extra_args: list[str] = field(default_factory=list)
    store_args: tuple[str, ...] = STORE_ARGS  # () for OPA's default store

    def __post_init__(self) -> None:
        self.image = self.image or f"openpolicyagent/opa:{pinned_versions()['OPA_VERSION']}"

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{self.port}"

    def command(self) -> tuple[list[str], dict[str, dict[str, str]]]:
        args = ["run", "--server", f"--addr=0.0.0.0:{CONTAINER_PORT}",
                f"--log-level={self.log_level}", "--log-level-request=debug",
                *self.store_args, *self.extra_args]
        volumes: dict[str, dict[str, str]] = {}
        if self.config_file:
            volumes[str(self.config_file.resolve())] = {"bind": "/config/config.yaml",
                                                         "mode": "ro"}
            args.append("--config-file=/config/config.yaml")
        for index, bundle in enumerate(self.bundles):
            inside = f"/bundles/{index}-{bundle.name}"
            volumes[str(bundle.resolve())] = {"bind": inside, "mode": "ro"}
            args.append(f"--bundle={inside}")
        return args, volumes

    def up(self, timeout: float = 60.0, token: str | None = None) -> Any:
        """Replace any container of this name, start OPA, wait for /health?bundles."""
        client = docker_client()
        import docker  # noqa: PLC0415

        try:
            client.containers.get(self.name).remove(force=True)
        except docker.errors.NotFound:
            pass
        try:
            client.images.get(self.image)
        except docker.errors.ImageNotFound:
            client.images.pull(self.image)
        args, volumes = self.command()
        container = client.containers.run(
            self.image, args, name=self.name, detach=True, environment=self.env,
            volumes=volumes, ports={f"{CONTAINER_PORT}/tcp": (self.host, self.port)},
            extra_hosts={"host.docker.internal": "host-gateway"},
            labels={"app": "policypacks-opa"})

        def exited() -> str | None:
            container.reload()
            if container.status not in ("exited", "dead"):
                return None
            logs = container.logs(tail=15).decode(errors="replace").strip()
            return f"the OPA container {self.name} exited before it was ready:\n{logs}"

        try:
            wait_healthy(self.url, timeout, token=token, gone=exited)
        except OpaError as exc:
            if container.status in ("exited", "dead"):
                raise
            logs = container.logs(tail=15).decode(errors="replace").strip()
            container.remove(force=True)
            raise OpaError(f"the OPA container {self.name} was not ready ({exc}); removed "
                           f"it. Its log:\n{logs}") from None
        return container


def down(name: str) -> bool:
    """Remove the container; False when there was none."""
    client = docker_client()
    import docker  # noqa: PLC0415

    try:
        client.containers.get(name).remove(force=True)
    except docker.errors.NotFound:
        return False
    return True
