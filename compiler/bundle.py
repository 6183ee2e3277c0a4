"""Step 4 of the pipeline: the OPA bundle, byte-identical for identical input.

Entries are sorted, owners and timestamps fixed, JSON canonical (sorted keys), and the
gzip header carries no name and no time. The file is written to a temporary name in the
target directory and renamed into place, so a failed or interrupted build never leaves a
partial bundle where OPA (or a CI upload step) would pick it up.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .compile import CompiledPolicy
from .errors import UsageError
from .opa.binary import run

REGO_VERSION = 1


def canonical_json(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1) + "\n").encode()


def compact_json(value: Any) -> bytes:
    """Canonical too (sorted keys), without indentation: the data document can be tens of
    MB, and json.dumps only uses its C encoder without ``indent`` (10x faster)."""
    return (json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            + "\n").encode()


def git_revision(repo_root: Path) -> str | None:
    """The commit of the repository, with ``-dirty`` when its tree has changes."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(repo_root), *args], capture_output=True,
                                  text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=normal", "--", ".")
    return f"{commit}-dirty" if status else commit


def content_revision(compiled: CompiledPolicy) -> str:
    """A revision for repositories outside git: a digest of what the bundle holds."""
    digest = hashlib.sha256()
    for path, source in sorted(compiled.modules.items()):
        digest.update(path.encode() + b"\0" + source.encode() + b"\0")
    config = {k: v for k, v in compiled.config.items() if k != "revision"}
    digest.update(compact_json(config))
    return "sha256-" + digest.hexdigest()[:16]


#: Where the bundle holds its own content digest, below its root: each decision names
#: the build that made it (``digest``), so a replay can tell a decision recorded by the
#: very bundle it is given as baseline (deploy/replay.py). It is derived, so the digest
#: does not cover it, nor the manifest or signatures.
DIGEST_DOCUMENT = "config/bundle"  # its data path below the root
DIGEST_DATA = f"{DIGEST_DOCUMENT}/data.json"


def content_digest(files: dict[str, bytes]) -> str:
    """A digest of the bundle's policy and data files (not the manifest, signatures or
    DIGEST_DATA), kept in the manifest: OPA shows it for the active bundle, so
    ``publish`` can tell two bundles with the same revision but different content apart."""
    digest = hashlib.sha256()
    for path in sorted(files):
        name = path.lstrip("/")
        if name not in (".manifest", ".signatures.json") and not name.endswith("/" + DIGEST_DATA):
            digest.update(name.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return "sha256:" + digest.hexdigest()


def manifest(compiled: CompiledPolicy, digest: str = "") -> dict[str, Any]:
    metadata = {"identity": compiled.identity, "generator": "policypacks"}
    if digest:
        metadata["content_digest"] = digest
    return {
        "revision": compiled.config["revision"],
        "roots": [compiled.root],
        "rego_version": REGO_VERSION,
        "metadata": metadata,
    }


def bundle_files(compiled: CompiledPolicy) -> dict[str, bytes]:
    """Every file of the bundle: path -> bytes."""
    files = {f"{compiled.root}/config/data.json": compact_json(compiled.config)}
    files.update({path: source.encode() for path, source in compiled.modules.items()})
    digest = content_digest(files)
    files[f"{compiled.root}/{DIGEST_DATA}"] = compact_json({"digest": digest})
    files[".manifest"] = canonical_json(manifest(compiled, digest))
    return files


def tar_bytes(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(name="/" + path.lstrip("/"))
            info.size = len(files[path])
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(files[path]))
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    path = path.resolve()
    if path.is_dir():
        raise UsageError(f"{path}: is a directory; give the bundle's file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sign_files(files: dict[str, bytes], key: Path, algorithm: str) -> bytes:
    """``.signatures.json`` for the bundle, made by ``opa sign`` (OPA's own format).

    RSA/ECDSA-PKCS1 and HMAC signatures are deterministic, so a signed bundle stays
    byte-identical for identical input and key.
    """
    with tempfile.TemporaryDirectory(prefix="policypacks-sign-") as tmp:
        tree = Path(tmp) / "bundle"
        for rel, data in files.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_bytes(data)
        out = Path(tmp) / "out"
        out.mkdir()
        # Signed from inside the tree, so the JWT names files as the bundle does.
        proc = run(["sign", "--signing-key", str(key.resolve()), "--signing-alg", algorithm,
                    "--bundle", ".", "--output-file-path", str(out)], cwd=tree)
        if proc.returncode != 0:
            raise UsageError(f"{key}: opa sign failed: {(proc.stderr or proc.stdout).strip()}")
        return (out / ".signatures.json").read_bytes()


def write_bundle(compiled: CompiledPolicy, path: Path,
                 signing: tuple[Path, str] | None = None) -> bytes:
    files = bundle_files(compiled)
    if signing:
        files[".signatures.json"] = sign_files(files, *signing)
    data = tar_bytes(files)
    write_atomically(path, data)
    return data


def write_tree(compiled: CompiledPolicy, directory: Path) -> None:
    """The bundle's files as a directory tree (for `opa check` / `opa test`)."""
    for rel, data in bundle_files(compiled).items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
