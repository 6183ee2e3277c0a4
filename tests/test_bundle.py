"""The bundle: a valid OPA bundle, byte-identical for identical input, written
atomically, answering SPEC section 5 when served by `opa run --server --bundle`."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import requests
from support import agent, identity, pack, write_repo

from policypacks.bundle import git_revision, tar_bytes, write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.errors import OpaError
from policypacks.pipeline import compile_path

RULE = {"id": "daily", "type": "spending_limit", "max": 100, "period": "day"}


def repo_docs(identity_id: str = "acme") -> list[dict]:
    return [identity(identity_id), pack("ops-caps", "require_approval", [RULE]),
            agent("sales-bot")]


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "repo", repo_docs())
    first = write_bundle(compile_path(root, "r1")[1], tmp_path / "a.tar.gz")
    (tmp_path / "repo" / "repo.yaml").touch()  # a new mtime must not matter
    second = write_bundle(compile_path(root, "r1")[1], tmp_path / "b.tar.gz")
    assert first == second
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()


def test_entries_are_sorted_with_fixed_owner_and_time(tmp_path: Path) -> None:
    data = write_bundle(compile_path(write_repo(tmp_path / "r", repo_docs()), "r1")[1],
                        tmp_path / "b.tar.gz")
    entries = members(data)
    assert list(entries) == sorted(entries)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in
               entries.values())
    assert gzip.decompress(data)  # a plain gzip stream
    assert data[4:8] == b"\0\0\0\0"  # gzip header without a timestamp


def test_manifest_has_revision_roots_and_rego_version(tmp_path: Path) -> None:
    data = write_bundle(compile_path(write_repo(tmp_path / "r", repo_docs("acme-corp")),
                                     "rev-7")[1], tmp_path / "b.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        manifest = json.load(tar.extractfile("/.manifest"))
    assert manifest["revision"] == "rev-7"
    assert manifest["roots"] == ["policypacks/acme_corp"]
    assert manifest["rego_version"] == 1


def test_revision_defaults_to_the_git_commit(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "repo", repo_docs())
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert git_revision(root) == commit
    assert compile_path(root)[1].config["revision"] == commit
    (root / "more.yaml").write_text("# a change\n")
    assert git_revision(root) == f"{commit}-dirty"


def test_revision_outside_git_is_a_content_digest(tmp_path: Path) -> None:
    root = write_repo(tmp_path / "repo", repo_docs())
    first = compile_path(root)[1].config["revision"]
    assert first.startswith("sha256-") and first == compile_path(root)[1].config["revision"]


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()  # a directory where the file should go: the write must fail cleanly
    try:
        write_bundle(compile_path(write_repo(tmp_path / "r", repo_docs()), "r")[1], target)
    except Exception:
        pass
    assert list(tmp_path.glob("out/*")) == [] and not list(tmp_path.glob(".out.*"))


def test_tar_of_nothing_is_still_deterministic() -> None:
    assert tar_bytes({}) == tar_bytes({})


def test_two_identities_load_side_by_side_in_one_opa_server(tmp_path: Path) -> None:
    bundles = []
    for identity_id in ("acme", "globex-inc"):
        compiled = compile_path(write_repo(tmp_path / identity_id, repo_docs(identity_id)),
                                f"rev-{identity_id}")[1]
        bundles.append(tmp_path / f"{identity_id}.tar.gz")
        write_bundle(compiled, bundles[-1])
    action = {"agent": "sales-bot", "action": {"type": "spend", "amount": 40},
              "usage": {"spend": {"day": 90}}}
    with LocalOpa(bundles=bundles) as opa:
        for path, identity_id in (("acme", "acme"), ("globex_inc", "globex-inc")):
            answer = requests.post(f"{opa.url}/v1/data/policypacks/{path}/decision",
                                   json={"input": action}, timeout=5).json()["result"]
            assert answer["decision"] == "require_approval"
            assert answer["identity"] == identity_id
            assert answer["revision"] == f"rev-{identity_id}"
            assert [v["rule"] for v in answer["violations"]] == ["daily"]
        view = requests.get(f"{opa.url}/v1/data/policypacks/acme/effective/sales-bot",
                            timeout=5).json()["result"]
        assert view["packs"][0]["pack"] == "ops-caps"


def test_signed_bundle_is_reproducible_and_verified_by_opa(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    key.write_text("a shared secret for HS256")
    compiled = compile_path(write_repo(tmp_path / "r", repo_docs()), "signed-1")[1]
    first = write_bundle(compiled, tmp_path / "a.tar.gz", signing=(key, "HS256"))
    assert first == write_bundle(compiled, tmp_path / "b.tar.gz", signing=(key, "HS256"))
    assert "/.signatures.json" in members(first)
    verify = ["--verification-key", str(key), "--signing-alg", "HS256"]
    with LocalOpa(bundles=[tmp_path / "a.tar.gz"], extra_args=verify) as opa:
        revision = requests.get(f"{opa.url}/v1/data/policypacks/acme/config/revision",
                                timeout=5).json()["result"]
        assert revision == "signed-1"
    wrong = tmp_path / "wrong.key"
    wrong.write_text("another secret")
    bad = LocalOpa(bundles=[tmp_path / "a.tar.gz"],
                   extra_args=["--verification-key", str(wrong), "--signing-alg", "HS256"])
    with pytest.raises(OpaError):
        bad.start(timeout=10)
