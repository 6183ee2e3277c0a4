"""`policypacks opa run/stop/up` and opa-config/: the sidecar as users start it, with the
real opa binary (and Docker only when an engine answers)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner
from live_support import SPEND_40, bundle_file
from sidecar_support import sidecar

from policypacks.cli.deploy import opa_group, publish_command
from policypacks.deploy.bundle_server import BundleServer
from policypacks.deploy.container import ContainerOpa
from policypacks.deploy.sidecar import (
    LocalOpa,
    free_port,
    is_opa_process,
    port_taken,
    wait_healthy,
)
from policypacks.errors import OpaError
from policypacks.opa.binary import PROJECT_ROOT, STORE_ARGS, pinned_versions

OPA_CONFIG = PROJECT_ROOT / "opa-config"


def opa(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(opa_group, [str(a) for a in args], env=env)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return is_opa_process(pid)


def test_run_in_the_background_with_a_pid_file_then_stop(tmp_path: Path) -> None:
    with sidecar(tmp_path, "--bundle", bundle_file(tmp_path, "rev-a")) as opa_:
        pid = int(opa_.pid_file.read_text())
        assert opa_.url in opa_.result.output and str(pid) in opa_.result.output
        assert requests.get(f"{opa_.url}/health?bundles", timeout=5).status_code == 200
        assert opa_.decide(SPEND_40)["revision"] == "rev-a"
        assert running(pid)

        again = opa("run", "--addr", f"127.0.0.1:{free_port()}", "--background",
                    "--pid-file", opa_.pid_file, "--identity", "acme",
                    "--state-dir", opa_.state)
        assert again.exit_code == 1 and f"already runs with pid {pid}" in again.output

        stopped = opa("stop", "--pid-file", opa_.pid_file)
        assert stopped.exit_code == 0 and f"stopped OPA (pid {pid})" in stopped.output
        assert not running(pid) and not opa_.pid_file.exists()
    # Tokens and the decision log are for their owner only; probes are not logged.
    for path in (opa_.log, opa_.state / "agent.token", opa_.state / "publisher.token"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "/health" not in opa_.log.read_text()


def test_run_with_the_shipped_config_polls_the_identity_bundle(tmp_path: Path) -> None:
    """opa-config/config.yaml as users deploy it, against a served bundle directory."""
    served = tmp_path / "served"
    result = CliRunner().invoke(publish_command, [str(bundle_file(tmp_path, "rev-a")),
                                                  "--to", str(served)])
    assert result.exit_code == 0, result.output
    with BundleServer(served) as server:
        env = {"BUNDLE_SERVICE_URL": server.url, "POLICYPACKS_IDENTITY": "acme"}
        with sidecar(tmp_path, "--config", OPA_CONFIG / "config.yaml", env=env) as opa_:
            assert opa_.decide(SPEND_40)["revision"] == "rev-a"
            status = opa_.call("GET", "/v1/status", opa_.publisher_token).json()["result"]
            assert status["bundles"]["policypacks"]["active_revision"] == "rev-a"
    assert '"decision_id"' in opa_.log.read_text()  # decision logs go to OPA's log


def test_run_names_unset_config_variables(tmp_path: Path) -> None:
    result = opa("run", "--config", OPA_CONFIG / "config.yaml", "--background",
                 "--pid-file", tmp_path / "opa.pid",
                 env={"BUNDLE_SERVICE_URL": "", "POLICYPACKS_IDENTITY": "acme"})
    assert result.exit_code == 2
    assert "set BUNDLE_SERVICE_URL" in result.output
    assert not (tmp_path / "opa.pid").exists()


def test_run_without_an_identity_for_the_agent_token_is_bad_input(tmp_path: Path) -> None:
    result = opa("run", "--background", "--pid-file", tmp_path / "opa.pid", "--state-dir",
                 tmp_path / "state", env={"POLICYPACKS_IDENTITY": ""})
    assert result.exit_code == 2 and "give --identity ID" in result.output


def test_run_reports_an_opa_that_dies_with_what_it_said(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_text("not gzip")
    pid_file = tmp_path / "opa.pid"
    result = opa("run", "--bundle", broken, "--identity", "acme", "--addr",
                 f"127.0.0.1:{free_port()}", "--background", "--pid-file", pid_file,
                 "--state-dir", tmp_path / "state")
    assert result.exit_code == 1
    assert "OPA exited with code 1 before it was ready" in result.output
    assert "bundle read failed" in result.output  # OPA's own words say why
    assert not pid_file.exists()


def test_run_waiting_for_a_bundle_shows_progress_then_the_bundle_error(tmp_path: Path) -> None:
    """The bundle service answers 404 (nothing published yet): progress lines while
    waiting, then OPA's own reason, and no flood of OPA's request log."""
    pid_file = tmp_path / "opa.pid"
    port = free_port()
    (tmp_path / "empty").mkdir()
    with BundleServer(tmp_path / "empty") as server:
        env = {"BUNDLE_SERVICE_URL": server.url, "POLICYPACKS_IDENTITY": "acme"}
        result = opa("run", "--config", OPA_CONFIG / "config.yaml", "--addr",
                     f"127.0.0.1:{port}", "--background", "--pid-file", pid_file,
                     "--state-dir", tmp_path / "state", "--timeout", "6", env=env)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("waiting for OPA's bundles (5s of 6s)") for line in lines)
    assert (f"OPA at http://127.0.0.1:{port} was not ready within 6s: bundle policypacks: "
            "Bundle load failed: server replied with Not Found") in result.output
    assert len(lines) < 10 and "/health" not in result.output
    assert not pid_file.exists()
    with pytest.raises(requests.ConnectionError):  # and it was stopped
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_run_on_a_taken_port_fails_at_once(tmp_path: Path) -> None:
    with sidecar(tmp_path / "first", "--bundle", bundle_file(tmp_path, "rev-a")) as first:
        port = first.url.rsplit(":", 1)[1]
        pid_file = tmp_path / "second.pid"
        started = time.monotonic()
        result = opa("run", "--bundle", bundle_file(tmp_path, "rev-b"), "--addr",
                     f"127.0.0.1:{port}", "--background", "--pid-file", pid_file,
                     "--state-dir", tmp_path / "state")
        assert result.exit_code == 1
        assert time.monotonic() - started < 5
        assert f"cannot start OPA on 127.0.0.1:{port}: Address already in use" in result.output
        assert "OPA running" not in result.output and not pid_file.exists()
        assert first.decide(SPEND_40)["revision"] == "rev-a"  # the first one is untouched


def test_an_opa_that_loses_the_port_race_is_not_taken_for_ready(tmp_path: Path) -> None:
    """The port was free when checked, then another server got it first: the one that
    answers /health is not ours, which the instance label tells."""
    with LocalOpa(bundles=[bundle_file(tmp_path, "rev-a")]) as other:
        late = LocalOpa(bundles=[bundle_file(tmp_path, "rev-b")], port=other.port,
                        log_file=tmp_path / "late.log")
        late.check_port = lambda: None  # type: ignore[method-assign]
        with pytest.raises(OpaError) as refused:
            late.start(timeout=10)
    message = str(refused.value)
    assert "OPA exited with code 1 before it was ready" in message or \
        f"another process answers on 127.0.0.1:{other.port}" in message
    assert late.process is not None and late.process.poll() is not None


def test_a_port_picked_for_opa_is_one_no_outgoing_connection_is_given() -> None:
    """free_port: outside the kernel's ephemeral range, where a client's connection may
    get a port between the probe and OPA's listen (seen in CI as a lost port)."""
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range")
                 .read_text().split())
    for port in (free_port() for _ in range(20)):
        assert not low <= port <= high and port_taken("127.0.0.1", port) is None


