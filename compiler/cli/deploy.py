"""Commands that run things for real (SPEC section 6): ``opa run/up/stop/down``,
``publish``, ``serve`` and ``doctor``.

They live apart from the compiler's commands so those never import HTTP, process or
Docker code; ``policypacks.cli`` loads this module only when one of these runs.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_FAILURE, OpaError, UsageError
from ..opa.binary import STORE_ARGS
from .options import JSON_OPT, command, emit_json, group

# Gives the command `store_args`: what OPA is started with for its in-memory store.
DEFAULT_STORE_OPT = click.option(
    "--default-store", "store_args", is_flag=True,
    callback=lambda _ctx, _param, default: () if default else STORE_ARGS,
    help="Run OPA with its default in-memory store instead of the read-optimized one: "
    "decisions about 10% slower, OPA's memory a half to two thirds (docs/benchmarks.md, "
    "run L).")
TOKEN_OPT = click.option("--token", help="Bearer token for OPA (visible to other local users "
                         "in the process list: prefer --token-file or the environment).")
TOKEN_FILE_OPT = click.option(
    "--token-file", type=click.Path(dir_okay=False, path_type=Path),
    help="File holding OPA's bearer token. Default: POLICYPACKS_PUBLISHER_TOKEN, the file "
    "POLICYPACKS_PUBLISHER_TOKEN_FILE names, else POLICYPACKS_OPA_TOKEN.")
CONFIG_OPT = click.option("--config", "config_file",
                          type=click.Path(exists=True, dir_okay=False, path_type=Path),
                          help="OPA configuration (e.g. opa-config/config.yaml); the "
                          "${VARIABLES} it names must be set.")
BUNDLE_OPT = click.option("--bundle", "bundles", multiple=True,
                          type=click.Path(exists=True, path_type=Path),
                          help="Load this bundle file at start (repeatable).")
IDENTITY_OPT = click.option(
    "--identity", "identities", multiple=True, envvar="POLICYPACKS_IDENTITY",
    help="Identity whose decisions the agent token may ask for (repeatable; default: "
    "$POLICYPACKS_IDENTITY, else the --bundle files' identities).")
STATE_DIR_OPT = click.option(
    "--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("opa-state"),
    show_default=True, help="Where generated tokens (0600) and OPA's authorization bundle live.")




def parse_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--addr {addr}: give HOST:PORT, e.g. 127.0.0.1:8181")
    return host or "127.0.0.1", int(port)


def config_env(config_file: Path | None) -> dict[str, str]:
    """The variables the config references, all set (else a usage error naming them)."""
    if config_file is None:
        return {}
    from ..deploy.sidecar import ENV_REFERENCE, missing_env

    missing = missing_env(config_file)
    if missing:
        raise UsageError(f"{config_file}: set {', '.join(missing)} (OPA would substitute an "
                         "empty string), e.g. BUNDLE_SERVICE_URL=http://127.0.0.1:8282 "
                         "POLICYPACKS_IDENTITY=acme")
    names = ENV_REFERENCE.findall(config_file.read_text(encoding="utf-8"))
    return {name: os.environ[name] for name in names if os.environ.get(name)}


# --- opa run / stop / up / down ---------------------------------------------------------

@group("opa")
def opa_group() -> None:
    """A local OPA sidecar: the pinned binary (run/stop) or a container (up/down).

    \b
    Bundle polling from a bundle service (what agents' sidecars do):
      BUNDLE_SERVICE_URL=http://127.0.0.1:8282 POLICYPACKS_IDENTITY=acme \\
        policypacks opa run --config opa-config/config.yaml --background
    A bundle file, for a quick local try:
      policypacks opa run --bundle bundle.tar.gz
    """


@opa_group.command("run")
@CONFIG_OPT
@BUNDLE_OPT
@click.option("--addr", default="127.0.0.1:8181", show_default=True,
              help="Address OPA listens on (keep it on loopback for a sidecar).")
@IDENTITY_OPT
@STATE_DIR_OPT
@click.option("--background", is_flag=True,
              help="Start OPA detached, wait until /health?bundles answers, then return.")
@click.option("--pid-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("opa.pid"), show_default=True, help="With --background.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="With --background: OPA's log (default: the pid file with .log).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "error"]),
              help="OPA's log level (decision logs need info).")
@click.option("--timeout", default=30.0, show_default=True,
              help="Seconds to wait for readiness (--background).")
@click.option("--verification-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="POLICYPACKS_VERIFICATION_KEY", show_envvar=True,
              help="With --config: OPA accepts only bundles signed with this key (public "
              "PEM, or HMAC secret file), as key id 'policypacks'.")
@click.option("--signing-alg", default="RS256", show_default=True,
              envvar="POLICYPACKS_SIGNING_ALG", help="Algorithm of the bundle signatures.")
@DEFAULT_STORE_OPT
@click.argument("opa_args", nargs=-1, type=click.UNPROCESSED)
def opa_run(config_file: Path | None, bundles: tuple[Path, ...], addr: str,
            identities: tuple[str, ...], state_dir: Path, background: bool, pid_file: Path,
            log_file: Path | None, log_level: str, timeout: float,
            verification_key: Path | None, signing_alg: str, store_args: tuple[str, ...],
            opa_args: tuple[str, ...]) -> None:
    """Start the pinned opa binary as an authenticated, authorized server.

    \b
    Tokens (never on the command line), for each role agent and publisher:
      POLICYPACKS_<ROLE>_TOKEN, else the file POLICYPACKS_<ROLE>_TOKEN_FILE names,
      else STATE_DIR/<role>.token (generated 0600 on first start, then reused).
    The agent token may only POST its identity's decision and effective documents; the
    publisher token (publish, doctor) may read everything and write policies and data
    under policypacks/; /health and /metrics need no token. Decision logs are masked
    (opa-config/log-mask plus each bundle's generated mask).

    In the foreground the command becomes OPA (signals and exit code are OPA's). With
    --background it writes the pid file, waits until OPA's bundles are activated
    (/health?bundles), printing progress, and exits 0; or stops OPA and exits 1 with the
    cause (a taken port, OPA's exit, the bundle plugin's last error). Arguments after --
    go to `opa run`.
    """
    from ..deploy.sidecar import LocalOpa

    config_env(config_file)
    host, port = parse_addr(addr)
    if verification_key is not None and config_file is None:
        raise UsageError("--verification-key applies to the bundle OPA polls: give "
                         "--config (a --bundle file is loaded as it is)")
    secured = secure(identities, bundles, state_dir, config_file)
    settings = secured.settings
    if verification_key is not None:
        settings += signing_settings(verification_key, signing_alg)

    def progress(seconds: float, last: str) -> None:
        click.echo(f"waiting for OPA's bundles ({seconds:.0f}s of {timeout:g}s): {last}",
                   err=True)

    opa = LocalOpa(bundles=[*secured.bundles, *bundles], config_file=config_file,
                   port=port, host=host, log_level=log_level,
                   extra_args=[*settings, *opa_args], token=secured.publisher.value,
                   progress=progress, store_args=store_args)
    secured.report()
    if not background:
        opa.check_port()
        args = opa.command()
        click.echo(f"starting OPA at {opa.url} (Ctrl-C stops it)", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        if os.name == "posix":
            os.execv(args[0], args)
        sys.exit(opa.launch().process.wait())  # type: ignore[union-attr]
    refuse_running(pid_file)
    opa.log_file = log_file or pid_file.with_suffix(".log")
    opa.detach = True
    opa.launch()
    from ..bundle import write_atomically

    write_atomically(pid_file, f"{opa.pid}\n".encode())
    try:
        opa.wait(timeout)
    except BaseException:
        pid_file.unlink(missing_ok=True)
        raise
    click.echo(f"OPA running at {opa.url} (pid {opa.pid}, log {opa.log_file}); stop it "
               f"with: policypacks opa stop --pid-file {pid_file}")


@dataclass
class Secured:
    """What every sidecar start adds: the authorization bundle (tokens' hashes), the log
    mask, and the OPA settings that turn both on."""

    bundles: list[Path]
    settings: list[str]
    agent: Any
    publisher: Any
    identities: list[str]

    def report(self) -> None:
        click.echo(f"tokens: agent {self.agent.source}, publisher {self.publisher.source} "
                   f"(identities: {', '.join(self.identities)})", err=True)


def secure(identities: tuple[str, ...], bundles: tuple[Path, ...], state_dir: Path,
           config_file: Path | None) -> Secured:
    from ..deploy import tokens

    known = list(identities) or bundle_identities(bundles)
    if not known:
        raise UsageError("give --identity ID (or POLICYPACKS_IDENTITY): the identity whose "
                         "decisions the agent token may ask for")
    agent = tokens.resolve("agent", state_dir)
    publisher = tokens.resolve("publisher", state_dir)
    authz = tokens.write_authz_bundle(state_dir / "authz", agent, publisher, known)
    settings = ["--authentication=token", "--authorization=basic"]
    if config_file is None:  # what opa-config/config.yaml sets, for an OPA without one
        settings += ["--set", "decision_logs.console=true",
                     "--set", "decision_logs.mask_decision=/system/log/mask",
                     "--set", "status.prometheus=true"]
    return Secured([authz, tokens.log_mask_dir()], settings, agent, publisher, known)


def signing_settings(key: Path, algorithm: str, bundle: str = "policypacks") -> list[str]:
    """OPA settings that make the polled bundle's signature mandatory, always naming the
    key id (a bundle signed without one is checked against this key, never skipped)."""
    return ["--set-file", f"keys.policypacks.key={key.resolve()}",
            "--set", f"keys.policypacks.algorithm={algorithm}",
            "--set", f"bundles.{bundle}.signing.keyid=policypacks"]


def bundle_identities(bundles: tuple[Path, ...]) -> list[str]:
    """The identities the --bundle files were built for (their manifests' metadata)."""
    from ..deploy.publish import read_bundle

    found = []
    for path in bundles:
        if path.is_file():
            try:
                found.append(read_bundle(path).identity)
            except UsageError:
                continue  # OPA itself says what is wrong with it
    return sorted(set(found))


def refuse_running(pid_file: Path) -> None:
    from ..deploy.sidecar import is_opa_process

    pid = read_pid(pid_file)
    if pid is not None and is_opa_process(pid):
        raise OpaError(f"OPA already runs with pid {pid} ({pid_file}): stop it first with "
                       f"policypacks opa stop --pid-file {pid_file}")


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


@opa_group.command("stop")
@click.option("--pid-file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("opa.pid"), show_default=True)
def opa_stop(pid_file: Path) -> None:
    """Stop an OPA started with `opa run --background` (by the pid in its pid file)."""
    from ..deploy.sidecar import is_opa_process, stop_pid

    pid = read_pid(pid_file)
    if pid is None:
        raise OpaError(f"{pid_file}: no pid file (was OPA started with --background?)")
    if not is_opa_process(pid):
        pid_file.unlink(missing_ok=True)
        click.echo(f"pid {pid} is not running OPA (stale {pid_file}, removed)")
        return
    stop_pid(pid)
    pid_file.unlink(missing_ok=True)
    click.echo(f"stopped OPA (pid {pid})")


@opa_group.command("up")
@CONFIG_OPT
@BUNDLE_OPT
@IDENTITY_OPT
@STATE_DIR_OPT
@click.option("--port", default=8181, show_default=True, help="Host port for OPA's API.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Host address the port is published on.")
@click.option("--name", default="policypacks-opa", show_default=True, help="Container name.")
@click.option("--timeout", default=60.0, show_default=True,
              help="Seconds to wait for readiness (includes pulling the image).")
@TOKEN_OPT
@TOKEN_FILE_OPT
@DEFAULT_STORE_OPT
def opa_up(config_file: Path | None, bundles: tuple[Path, ...], identities: tuple[str, ...],
           state_dir: Path, port: int, host: str, name: str, timeout: float,
           token: str | None, token_file: Path | None, store_args: tuple[str, ...]) -> None:
    """Start OPA (the pinned openpolicyagent/opa image) in Docker, detached.

    Needs the docker Python package and a Docker engine that answers; otherwise says so
    and exits 1 (use `policypacks opa run`). Waits until /health?bundles answers.
    """
    from ..deploy.container import ContainerOpa, docker_client

    env = config_env(config_file)
    docker_client()  # no engine: say so before generating anything
    for key, value in env.items():
        if re.search(r"//(127\.0\.0\.1|localhost)\b", value):
            click.echo(f"note: {key}={value} is the container itself inside Docker; use "
                       "host.docker.internal to reach this host", err=True)
    secured = secure(identities, bundles, state_dir, config_file)
    opa = ContainerOpa(name=name, port=port, host=host, config_file=config_file,
                       bundles=[*secured.bundles, *bundles], env=env,
                       extra_args=secured.settings, store_args=store_args)
    secured.report()
    from ..deploy.tokens import client_token

    container = opa.up(timeout=timeout,
                       token=client_token(token, token_file) or secured.publisher.value)
    click.echo(f"OPA running at {opa.url} (container {name}, {opa.image}, id "
               f"{container.short_id}); stop it with: policypacks opa down --name {name}")


@opa_group.command("tokens")
@IDENTITY_OPT
@STATE_DIR_OPT
def opa_tokens(identities: tuple[str, ...], state_dir: Path) -> None:
    """Prepare the sidecar's tokens and authorization bundle without starting OPA (for
    opa-config/docker-compose.yaml, which mounts STATE_DIR/authz)."""
    secured = secure(identities, (), state_dir, None)
    secured.report()
    click.echo(f"authorization bundle: {secured.bundles[0]}")


@opa_group.command("down")
@click.option("--name", default="policypacks-opa", show_default=True, help="Container name.")
def opa_down(name: str) -> None:
    """Remove the container `opa up` started."""
    from ..deploy.container import down

    click.echo(f"removed container {name}" if down(name) else f"no container {name}")


# --- publish / serve --------------------------------------------------------------------

@command("publish")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--opa", "opa_url", envvar="POLICYPACKS_OPA_URL",
              help="OPA to push to, or (with --to) to watch until it has the new revision.")
@click.option("--to", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Place the bundle in this directory (served to OPA's bundle polling).")
@click.option("--name", help="File name in --to (default: <identity>.tar.gz).")
@click.option("--verification-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="POLICYPACKS_VERIFICATION_KEY", show_envvar=True,
              help="Public key (PEM) or HMAC secret file: the bundle must be signed with "
              "it (checked by `opa build --verification-key` before anything moves).")
@click.option("--signing-alg", default="RS256", show_default=True,
              envvar="POLICYPACKS_SIGNING_ALG", help="Algorithm of the signature.")
@TOKEN_OPT
@TOKEN_FILE_OPT
@click.option("--timeout", default=30.0, show_default=True,
              help="Seconds to wait until OPA reports the bundle's revision.")
@JSON_OPT
def publish_command(bundle: Path, opa_url: str | None, directory: Path | None,
                    name: str | None, verification_key: Path | None, signing_alg: str,
                    token: str | None, token_file: Path | None, timeout: float,
                    as_json: bool) -> None:
    """Verify a bundle, publish it and wait until OPA decides with it.

    \b
      publish bundle.tar.gz --opa http://127.0.0.1:8181        push over OPA's REST API
      publish bundle.tar.gz --to /srv/bundles --opa URL        place for bundle polling
    A signed bundle is verified first (--verification-key; an unsigned one is refused
    when a key is given). A running OPA picks the new revision up without a restart.
    Exits 1 when verification fails, when OPA already runs the same revision with other
    content, when OPA reports an error activating it, or when it does not report the
    revision within --timeout.
    """
    from datetime import UTC, datetime

    from ..deploy import publish as steps
    from ..deploy.api import OpaApi
    from ..deploy.tokens import client_token

    if not opa_url and not directory:
        raise UsageError("give --opa URL (push) or --to DIR (bundle polling)")
    parsed = steps.read_bundle(bundle)
    verified = steps.verify_signature(parsed, verification_key, signing_alg)
    if parsed.signed and not verified:
        click.echo(f"note: {bundle} is signed but not verified here: give "
                   "--verification-key (or POLICYPACKS_VERIFICATION_KEY) to check it before "
                   "it moves", err=True)
    # OPA compiles every module it is sent; on a busy host one PUT can take seconds.
    api = (OpaApi(opa_url, client_token(token, token_file), timeout=max(10.0, timeout))
           if opa_url else None)
    result: dict[str, Any] = {"bundle": str(bundle), "revision": parsed.revision,
                              "root": parsed.root, "opa": opa_url, "verified": verified}
    if api is not None:
        steps.refuse_same_revision(api, parsed, push_mode=directory is None)
    since = None
    if directory:
        steps.refuse_same_revision_file(parsed, directory / (name or f"{parsed.identity}.tar.gz"))
        target = steps.place(parsed, directory, name)
        # After the rename: a poll that began before it may still fetch the old file.
        since = datetime.now(UTC)
        result.update(mode="directory", path=str(target))
        said = f"placed {target}"
    else:
        assert api is not None
        report = steps.push(parsed, api)
        result.update(mode="push", policies_updated=report.updated,
                      policies_unchanged=len(report.unchanged),
                      policies_removed=report.removed, data=report.data)
        said = (f"pushed to {api.url}: {len(report.updated)} policies updated, "
                f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, data "
                f"{', '.join(report.data)}")
    said = ("signature verified; " if verified else "") + said
    if api is not None:
        from .console import Waiting

        with Waiting(f"waiting for OPA to activate revision {parsed.revision}"):
            result["seconds"] = round(steps.wait_active(api, parsed, timeout, since), 3)
        result["active"] = True
        said += f"; revision {parsed.revision} active after {result['seconds']:.1f}s"
    else:
        result["active"] = None
        said += (f" (revision {parsed.revision}); not waiting for OPA: give --opa URL to "
                 "wait until it is active")
    if as_json:
        emit_json(result)
    else:
        click.echo(said)


@command("serve")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--port", default=8282, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 to serve other hosts).")
@click.option("--quiet", is_flag=True, help="Do not log requests.")
def serve_command(directory: Path, port: int, host: str, quiet: bool) -> None:
    """Serve DIR's *.tar.gz bundles to OPA's bundle polling (ETag-aware: 304 while a
    bundle is unchanged). For tests, demos and small deployments."""
    from ..deploy.bundle_server import BundleServer

    try:
        server = BundleServer(directory, port=port, host=host, quiet=quiet)
    except OSError as exc:
        raise OpaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    click.echo(f"serving {directory}/*.tar.gz at {server.url}/ (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


# --- doctor -----------------------------------------------------------------------------

def parse_duration(value: str) -> timedelta:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", value.strip())
    if not match:
        raise UsageError(f"--since {value}: give a duration like 30m, 24h or 7d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


@command("doctor")
@click.option("--opa", "opa_url", required=True, envvar="POLICYPACKS_OPA_URL",
              help="OPA to check, e.g. http://127.0.0.1:8181.")
@click.option("--identity", help="Identity id (default: the one loaded in OPA).")
@click.option("--agent", help="Agent id to check (declared, packs, enforcement).")
@click.option("--revision", help="The revision that should be active.")
@click.option("--store", envvar="POLICYPACKS_STORE", show_envvar=True,
              help="Audit store URL, for recent violations.")
@click.option("--since", default="24h", show_default=True, help="Window for violations.")
@TOKEN_OPT
@TOKEN_FILE_OPT
@JSON_OPT
def doctor_command(opa_url: str, identity: str | None, agent: str | None,
                   revision: str | None, store: str | None, since: str, token: str | None,
                   token_file: Path | None, as_json: bool) -> None:
    """Check a running sidecar, each finding with a fix: OPA reachable, bundles and the
    expected revision active, the decision endpoint, the agent declared with packs and
    enforcement, recent violations. Exits 1 when a check fails."""
    from ..deploy.api import OpaApi
    from ..deploy.doctor import Doctor, render_text
    from ..deploy.tokens import client_token

    window = parse_duration(since)
    started = time.monotonic()
    api = OpaApi(opa_url, client_token(token, token_file), timeout=3.0)
    checks = Doctor(api, identity=identity, agent=agent, revision=revision, store=store,
                    since=window).run()
    ok = not any(c.status == "fail" for c in checks)
    if as_json:
        emit_json({"ok": ok, "opa": opa_url, "seconds": round(time.monotonic() - started, 3),
                   "checks": [c.as_dict() for c in checks]})
    else:
        click.echo(render_text(checks))
    if not ok:
        sys.exit(EXIT_FAILURE)
