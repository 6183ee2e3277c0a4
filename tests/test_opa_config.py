"""The shipped OPA files (opa-config/): the authorization policy passes its own `opa test`
table, and every policy there is `opa check --strict`, `opa fmt` and Regal clean."""

from __future__ import annotations

import subprocess

import pytest

from policypacks.opa.binary import PROJECT_ROOT, find_tool, opa_binary

OPA_CONFIG = PROJECT_ROOT / "opa-config"
POLICIES = [OPA_CONFIG / "authz", OPA_CONFIG / "log-mask"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=False)


def test_the_authorization_policy_passes_its_tests() -> None:
    result = run(opa_binary(), "test", "--verbose", str(OPA_CONFIG / "authz"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_each_caller_reaches_only_its_paths: PASS" in result.stdout


@pytest.mark.parametrize("command", [
    ["check", "--strict"],
    ["fmt", "--list", "--fail"],
])
def test_the_shipped_policies_are_clean(command: list[str]) -> None:
    result = run(opa_binary(), *command, *map(str, POLICIES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_shipped_policies_are_regal_clean() -> None:
    result = run(find_tool("regal"), "lint", "--config-file", str(OPA_CONFIG / "regal.yaml"),
                 *map(str, POLICIES))
    assert result.returncode == 0, result.stdout + result.stderr