def test_a_port_picked_here_and_lost_to_another_process_is_picked_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No port given: the one picked was free, then taken before OPA listened on it (a
    race no check can close); OPA starts on the next one picked."""
    from policypacks.deploy import sidecar as module

    with LocalOpa(bundles=[bundle_file(tmp_path, "rev-a")]) as other:
        picks = iter([other.port, module.free_port()])
        monkeypatch.setattr(module, "free_port", lambda: next(picks))
        with LocalOpa(bundles=[bundle_file(tmp_path, "rev-b")]) as mine:
            assert mine.port != other.port
            for opa, revision in ((mine, "rev-b"), (other, "rev-a")):
                answer = requests.post(f"{opa.url}/v1/data/policypacks/acme/decision",
                                       json={"input": SPEND_40}, timeout=5).json()
                assert answer["result"]["revision"] == revision


def test_run_in_the_foreground_becomes_opa(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "policypacks.cli", "opa", "run", "--addr",
         f"127.0.0.1:{port}", "--bundle", str(bundle_file(tmp_path, "rev-a")),
         "--log-level", "error", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", timeout=20, process=process)
        assert is_opa_process(process.pid)  # exec'd: the pid is OPA's, signals reach it
        token = (tmp_path / "state" / "agent.token").read_text().strip()
        answer = requests.post(f"http://127.0.0.1:{port}/v1/data/policypacks/acme/decision",
                               json={"input": SPEND_40}, timeout=5,
                               headers={"Authorization": f"Bearer {token}"})
        assert answer.json()["result"]["revision"] == "rev-a"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert b"starting OPA at" in process.stderr.read()


def test_up_without_a_docker_engine_says_so(tmp_path: Path) -> None:
    result = opa("up", "--bundle", bundle_file(tmp_path, "rev-a"), "--port", free_port(),
                 env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"})
    assert result.exit_code == 1
    assert "policypacks opa run" in result.output
    try:
        import docker  # noqa: F401
    except ImportError:
        assert "docker Python package" in result.output
    else:
        assert f"no Docker engine answers at unix://{tmp_path}/no-docker.sock" in result.output


def test_up_with_a_docker_engine(tmp_path: Path) -> None:
    from policypacks.deploy.container import engine_answers

    if not engine_answers():
        pytest.skip("no Docker engine answers (the binary path is tested above)")
    port = free_port()
    name = f"policypacks-test-{port}"
    result = opa("up", "--bundle", bundle_file(tmp_path, "rev-a"), "--port", port,
                 "--name", name, "--timeout", "180", "--state-dir", tmp_path / "state")
    try:
        assert result.exit_code == 0, result.output
        token = (tmp_path / "state" / "agent.token").read_text().strip()
        answer = requests.post(f"http://127.0.0.1:{port}/v1/data/policypacks/acme/decision",
                               json={"input": SPEND_40}, timeout=5,
                               headers={"Authorization": f"Bearer {token}"})
        assert answer.json()["result"]["revision"] == "rev-a"
        assert requests.post(f"http://127.0.0.1:{port}/v1/data/policypacks/acme/decision",
                             json={"input": SPEND_40}, timeout=5).status_code == 401
    finally:
        assert opa("down", "--name", name).exit_code == 0


def test_shipped_files_poll_the_bundle_and_pin_the_opa_version() -> None:
    config = yaml.safe_load((OPA_CONFIG / "config.yaml").read_text())
    assert config["services"]["bundle-service"]["url"] == "${BUNDLE_SERVICE_URL}"
    bundle = config["bundles"]["policypacks"]
    assert bundle["service"] == "bundle-service"
    assert bundle["resource"] == "${POLICYPACKS_IDENTITY}.tar.gz"
    polling = bundle["polling"]
    assert 0 < polling["min_delay_seconds"] < polling["max_delay_seconds"] <= 120
    assert config["decision_logs"] == {"console": True, "mask_decision": "/system/log/mask"}
    assert "status" in config
    compose = yaml.safe_load((OPA_CONFIG / "docker-compose.yaml").read_text())
    image = compose["services"]["opa"]["image"]
    assert image == f"openpolicyagent/opa:${{OPA_VERSION:-{pinned_versions()['OPA_VERSION']}}}"
    assert "127.0.0.1:8181:8181" in compose["services"]["opa"]["ports"]
    assert "./config.yaml:/config/config.yaml:ro" in compose["services"]["opa"]["volumes"]
    command = compose["services"]["opa"]["command"]
    for setting in ("--authentication=token", "--authorization=basic", "--bundle=/config/authz",
                    "--bundle=/config/log-mask", "--log-level-request=debug", *STORE_ARGS):
        assert setting in command


def test_tokens_prepares_the_authorization_bundle_for_compose(tmp_path: Path) -> None:
    result = opa("tokens", "--identity", "acme", "--state-dir", tmp_path / "state")
    assert result.exit_code == 0, result.output
    tokens = json.loads((tmp_path / "state/authz/system/authz/tokens/data.json").read_text())
    agent = (tmp_path / "state/agent.token").read_text().strip()
    assert tokens[hashlib.sha256(agent.encode()).hexdigest()] == {
        "role": "agent", "identities": ["acme"]}
    assert stat.S_IMODE((tmp_path / "state/agent.token").stat().st_mode) == 0o600
    assert (tmp_path / "state/authz/system/authz/authz.rego").read_text() == (
        OPA_CONFIG / "authz/system/authz/authz.rego").read_text()


@pytest.mark.parametrize("command", [
    lambda: LocalOpa(bundles=[Path("b.tar.gz")]).command(),
    lambda: ContainerOpa(name="policypacks-opa", port=8181).command()[0],
])
def test_every_opa_the_project_starts_holds_its_data_read_optimized(
        command: Callable[[], list[str]]) -> None:
    """A sidecar answers decisions all day and takes a bundle rarely (docs/benchmarks.md)."""
    assert set(STORE_ARGS) <= set(command())


@pytest.mark.parametrize(("args", "read_optimized"), [
    ((), True),
    (("--default-store",), False),
])
def test_opa_run_chooses_the_store(tmp_path: Path, args: tuple[str, ...],
                                   read_optimized: bool) -> None:
    with sidecar(tmp_path, "--bundle", bundle_file(tmp_path, "rev-a"), *args) as opa_:
        cmdline = Path(f"/proc/{opa_.pid_file.read_text().strip()}/cmdline").read_bytes()
        assert (set(STORE_ARGS) <= set(cmdline.decode().split("\0"))) is read_optimized
        assert opa_.decide(SPEND_40)["revision"] == "rev-a"
