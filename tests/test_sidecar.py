"""`policypacks opa run/stop/up` and opa-config/: the sidecar as users start it, with the
real opa binary (and Docker only when an engine answers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner
from live_support import SPEND_40, bundle_file, decide

from policypacks.cli.deploy import opa_group, publish_command
from policypacks.deploy.bundle_server import BundleServer
from policypacks.deploy.sidecar import free_port, is_opa_process, stop_pid, wait_healthy
from policypacks.opa.binary import PROJECT_ROOT, pinned_versions

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
    pid_file = tmp_path / "opa.pid"
    port = free_port()
    result = opa("run", "--bundle", bundle_file(tmp_path, "rev-a"), "--addr",
                 f"127.0.0.1:{port}", "--background", "--pid-file", pid_file)
    pid = int(pid_file.read_text())
    try:
        assert result.exit_code == 0, result.output
        assert f"http://127.0.0.1:{port}" in result.output and str(pid) in result.output
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/health?bundles", timeout=5).status_code == 200
        assert decide(url, SPEND_40)["revision"] == "rev-a"
        assert running(pid)

        again = opa("run", "--addr", f"127.0.0.1:{free_port()}", "--background",
                    "--pid-file", pid_file)
        assert again.exit_code == 1 and f"already runs with pid {pid}" in again.output

        stopped = opa("stop", "--pid-file", pid_file)
        assert stopped.exit_code == 0 and f"stopped OPA (pid {pid})" in stopped.output
        assert not running(pid) and not pid_file.exists()
        assert (tmp_path / "opa.log").exists()
    finally:
        stop_pid(pid)


def test_run_with_the_shipped_config_polls_the_identity_bundle(tmp_path: Path) -> None:
    """opa-config/config.yaml as users deploy it, against a served bundle directory."""
    served = tmp_path / "served"
    result = CliRunner().invoke(publish_command, [str(bundle_file(tmp_path, "rev-a")),
                                                  "--to", str(served)])
    assert result.exit_code == 0, result.output
    pid_file = tmp_path / "opa.pid"
    with BundleServer(served) as server:
        env = {"BUNDLE_SERVICE_URL": server.url, "POLICYPACKS_IDENTITY": "acme"}
        port = free_port()
        result = opa("run", "--config", OPA_CONFIG / "config.yaml", "--addr",
                     f"127.0.0.1:{port}", "--background", "--pid-file", pid_file, env=env)
        try:
            assert result.exit_code == 0, result.output
            url = f"http://127.0.0.1:{port}"
            assert decide(url, SPEND_40)["revision"] == "rev-a"
            status = requests.get(f"{url}/v1/status", timeout=5).json()["result"]
            assert status["bundles"]["policypacks"]["active_revision"] == "rev-a"
        finally:
            stop_pid(int(pid_file.read_text()))
    log = (tmp_path / "opa.log").read_text()
    assert '"decision_id"' in log  # decision logs go to the console (OPA's log)


def test_run_names_unset_config_variables(tmp_path: Path) -> None:
    result = opa("run", "--config", OPA_CONFIG / "config.yaml", "--background",
                 "--pid-file", tmp_path / "opa.pid",
                 env={"BUNDLE_SERVICE_URL": "", "POLICYPACKS_IDENTITY": "acme"})
    assert result.exit_code == 2
    assert "set BUNDLE_SERVICE_URL" in result.output
    assert not (tmp_path / "opa.pid").exists()


def test_run_reports_an_opa_that_dies_with_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_text("not gzip")
    pid_file = tmp_path / "opa.pid"
    result = opa("run", "--bundle", broken, "--addr", f"127.0.0.1:{free_port()}",
                 "--background", "--pid-file", pid_file)
    assert result.exit_code == 1
    assert "OPA exited with code 1 before it was ready" in result.output
    assert "bundle read failed" in result.output  # the end of OPA's own log says why
    assert not pid_file.exists()


def test_run_stops_an_opa_that_is_not_ready_in_time(tmp_path: Path) -> None:
    pid_file = tmp_path / "opa.pid"
    port = free_port()
    env = {"BUNDLE_SERVICE_URL": f"http://127.0.0.1:{free_port()}",  # nobody listens
           "POLICYPACKS_IDENTITY": "acme"}
    result = opa("run", "--config", OPA_CONFIG / "config.yaml", "--addr",
                 f"127.0.0.1:{port}", "--background", "--pid-file", pid_file,
                 "--timeout", "1", env=env)
    assert result.exit_code == 1
    assert "was not ready within 1s" in result.output and "not activated" in result.output
    assert not pid_file.exists()
    with pytest.raises(requests.ConnectionError):  # and it was stopped
        requests.get(f"http://127.0.0.1:{port}/health", timeout=2)


def test_run_in_the_foreground_becomes_opa(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "policypacks.cli", "opa", "run", "--addr",
         f"127.0.0.1:{port}", "--bundle", str(bundle_file(tmp_path, "rev-a")),
         "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", timeout=20, process=process)
        assert is_opa_process(process.pid)  # exec'd: the pid is OPA's, signals reach it
        assert decide(f"http://127.0.0.1:{port}", SPEND_40)["revision"] == "rev-a"
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
                 "--name", name, "--timeout", "180")
    try:
        assert result.exit_code == 0, result.output
        assert decide(f"http://127.0.0.1:{port}", SPEND_40)["revision"] == "rev-a"
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
    assert config["decision_logs"] == {"console": True}
    assert "status" in config
    compose = yaml.safe_load((OPA_CONFIG / "docker-compose.yaml").read_text())
    image = compose["services"]["opa"]["image"]
    assert image == f"openpolicyagent/opa:${{OPA_VERSION:-{pinned_versions()['OPA_VERSION']}}}"
    assert "127.0.0.1:8181:8181" in compose["services"]["opa"]["ports"]
    assert "./config.yaml:/config/config.yaml:ro" in compose["services"]["opa"]["volumes"]
