"""Verified publishing with the real opa binary: signed bundles checked by OPA's own
verification before anything moves, a tampered bundle refused by `publish` and by a
sidecar that requires signatures, activation errors reported, and a bundle that differs
from the active one under the same revision refused."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from live_support import SPEND_40, polling_config
from sidecar_support import Sidecar, rsa_key_pair, sidecar
from support import agent, identity, pack, write_repo

from policypacks.bundle import (
    DIGEST_DATA,
    content_digest,
    tar_bytes,
    write_atomically,
    write_bundle,
)
from policypacks.cli.deploy import publish_command
from policypacks.deploy.bundle_server import BundleServer
from policypacks.pipeline import compile_path


def publish(*args: object, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(publish_command, [str(a) for a in args], env=env)


def build(tmp: Path, revision: str, cap: int, key: Path | None = None,
          name: str | None = None) -> Path:
    """acme's bundle: sales-bot may spend ``cap`` a day (40 is blocked under cap 10)."""
    rule = {"id": "daily", "type": "spending_limit", "max": cap, "period": "day"}
    docs = [identity("acme"), pack("ops-caps", "block", [rule]), agent("sales-bot")]
    label = name or f"{revision}-{cap}"
    repo = write_repo(tmp / f"repo-{label}", docs)
    path = tmp / f"{label}.tar.gz"
    write_bundle(compile_path(repo, revision)[1], path,
                 signing=(key, "RS256") if key else None)
    return path


def tampered(signed: Path, cap: int) -> Path:
    """The signed bundle with its cap changed and its manifest's digest fixed up, the
    signature kept: only a signature check can tell."""
    with tarfile.open(signed, "r:gz") as tar:
        files = {m.name.lstrip("/"): tar.extractfile(m).read()  # type: ignore[union-attr]
                 for m in tar.getmembers() if m.isfile()}
    config_path = "policypacks/acme/config/data.json"
    config = json.loads(files[config_path])
    ops_cap(config)["max"] = cap
    files[config_path] = json.dumps(config).encode()
    manifest = json.loads(files[".manifest"])
    manifest["metadata"]["content_digest"] = content_digest(files)
    files[f"policypacks/acme/{DIGEST_DATA}"] = json.dumps(
        {"digest": manifest["metadata"]["content_digest"]}).encode()
    files[".manifest"] = json.dumps(manifest).encode()
    out = signed.with_name("tampered-" + signed.name)
    out.write_bytes(tar_bytes(files))
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return rsa_key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed_sidecar(tmp_path_factory: pytest.TempPathFactory,
                   keys: tuple[Path, Path]) -> Iterator[tuple[Sidecar, Path, Path]]:
    """A sidecar that polls a served directory fast and accepts only bundles signed with
    the test key; it starts on signed revision rev-a (cap 10: a spend of 40 is blocked)."""
    tmp = tmp_path_factory.mktemp("signed")
    served = tmp / "served"
    served.mkdir()
    first = build(tmp, "rev-a", 10, keys[0])
    write_atomically(served / "acme.tar.gz", first.read_bytes())
    with BundleServer(served) as server:
        config = polling_config(tmp / "config.yaml", server.url)
        with sidecar(tmp, "--config", config, "--verification-key", keys[1],
                     env={"POLICYPACKS_IDENTITY": "acme"}) as opa:
            yield opa, served, tmp


def publisher_env(opa: Sidecar) -> dict[str, str]:
    return {"POLICYPACKS_PUBLISHER_TOKEN_FILE": str(opa.state / "publisher.token")}


