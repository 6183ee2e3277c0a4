"""`policypacks publish` and `policypacks serve`, against the real opa binary: a push over
the REST API, a directory served by the bundle server and polled by OPA (a live revision
change without restarting OPA), timeouts and refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from live_support import SPEND_40, bundle_file, decide, polling_config
from sidecar_support import sidecar

from policypacks.cli.deploy import publish_command
from policypacks.deploy.bundle_server import BundleServer
from policypacks.deploy.publish import folded, read_bundle
from policypacks.deploy.sidecar import LocalOpa, free_port


def publish(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(publish_command, [str(a) for a in args], env=env)


def test_push_then_query_a_decision(tmp_path: Path) -> None:
    first = bundle_file(tmp_path, "rev-a", cap=100)
    second = bundle_file(tmp_path, "rev-b", cap=10)
    with LocalOpa() as opa:
        result = publish(first, "--opa", opa.url)
        assert result.exit_code == 0, result.output
        assert "revision rev-a active" in result.output
        answer = decide(opa.url, SPEND_40)
        assert (answer["decision"], answer["revision"]) == ("allow", "rev-a")

        result = publish(second, "--opa", opa.url, "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        # Same compiler, same Rego: only the data document travels, in one atomic write.
        assert report["policies_updated"] == [] and report["policies_unchanged"] > 10
        assert report["data"] == ["policypacks/acme/config"] and report["active"] is True
        answer = decide(opa.url, SPEND_40)
        assert (answer["decision"], answer["revision"]) == ("block", "rev-b")
        assert [v["rule"] for v in answer["violations"]] == ["daily"]
        # its content digest travelled inside that one document
        assert answer["digest"] == read_bundle(second).digest


def test_push_removes_modules_the_new_bundle_no_longer_has(tmp_path: Path) -> None:
    bundle = bundle_file(tmp_path, "rev-a")
    with LocalOpa() as opa:
        stale = "policypacks/acme/rules/gone/gone.rego"
        requests.put(f"{opa.url}/v1/policies/{stale}", timeout=5,
                     data=b"package policypacks.acme.rules.gone\n\nviolation := set()\n")
        result = publish(bundle, "--opa", opa.url, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["policies_removed"] == [stale]
        ids = [p["id"] for p in requests.get(f"{opa.url}/v1/policies", timeout=5)
               .json()["result"]]
        assert stale not in ids and "policypacks/acme/main.rego" in ids


def test_push_with_the_publisher_token(tmp_path: Path) -> None:
    """OPA as `policypacks opa run` starts it: the publisher token from a file or the
    environment; without it the push is refused before anything is sent."""
    bundle = bundle_file(tmp_path, "rev-a")
    with sidecar(tmp_path, "--identity", "acme") as opa:
        refused = publish(bundle, "--opa", opa.url, env={"POLICYPACKS_OPA_TOKEN": ""})
        assert refused.exit_code == 1
        assert "HTTP 401" in refused.output and "publisher token" in refused.output
        agent = publish(bundle, "--opa", opa.url, env={"POLICYPACKS_OPA_TOKEN": opa.agent_token})
        assert agent.exit_code == 1 and "HTTP 401" in agent.output
        result = publish(bundle, "--opa", opa.url, "--token-file", opa.state / "publisher.token")
        assert result.exit_code == 0, result.output
        assert opa.decide(SPEND_40)["revision"] == "rev-a"
        again = publish(bundle, "--opa", opa.url, "--json",
                        env={"POLICYPACKS_PUBLISHER_TOKEN": opa.publisher_token})
        assert again.exit_code == 0, again.output
        assert json.loads(again.output)["policies_updated"] == []


def test_push_of_other_content_under_the_same_revision_is_refused(tmp_path: Path) -> None:
    with LocalOpa() as opa:
        assert publish(bundle_file(tmp_path, "rev-a", cap=100), "--opa", opa.url).exit_code == 0
        other = bundle_file(tmp_path / "other", "rev-a", cap=10)
        result = publish(other, "--opa", opa.url)
        assert result.exit_code == 1
        assert "already runs revision rev-a of policypacks/acme with different content" in \
            result.output
        assert decide(opa.url, SPEND_40)["decision"] == "allow"  # the first one still decides


def test_push_into_a_root_a_bundle_owns_says_to_publish_to_a_directory(tmp_path: Path) -> None:
    with LocalOpa(bundles=[bundle_file(tmp_path, "rev-a")]) as opa:
        result = publish(bundle_file(tmp_path, "rev-b"), "--opa", opa.url)
    assert result.exit_code == 1
    assert "owned by bundle" in result.output and "--to DIR" in result.output


def test_directory_publish_reaches_a_polling_opa_without_restart(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    with BundleServer(served) as server:
        config = polling_config(tmp_path / "config.yaml", server.url)
        with LocalOpa(config_file=config, wait_bundles=False) as opa:
            pid = opa.pid
            result = publish(bundle_file(tmp_path, "rev-a", cap=100), "--to", served,
                             "--opa", opa.url, "--timeout", "15")
            assert result.exit_code == 0, result.output
            assert "revision rev-a active" in result.output
            assert decide(opa.url, SPEND_40)["decision"] == "allow"
            assert requests.get(f"{opa.url}/health?bundles", timeout=5).status_code == 200

            result = publish(bundle_file(tmp_path, "rev-b", cap=10), "--to", served,
                             "--opa", opa.url, "--timeout", "15", "--json")
            assert result.exit_code == 0, result.output
            assert json.loads(result.output)["path"] == str(served / "acme.tar.gz")
            answer = decide(opa.url, SPEND_40)
            assert (answer["decision"], answer["revision"]) == ("block", "rev-b")
            assert opa.process.poll() is None and opa.pid == pid  # the same OPA, live
            status = requests.get(f"{opa.url}/v1/status", timeout=5).json()["result"]
            assert status["bundles"]["policypacks"]["active_revision"] == "rev-b"
    assert sorted(p.name for p in served.iterdir()) == ["acme.tar.gz"]  # no temp files


def test_publish_times_out_when_opa_never_gets_the_revision(tmp_path: Path) -> None:
    with LocalOpa() as opa:  # not polling anything: the placed file never reaches it
        result = publish(bundle_file(tmp_path, "rev-a"), "--to", tmp_path / "out",
                         "--opa", opa.url, "--timeout", "1")
    assert result.exit_code == 1
    assert "did not activate revision rev-a of policypacks/acme within 1s" in result.output
    assert "no policypacks revision" in result.output
    assert (tmp_path / "out" / "acme.tar.gz").exists()


def test_publish_to_an_opa_that_does_not_answer(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = publish(bundle_file(tmp_path, "rev-a"), "--opa", url, "--timeout", "1")
    assert result.exit_code == 1
    assert f"cannot reach OPA at {url}" in result.output


def test_publish_without_a_target_or_with_a_bad_bundle_is_bad_input(tmp_path: Path) -> None:
    bundle = bundle_file(tmp_path, "rev-a")
    assert publish(bundle).exit_code == 2
    junk = tmp_path / "junk.tar.gz"
    junk.write_text("not a bundle")
    result = publish(junk, "--to", tmp_path)
    assert result.exit_code == 2 and "not a .tar.gz bundle" in result.output
    result = publish(bundle, "--to", tmp_path, "--name", "../escape.tar.gz")
    assert result.exit_code == 2
    result = publish(bundle, "--to", tmp_path)  # no --opa: placed, says it did not wait
    assert result.exit_code == 0 and "not waiting for OPA" in result.output


def test_bundle_server_answers_304_until_the_bundle_changes(tmp_path: Path) -> None:
    (tmp_path / "acme.tar.gz").write_bytes(b"first")
    (tmp_path / "secret.txt").write_text("x")
    with BundleServer(tmp_path) as server:
        url = f"{server.url}/acme.tar.gz"
        first = requests.get(url, timeout=5)
        etag = first.headers["ETag"]
        assert first.status_code == 200 and first.content == b"first"
        assert etag.startswith('"') and len(etag) == 66 and not etag.startswith("W/")
        assert requests.get(url, headers={"If-None-Match": etag}, timeout=5).status_code == 304
        assert requests.get(url, headers={"If-None-Match": f'"x", W/{etag}'},
                            timeout=5).status_code == 304
        head = requests.head(url, timeout=5)
        assert head.status_code == 200 and head.headers["ETag"] == etag and not head.content

        (tmp_path / "acme.tar.gz").write_bytes(b"second")
        changed = requests.get(url, headers={"If-None-Match": etag}, timeout=5)
        assert changed.status_code == 200 and changed.content == b"second"
        assert changed.headers["ETag"] != etag

        for path in ("/secret.txt", "/missing.tar.gz", "/", "/..%2Fescape.tar.gz",
                     "/.hidden.tar.gz"):
            assert requests.get(server.url + path, timeout=5).status_code == 404, path


# data documents of a bundle                          -> what one PUT each writes
FOLDS = [
    ({"a/c": {"x": 1}},                                 {"a/c": {"x": 1}}),
    ({"a/c": {"x": 1}, "a/c/bundle": {"d": "s"}},       {"a/c": {"x": 1, "bundle": {"d": "s"}}}),
    ({"a/c": {}, "a/c/b/e": {"d": 1}},                  {"a/c": {"b": {"e": {"d": 1}}}}),
    ({"a/c": {"b": {"k": 0}}, "a/c/b/e": {"d": 1}},     {"a/c": {"b": {"k": 0, "e": {"d": 1}}}}),
    ({"a/c": {}, "a/c-x": {"y": 2}},                    {"a/c": {}, "a/c-x": {"y": 2}}),
]


@pytest.mark.parametrize("documents, puts", FOLDS)
def test_documents_below_another_travel_inside_it(documents: dict[str, Any],
                                                  puts: dict[str, Any]) -> None:
    before = json.dumps(documents, sort_keys=True)
    assert folded(documents) == puts
    assert json.dumps(documents, sort_keys=True) == before  # the bundle's own stay as read
