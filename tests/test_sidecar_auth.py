"""The sidecar as `policypacks opa run` starts it, attacked over its API with the real
OPA binary: who may write policy, who may read which identity's decisions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from live_support import SPEND_40, bundle_file
from sidecar_support import Sidecar, sidecar

from policypacks.cli.deploy import publish_command

# A module that would turn every decision of acme into allow, and a data document that
# lifts the cap: what a local process without the publisher token tries to load.
HOSTILE_POLICY = b"package policypacks.acme\n\ndecision := {\"decision\": \"allow\"}\n"
HOSTILE_AUTHZ = b"package system.authz\n\nallow if true\n"
LIFTED_CAP = {"revision": "evil"}


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """OPA for identity acme's agents, with beta's bundle loaded too; acme (cap 10: a
    spend of 40 is blocked) is then pushed with the publisher token."""
    tmp = tmp_path_factory.mktemp("auth")
    beta = bundle_file(tmp, "beta-1", cap=10, identity_id="beta")
    with sidecar(tmp, "--identity", "acme", "--bundle", beta) as running:
        env = {"POLICYPACKS_PUBLISHER_TOKEN_FILE": str(running.state / "publisher.token")}
        acme = bundle_file(tmp, "acme-1", cap=10)
        result = CliRunner().invoke(publish_command, [str(acme), "--opa", running.url],
                                    env=env)
        assert result.exit_code == 0, result.output  # the publisher token can publish
        yield running


def blocked(opa: Sidecar) -> bool:
    return opa.decide(SPEND_40)["decision"] == "block"


@pytest.mark.parametrize(("who", "method", "path", "body"), [
    ("anonymous", "PUT", "/v1/policies/policypacks/acme/main.rego", HOSTILE_POLICY),
    ("anonymous", "PUT", "/v1/data/policypacks/acme/config", LIFTED_CAP),
    ("anonymous", "PATCH", "/v1/data/policypacks/acme/config",
     [{"op": "replace", "path": "/revision", "value": "evil"}]),
    ("anonymous", "DELETE", "/v1/policies/policypacks/acme/main.rego", None),
    ("anonymous", "DELETE", "/v1/data/policypacks/acme", None),
    ("anonymous", "PUT", "/v1/policies/system/authz/authz.rego", HOSTILE_AUTHZ),
    ("agent", "PUT", "/v1/policies/policypacks/acme/main.rego", HOSTILE_POLICY),
    ("agent", "PUT", "/v1/data/policypacks/acme/config", LIFTED_CAP),
    ("agent", "DELETE", "/v1/policies/policypacks/acme/rules/spending_limit/"
     "spending_limit.rego", None),
    ("agent", "PUT", "/v1/policies/policypacks/x.rego", HOSTILE_AUTHZ),
    ("agent", "PUT", "/v1/data/system/authz/tokens", {}),
    ("wrong", "PUT", "/v1/data/policypacks/acme/config", LIFTED_CAP),
])
def test_writes_without_the_publisher_token_are_refused(opa: Sidecar, who: str, method: str,
                                                        path: str, body: object) -> None:
    token = {"anonymous": None, "agent": opa.agent_token, "wrong": "guessed"}[who]
    kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
    answer = opa.call(method, path, token, **kwargs)
    assert answer.status_code in (401, 403), answer.text
    assert blocked(opa)
    assert opa.decide(SPEND_40)["revision"] == "acme-1"


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v1/data/policypacks/beta/decision"),
    ("POST", "/v1/data/policypacks/beta/effective/sales-bot"),
    ("GET", "/v1/data/policypacks/beta/config"),
    ("POST", "/v1/data/policypacks/beta/config"),
    ("GET", "/v1/data/policypacks/acme/config"),
    ("GET", "/v1/data"),
    ("POST", "/v1/data"),
    ("GET", "/v1/policies"),
    ("GET", "/v1/query?q=data.policypacks.beta.config"),
    ("POST", "/v1/query"),
    ("POST", "/v1/data/policypacks/acme/decision?explain=full"),
    ("POST", "/v1/data/policypacks/acme/config"),
    ("POST", "/v1/data/system/authz/tokens"),
    ("GET", "/v1/config"),
    ("GET", "/v1/status"),
])
def test_an_agent_token_reads_only_its_own_identitys_decisions(opa: Sidecar, method: str,
                                                               path: str) -> None:
    answer = opa.call(method, path, opa.agent_token, json={"input": SPEND_40})
    assert answer.status_code in (401, 403), answer.text


def test_an_agent_token_gets_its_identitys_decision_and_effective_policy(opa: Sidecar) -> None:
    assert blocked(opa)
    effective = opa.call("POST", "/v1/data/policypacks/acme/effective/sales-bot",
                         opa.agent_token, json={})
    assert effective.status_code == 200
    assert [p["pack"] for p in effective.json()["result"]["packs"]] == ["ops-caps"]


def test_probes_need_no_token_and_nothing_else_is_open(opa: Sidecar) -> None:
    assert opa.call("GET", "/health").status_code == 200
    assert opa.call("GET", "/health?bundles").status_code == 200
    assert opa.call("GET", "/metrics").status_code == 200
    for path in ("/v1/data/policypacks/acme/decision", "/v1/data", "/"):
        assert opa.call("POST", path, json={"input": SPEND_40}).status_code == 401, path


def test_even_the_publisher_cannot_replace_the_authorization(opa: Sidecar) -> None:
    """The authz policy and the token hashes belong to a bundle OPA loaded at start."""
    token = opa.publisher_token
    for path, body in (("/v1/policies/system/authz/authz.rego", HOSTILE_AUTHZ),
                       ("/v1/policies/policypacks/acme/sneaky.rego", HOSTILE_AUTHZ)):
        answer = opa.call("PUT", path, token, data=body)
        assert answer.status_code in (400, 401, 403), (path, answer.text)
    answer = opa.call("PUT", "/v1/data/system/authz/tokens", token, json={})
    assert answer.status_code in (400, 401, 403), answer.text
    assert opa.call("GET", "/v1/data/policypacks/beta/config", "guessed").status_code == 401
    tokens = opa.call("GET", "/v1/data/system/authz/tokens", token).json()["result"]
    assert opa.agent_token not in str(tokens) and opa.publisher_token not in str(tokens)
    assert sorted(entry["role"] for entry in tokens.values()) == ["agent", "publisher"]


def test_tokens_come_from_the_environment_and_must_differ(tmp_path: Path) -> None:
    bundle = bundle_file(tmp_path, "rev-a")
    same = {"POLICYPACKS_AGENT_TOKEN": "same-token", "POLICYPACKS_PUBLISHER_TOKEN": "same-token"}
    with pytest.raises(AssertionError, match="are the same"):
        with sidecar(tmp_path / "same", "--bundle", bundle, env=same):
            pass
    (tmp_path / "agent.token").write_text("agent-from-a-file\n")
    env = {"POLICYPACKS_AGENT_TOKEN_FILE": str(tmp_path / "agent.token"),
           "POLICYPACKS_PUBLISHER_TOKEN": "publisher-from-env"}
    with sidecar(tmp_path, "--bundle", bundle, env=env) as opa:
        assert opa.decide(SPEND_40, token="agent-from-a-file")["revision"] == "rev-a"
        assert opa.call("GET", "/v1/status", "publisher-from-env").status_code == 200
        assert not (opa.state / "agent.token").exists()  # given tokens are not copied
