"""The README's "Running it for real" commands, taken from README.md itself and run by bash
as written (real policypacks, opa and bundle service), on free ports in a scratch copy of
packs/ and opa-config/."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from policypacks.deploy.sidecar import free_port, is_opa_process, port_taken, stop_pid
from policypacks.opa.binary import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"


def readme_sequence() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Running it for real", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "no ```sh block in the README's 'Running it for real' section"
    return match.group(1)


def test_the_readme_sequence_runs_as_written(tmp_path: Path) -> None:
    script = readme_sequence()
    assert "policypacks opa run" in script and "policypacks publish" in script
    ports = {"8181": str(free_port()), "8282": str(free_port())}
    for fixed, free in ports.items():
        script = script.replace(fixed, free)
    shutil.copytree(PROJECT_ROOT / "packs", tmp_path / "packs")
    shutil.copytree(PROJECT_ROOT / "opa-config", tmp_path / "opa-config")
    # Only timing differs from the shipped config: poll every 1-2 s instead of 10-30 s.
    config = tmp_path / "opa-config" / "config.yaml"
    text = config.read_text()
    text = text.replace("min_delay_seconds: 10", "min_delay_seconds: 1")
    text = text.replace("max_delay_seconds: 30", "max_delay_seconds: 2")
    config.write_text(text)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("POLICYPACKS_", "BUNDLE_SERVICE"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # Output to a file: the bundle service the script starts in the background would keep
    # a pipe open after the script ends.
    log = tmp_path / "output.txt"
    with open(log, "w") as out:
        process = subprocess.Popen(["bash", "-e", "-c", script], cwd=tmp_path, env=env,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        process.wait(timeout=300)
    finally:
        cleanup(process, tmp_path / "opa.pid")
    output = log.read_text()
    assert process.returncode == 0, output
    assert "placed bundles/acme.tar.gz" in output
    assert "OPA running at" in output
    assert "revision release-2 active" in output
    assert "no check failed" in output
    assert "stopped OPA" in output
    # `kill %1` stopped it: SIGTERM returns at once, the server exits a moment later
    deadline = time.monotonic() + 10
    while port_taken("127.0.0.1", int(ports["8282"])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert port_taken("127.0.0.1", int(ports["8282"])) is None


def cleanup(process: subprocess.Popen[bytes], pid_file: Path) -> None:
    """Whatever the script left running when it failed: its process group (the bundle
    service) and the OPA named in its pid file."""
    if process.poll() is None:
        process.kill()
        process.wait()
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    if pid_file.exists():
        pid = int(pid_file.read_text())
        if is_opa_process(pid):
            stop_pid(pid)