def test_publish_refuses_a_tampered_signed_bundle_before_it_moves(
        tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bad = tampered(build(tmp_path, "rev-b", 10, keys[0]), cap=1_000_000)
    result = publish(bad, "--to", tmp_path / "out", "--verification-key", keys[1])
    assert result.exit_code == 1
    assert "signature verification failed" in result.output
    assert "digest mismatch" in result.output  # OPA's own words
    assert not (tmp_path / "out").exists()


def test_publish_refuses_an_unsigned_bundle_when_a_key_is_configured(
        tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bundle = build(tmp_path, "rev-b", 10)
    result = publish(bundle, "--to", tmp_path / "out",
                     env={"POLICYPACKS_VERIFICATION_KEY": str(keys[1])})
    assert result.exit_code == 1
    assert "not signed, and a verification key is configured" in result.output
    assert not (tmp_path / "out").exists()


def test_a_signed_bundle_without_a_key_is_placed_with_a_note(
        tmp_path: Path, keys: tuple[Path, Path]) -> None:
    bad = tampered(build(tmp_path, "rev-b", 10, keys[0]), cap=1_000_000)
    result = publish(bad, "--to", tmp_path / "out", "--json")
    assert result.exit_code == 0, result.output
    assert "signed but not verified here" in result.output  # stderr
    assert (tmp_path / "out" / "acme.tar.gz").exists()


def test_an_edited_bundle_that_does_not_match_its_manifest_is_refused(tmp_path: Path) -> None:
    bundle = build(tmp_path, "rev-b", 10)
    with tarfile.open(bundle, "r:gz") as tar:
        files = {m.name.lstrip("/"): tar.extractfile(m).read()  # type: ignore[union-attr]
                 for m in tar.getmembers() if m.isfile()}
    data = files["policypacks/acme/config/data.json"]  # compact JSON: no space after ':'
    files["policypacks/acme/config/data.json"] = data.replace(b'"max":10', b'"max":1000')
    assert files["policypacks/acme/config/data.json"] != data  # the edit happened
    bundle.write_bytes(tar_bytes(files))
    result = publish(bundle, "--to", tmp_path / "out")
    assert result.exit_code == 1 and "do not match the content digest" in result.output


def test_a_sidecar_requiring_signatures_refuses_a_tampered_bundle(
        signed_sidecar: tuple[Sidecar, Path, Path], keys: tuple[Path, Path]) -> None:
    """Placed behind publish's back: OPA's verification refuses it and keeps deciding
    with the last good revision."""
    opa, served, tmp = signed_sidecar
    assert opa.decide(SPEND_40)["decision"] == "block"
    good = build(tmp, "rev-t", 10, keys[0])
    write_atomically(served / "acme.tar.gz", tampered(good, cap=1_000_000).read_bytes())
    deadline = time.monotonic() + 15
    error = ""
    while time.monotonic() < deadline and "digest mismatch" not in error:
        time.sleep(0.3)
        status = opa.call("GET", "/v1/status", opa.publisher_token).json()["result"]
        error = json.dumps(status["bundles"]["policypacks"])
    assert "digest mismatch" in error
    answer = opa.decide(SPEND_40)
    assert (answer["decision"], answer["revision"]) == ("block", "rev-a")


def test_publish_waits_for_activation_and_reports_opas_refusal(
        signed_sidecar: tuple[Sidecar, Path, Path], keys: tuple[Path, Path]) -> None:
    opa, served, tmp = signed_sidecar
    env = publisher_env(opa)
    good = build(tmp, "rev-c", 100, keys[0])
    result = publish(good, "--to", served, "--opa", opa.url, "--verification-key", keys[1],
                     "--timeout", "20", env=env)
    assert result.exit_code == 0, result.output
    assert "signature verified" in result.output and "revision rev-c active" in result.output
    assert opa.decide(SPEND_40)["decision"] == "allow"

    # An unsigned bundle, published without a key: OPA refuses it, publish says so at
    # once (not at the timeout) with OPA's reason, and the old revision keeps deciding.
    unsigned = build(tmp, "rev-d", 10)
    started = time.monotonic()
    result = publish(unsigned, "--to", served, "--opa", opa.url, "--timeout", "25", env=env)
    assert result.exit_code == 1
    assert "refused revision rev-d of policypacks/acme" in result.output
    assert ".signatures.json" in result.output
    assert time.monotonic() - started < 20
    assert opa.decide(SPEND_40)["revision"] == "rev-c"


def test_same_revision_with_other_content_is_refused(
        signed_sidecar: tuple[Sidecar, Path, Path], keys: tuple[Path, Path]) -> None:
    opa, served, tmp = signed_sidecar
    env = publisher_env(opa)
    first = build(tmp, "rev-s", 100, keys[0])
    result = publish(first, "--to", served, "--opa", opa.url, "--verification-key", keys[1],
                     "--timeout", "20", env=env)
    assert result.exit_code == 0, result.output
    other = build(tmp, "rev-s", 5, keys[0])  # same revision, a different cap
    for args in (["--to", served, "--opa", opa.url], ["--to", served]):
        result = publish(other, *args, "--verification-key", keys[1], env=env)
        assert result.exit_code == 1
        assert "already" in result.output and "revision rev-s" in result.output
        assert "with different content" in result.output and "new revision" in result.output
    assert read_cap(served / "acme.tar.gz") == 100  # nothing was replaced
    # The very same bundle again is fine: nothing differs.
    result = publish(first, "--to", served, "--opa", opa.url, "--verification-key", keys[1],
                     env=env)
    assert result.exit_code == 0, result.output


def read_cap(path: Path) -> int:
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes()), mode="r:gz") as tar:
        member = tar.extractfile("/policypacks/acme/config/data.json")
        assert member is not None
        config = json.load(member)
    return int(ops_cap(config)["max"])


def ops_cap(config: dict[str, Any]) -> dict[str, Any]:
    """The first spending limit of the ops-caps pack, as the bundle's data holds it."""
    return next(rule for rule in config["rules"]["spending_limit"] if rule["pack"] == "ops-caps")
