"""`policypacks doctor` against a real OPA: healthy, misconfigured in each way the
troubleshooting list covers, and not there at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from live_support import bundle_file, polling_config
from sidecar_support import sidecar
from support import agent, identity, pack, write_repo

from policypacks.bundle import write_bundle
from policypacks.cli.deploy import doctor_command
from policypacks.deploy.sidecar import LocalOpa, free_port
from policypacks.pipeline import compile_path
from policypacks.runtime.store import open_store


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    result = CliRunner().invoke(doctor_command, [*args, "--json"], env=env)
    report = json.loads(result.output)
    assert report["ok"] == (result.exit_code == 0)
    return result.exit_code, {c["name"]: c for c in report["checks"]}


def statuses(checks: dict) -> dict[str, str]:
    return {name: check["status"] for name, check in checks.items()}


@pytest.fixture
def no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLICYPACKS_STORE", raising=False)


def test_a_healthy_sidecar_passes_every_check(tmp_path: Path, no_store: None) -> None:
    with LocalOpa(bundles=[bundle_file(tmp_path, "rev-a")]) as opa:
        code, checks = doctor("--opa", opa.url, "--agent", "sales-bot", "--revision", "rev-a")
        text = CliRunner().invoke(doctor_command, ["--opa", opa.url, "--agent", "sales-bot"])
    assert code == 0
    assert statuses(checks) == {
        "opa-reachable": "ok", "bundles": "ok", "revision": "ok", "decision": "ok",
        "agent": "ok", "packs": "ok", "enforcement": "ok", "violations": "skip"}
    assert "revision rev-a active (as expected)" in checks["revision"]["detail"]
    assert checks["enforcement"]["detail"] == "ops-caps=block"
    assert checks["violations"]["detail"].startswith("no --store given")
    assert text.exit_code == 0 and "no check failed" in text.output


def test_wrong_revision_and_undeclared_agent_fail_with_fixes(tmp_path: Path,
                                                             no_store: None) -> None:
    with LocalOpa(bundles=[bundle_file(tmp_path, "rev-a")]) as opa:
        code, checks = doctor("--opa", opa.url, "--agent", "ghost", "--revision", "rev-b")
        text = CliRunner().invoke(doctor_command, ["--opa", opa.url, "--agent", "ghost"])
    assert code == 1
    assert checks["revision"]["status"] == "fail"
    assert "serves revision rev-a, expected rev-b" in checks["revision"]["detail"]
    assert "policypacks publish" in checks["revision"]["hint"]
    assert checks["agent"]["status"] == "fail"
    assert "unknownAgents is block" in checks["agent"]["detail"]
    assert "metadata.id: ghost" in checks["agent"]["hint"]
    assert checks["packs"]["status"] == "skip"
    assert text.exit_code == 1 and "FAIL  agent" in text.output and "fix: add an Agent" in \
        text.output


def test_an_agent_without_packs_or_that_only_warns(tmp_path: Path, no_store: None) -> None:
    cap = {"id": "cap", "type": "spending_limit", "max": 5, "period": "day"}
    docs = [identity("acme"), pack("tips", "warn", [cap], scope="none"),
            agent("idle-bot"), agent("chatty-bot", [{"pack": "tips"}])]
    bundle = tmp_path / "bundle.tar.gz"
    write_bundle(compile_path(write_repo(tmp_path / "repo", docs), "rev-a")[1], bundle)
    with LocalOpa(bundles=[bundle]) as opa:
        code, idle = doctor("--opa", opa.url, "--agent", "idle-bot")
        chatty_code, chatty = doctor("--opa", opa.url, "--agent", "chatty-bot")
    assert code == 1
    assert idle["packs"]["status"] == "fail" and "every action is" in idle["packs"]["detail"]
    assert "spec.packs" in idle["packs"]["hint"]
    assert chatty_code == 0 and chatty["packs"]["status"] == "ok"
    assert chatty["enforcement"]["status"] == "warn"
    assert "nothing is blocked" in chatty["enforcement"]["detail"]


def test_a_dead_url_fails_with_a_hint_and_skips_the_rest(no_store: None) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, checks = doctor("--opa", url, "--agent", "sales-bot")
    assert code == 1
    assert checks["opa-reachable"]["status"] == "fail"
    assert f"cannot reach OPA at {url}" in checks["opa-reachable"]["detail"]
    assert "policypacks opa run" in checks["opa-reachable"]["hint"]
    assert {s for n, s in statuses(checks).items() if n != "opa-reachable"} == {"skip"}


def test_bundles_not_activated_shows_opas_own_error(tmp_path: Path, no_store: None) -> None:
    config = polling_config(tmp_path / "config.yaml", f"http://127.0.0.1:{free_port()}")
    with LocalOpa(config_file=config, wait_bundles=False) as opa:
        code, checks = doctor("--opa", opa.url)
    assert code == 1
    assert checks["bundles"]["status"] == "fail"
    assert "bundle policypacks: bundle_error" in checks["bundles"]["detail"]
    assert "BUNDLE_SERVICE_URL" in checks["bundles"]["hint"]
    assert checks["revision"]["detail"] == "no policypacks bundle is loaded"


def test_recent_violations_come_from_the_store(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = open_store(store_url)
    over_cap = {"decision": "require_approval", "violations": [
        {"pack": "ops-caps", "rule": "daily", "enforcement": "require_approval"}]}
    for _ in range(3):
        store.record_decision("acme", "sales-bot", {"type": "spend"}, over_cap)
    store.record_decision("acme", "other-bot", {"type": "spend"}, over_cap)
    with LocalOpa(bundles=[bundle_file(tmp_path, "rev-a")]) as opa:
        code, checks = doctor("--opa", opa.url, "--agent", "sales-bot", "--since", "2h",
                              env={"POLICYPACKS_STORE": store_url})
    assert code == 0  # violations are a finding to review, not a broken sidecar
    assert checks["violations"]["status"] == "warn"
    assert "3 violation record(s)" in checks["violations"]["detail"]
    assert "ops-caps/daily x3" in checks["violations"]["detail"]
    assert "violations list --agent sales-bot" in checks["violations"]["hint"]


def test_a_mistyped_store_path_is_a_failed_check(tmp_path: Path) -> None:
    with LocalOpa(bundles=[bundle_file(tmp_path, "rev-a")]) as opa:
        code, checks = doctor("--opa", opa.url, "--agent", "sales-bot",
                              env={"POLICYPACKS_STORE": f"sqlite:///{tmp_path}/nope.db"})
    assert code == 1 and checks["violations"]["status"] == "fail"
    assert not (tmp_path / "nope.db").exists()


def test_bad_duration_is_bad_input() -> None:
    result = CliRunner().invoke(doctor_command, ["--opa", "http://127.0.0.1:1", "--since",
                                                 "soon"])
    assert result.exit_code == 2 and "--since soon" in result.output


def test_doctor_sends_the_publisher_token(tmp_path: Path, no_store: None) -> None:
    with sidecar(tmp_path, "--bundle", bundle_file(tmp_path, "rev-a")) as opa:
        env = {"POLICYPACKS_PUBLISHER_TOKEN_FILE": str(opa.state / "publisher.token")}
        code, checks = doctor("--opa", opa.url, "--agent", "sales-bot", "--revision", "rev-a",
                              env=env)
        refused_code, refused = doctor("--opa", opa.url, "--agent", "sales-bot",
                                       env={"POLICYPACKS_OPA_TOKEN": ""})
    assert code == 0, checks
    assert {s for n, s in statuses(checks).items() if n != "violations"} == {"ok"}
    assert refused_code == 1 and refused["opa-reachable"]["status"] == "ok"  # /health is open
    assert refused["bundles"]["status"] == "fail"
    assert "HTTP 401" in refused["bundles"]["detail"]
    assert "publisher token" in refused["bundles"]["detail"]


# pack enforcements -> the doctor's verdict on them
ENFORCEMENT_CASES = [
    (["block", "warn"], "ok"),
    (["warn"], "warn"),
    (["warn", "shadow"], "warn"),
    (["shadow", "shadow"], "warn"),
    (["shadow", "require_approval"], "ok"),
    (["sometimes"], "fail"),
]


@pytest.mark.parametrize("levels, status", ENFORCEMENT_CASES)
def test_enforcement_check(levels: list[str], status: str) -> None:
    from policypacks.deploy.doctor import enforcement_check

    packs = [{"pack": f"p{i}", "enforcement": level} for i, level in enumerate(levels)]
    assert enforcement_check(packs).status == status
