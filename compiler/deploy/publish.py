"""Step 5 of the pipeline: get a built bundle to OPA, and wait until OPA uses it.

Two ways, both reading only the bundle file (what CI built is what is published):

* push (``--opa URL``): the bundle's modules go to ``PUT /v1/policies/<path>`` and its
  data documents to ``PUT /v1/data/<path>``. Unchanged modules are not sent again and
  the data goes last: as the generated Rego is fixed per compiler version, a typical
  publish is a single data write, which OPA applies atomically.
* directory (``--to DIR``): the file is renamed into place (never half written) where a
  static server lets OPA's bundle polling fetch it; OPA swaps bundles atomically.

Either way "published" means OPA reports the bundle's revision at
``data.<root>.config.revision`` (what every decision carries) with no activation error
after it was placed, not that a file moved. Before anything is pushed or placed, a signed
bundle is verified by ``opa build --verification-key`` (OPA's own check: signature and
every file's digest), and a bundle that differs from what OPA runs under the same
revision is refused (the manifest carries a content digest, and OPA shows the active
bundle's manifest at ``data.system.bundles``).
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..bundle import DIGEST_DOCUMENT, content_digest, write_atomically
from ..errors import OpaError, UsageError
from ..opa.binary import run
from .api import UNDEFINED, OpaApi


@dataclass(frozen=True)
class Bundle:
    path: Path
    raw: bytes
    manifest: dict[str, Any]
    modules: dict[str, str]  # bundle path (no leading /) -> Rego source
    data: dict[str, Any]  # data path, e.g. "policypacks/acme/config" -> document
    signed: bool = False

    @property
    def digest(self) -> str:
        """The content digest ``policypacks build`` put in the manifest ("" if none)."""
        return str((self.manifest.get("metadata") or {}).get("content_digest") or "")

    @property
    def revision(self) -> str:
        return str(self.manifest.get("revision", ""))

    @property
    def root(self) -> str:
        return self.manifest["roots"][0]

    @property
    def identity(self) -> str:
        metadata = self.manifest.get("metadata") or {}
        return str(metadata.get("identity") or self.root.rsplit("/", 1)[-1])

    @property
    def revision_path(self) -> str:
        return f"{self.root}/config/revision"


def read_bundle(path: Path) -> Bundle:
    """Read and check a bundle built by ``policypacks build`` (a .tar.gz OPA bundle).

    Its files must match the content digest its manifest claims. Signatures are checked
    by :func:`verify_signature` (a push over the REST API cannot carry them to OPA).
    """
    try:
        raw = path.read_bytes()
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            files = {m.name.lstrip("/"): tar.extractfile(m).read()  # type: ignore[union-attr]
                     for m in tar.getmembers() if m.isfile()}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the bundle: {exc.strerror or exc}") from exc
    except (tarfile.TarError, EOFError) as exc:
        raise UsageError(f"{path}: not a .tar.gz bundle ({exc})") from exc
    try:
        manifest = json.loads(files[".manifest"])
        roots = manifest["roots"]
        if not (isinstance(roots, list) and len(roots) == 1 and roots[0]):
            raise KeyError("roots")
        data = {name.removesuffix("data.json").rstrip("/"): json.loads(content)
                for name, content in files.items()
                if name == "data.json" or name.endswith("/data.json")}
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{path}: not a policypacks bundle (a .manifest with a revision "
                         f"and one root, JSON data): {exc}") from exc
    if "" in data:
        raise UsageError(f"{path}: data.json at the bundle's top would replace all of "
                         "OPA's data; policypacks bundles keep data under their root")
    modules = {name: content.decode() for name, content in files.items()
               if name.endswith(".rego")}
    bundle = Bundle(path, raw, manifest, modules, data, signed=".signatures.json" in files)
    if bundle.digest and bundle.digest != content_digest(files):
        raise OpaError(f"{path}: refused: its files do not match the content digest in "
                       "its manifest (changed after `policypacks build`?)")
    claimed = data.get(f"{bundle.root}/{DIGEST_DOCUMENT}") or {}
    if isinstance(claimed, dict) and claimed.get("digest", bundle.digest) != bundle.digest:
        raise OpaError(f"{path}: refused: the digest its decisions name is not the one in "
                       "its manifest (changed after `policypacks build`?)")
    return bundle


def verify_signature(bundle: Bundle, key: Path | None, algorithm: str = "RS256") -> bool:
    """Verify a signed bundle the way OPA does when it loads one; True when verified.

    With a key, an unsigned bundle or one whose signature or file digests do not check
    out is refused. Without one nothing is checked here (False): a sidecar that
    requires signatures still checks them itself.
    """
    if key is None:
        return False
    if not bundle.signed:
        raise OpaError(f"{bundle.path}: refused: not signed, and a verification key is "
                       "configured (build it with policypacks build --signing-key)")
    with tempfile.TemporaryDirectory(prefix="policypacks-verify-") as tmp:
        proc = run(["build", "--bundle", str(bundle.path.resolve()), "--verification-key",
                    str(key.resolve()), "--signing-alg", algorithm, "--output",
                    str(Path(tmp) / "verified.tar.gz")])
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip().removeprefix("error: ")
        raise OpaError(f"{bundle.path}: refused: signature verification failed: {said}")
    return True


@dataclass
class PushReport:
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)


def push(bundle: Bundle, api: OpaApi) -> PushReport:
    """Load the bundle into OPA over its REST API (policies, stale ones removed, then data).

    Module ids are the bundle paths, so a later push of the same identity replaces them
    and a module the new bundle no longer has is deleted.
    """
    report = PushReport()
    loaded = {p["id"]: p.get("raw", "") for p in api.policies()}
    changed = {policy_id: source for policy_id, source in bundle.modules.items()
               if loaded.get(policy_id) != source}
    report.unchanged = sorted(set(bundle.modules) - set(changed))
    try:
        report.updated = put_in_dependency_order(api, changed)
        for policy_id in sorted(loaded):
            if policy_id.startswith(bundle.root + "/") and policy_id not in bundle.modules:
                api.delete_policy(policy_id)
                report.removed.append(policy_id)
        for data_path, document in sorted(folded(bundle.data).items()):
            api.put_data(data_path, document)
            report.data.append(data_path)
    except OpaError as exc:
        hint = ""
        if "owned by bundle" in str(exc):
            hint = ("\nthis OPA loads the root from a bundle (its config or --bundle): "
                    "publish with --to DIR where its bundle service serves files instead")
        elif report.updated:
            hint = ("\nOPA may now hold some new and some old modules: publish again "
                    "once the cause is fixed")
        raise OpaError(f"{exc}{hint}") from None
    return report


def folded(data: dict[str, Any]) -> dict[str, Any]:
    """The data documents with each one below another put inside it (config/bundle in
    config), so one PUT replaces them together: no decision sees the one without the
    other. The bundle's own documents are left as they were read (copied on the way)."""
    out: dict[str, Any] = {}
    for path in sorted(data):  # a parent sorts before what is below it
        parent = next((p for p in out if path.startswith(p + "/")), None)
        if parent is None:
            out[path] = data[path]
            continue
        *steps, last = path[len(parent) + 1:].split("/")
        out[parent] = node = dict(out[parent])
        for step in steps:
            node[step] = dict(node.get(step) or {})
            node = node[step]
        node[last] = data[path]
    return out


def put_in_dependency_order(api: OpaApi, modules: dict[str, str]) -> list[str]:
    """PUT modules one by one, so that each compiles against those already loaded.

    OPA compiles every PUT module at once and rejects a call to a function that is not
    loaded yet, and the REST API has no multi-module PUT. Rather than parse the Rego for
    its call graph, retry the rejected modules while any progress is made (main.rego,
    which calls everything, goes last from the start).
    """
    pending = sorted(modules, key=lambda p: (p.endswith("/main.rego"), p.count("/"), p))
    done: list[str] = []
    while pending:
        failed: list[tuple[str, OpaError]] = []
        for policy_id in pending:
            try:
                api.put_policy(policy_id, modules[policy_id])
                done.append(policy_id)
            except OpaError as exc:
                if "undefined function" not in str(exc):
                    raise
                failed.append((policy_id, exc))
        if len(failed) == len(pending):
            raise failed[0][1]
        pending = [policy_id for policy_id, _ in failed]
    return done


def place(bundle: Bundle, directory: Path, name: str | None = None) -> Path:
    """Rename the bundle into ``directory`` (default name ``<identity>.tar.gz``, the
    resource opa-config/config.yaml polls), never leaving a partial file there."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--to {directory}: not a directory")
    filename = name or f"{bundle.identity}.tar.gz"
    if "/" in filename or filename.startswith("."):
        raise UsageError(f"--name {filename}: give a plain file name")
    target = directory / filename
    write_atomically(target, bundle.raw)
    return target


def active_manifest(api: OpaApi, root: str) -> tuple[str, dict[str, Any]] | None:
    """The bundle OPA serves ``root`` from, and its manifest (``data.system.bundles``)."""
    bundles = api.data("system/bundles")
    if not isinstance(bundles, dict):
        return None
    for name, info in sorted(bundles.items()):
        manifest = (info or {}).get("manifest") or {}
        if root in (manifest.get("roots") or []):
            return name, manifest
    return None


def refuse_same_revision(api: OpaApi, bundle: Bundle, push_mode: bool) -> None:
    """Refuse a bundle whose revision OPA already runs with other content: OPA (and
    every decision's ``revision``) could not tell the two apart."""
    seen = api.data(bundle.revision_path)
    if seen != bundle.revision:
        return
    same_revision = (f"OPA at {api.url} already runs revision {bundle.revision} of "
                     f"{bundle.root} with different content; refused: build it with a new "
                     "revision (policypacks build --revision, or commit the change)")
    if push_mode:
        loaded = {p["id"]: p.get("raw", "") for p in api.policies()}
        ours = {k: v for k, v in loaded.items() if k.startswith(bundle.root + "/")}
        differs = ours != bundle.modules or any(
            api.data(path) != document for path, document in folded(bundle.data).items())
        if differs:
            raise OpaError(same_revision)
        return
    active = active_manifest(api, bundle.root)
    digest = str(((active or ("", {}))[1].get("metadata") or {}).get("content_digest") or "")
    if active is not None and digest != bundle.digest:
        raise OpaError(same_revision + f" (active {digest or 'no digest'}, this bundle "
                       f"{bundle.digest or 'no digest'})")


def refuse_same_revision_file(bundle: Bundle, target: Path) -> None:
    """The same check against the file already placed where OPA polls."""
    if not target.is_file():
        return
    try:
        placed = read_bundle(target)
    except (UsageError, OpaError):
        return  # a broken file there is replaced
    if placed.revision == bundle.revision and placed.digest != bundle.digest:
        raise OpaError(f"{target} already holds revision {bundle.revision} with different "
                       "content; refused: build it with a new revision")


def opa_time(value: Any) -> datetime | None:
    """OPA's RFC 3339 timestamps (nanoseconds) as a datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.rstrip("Z")
    whole, _, fraction = text.partition(".")
    try:
        return datetime.fromisoformat(f"{whole}.{(fraction or '0')[:6]:0<6}+00:00")
    except ValueError:
        return None


def activation_error(api: OpaApi, since: datetime) -> str | None:
    """A bundle error OPA reported for a download or activation started after ``since``
    (the new bundle was refused: bad signature, digest mismatch, compile error)."""
    try:
        status = api.status() or {}
    except OpaError:
        return None
    for name, info in sorted((status.get("bundles") or {}).items()):
        if not (info.get("code") or info.get("errors")):
            continue
        when = opa_time(info.get("last_request")) or opa_time(info.get("last_successful_request"))
        if when is not None and when >= since:
            details = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                                for e in info.get("errors") or [])
            return f"bundle {name}: {info.get('message') or info.get('code')}" + (
                f" ({details})" if details and details not in str(info.get("message")) else "")
    return None


def wait_active(api: OpaApi, bundle: Bundle, timeout: float, since: datetime | None = None,
                interval: float = 0.2) -> float:
    """Wait until OPA decides with this bundle; seconds waited.

    Its revision at ``data.<root>.config.revision`` and, when OPA polls it (``since`` is
    when it was placed), the active bundle's content digest; an activation error OPA
    reports after ``since`` ends the wait at once with OPA's message.
    """
    started = time.monotonic()
    if since is None:
        return wait_for_revision(api, bundle, timeout, interval)
    deadline = started + timeout
    while True:
        error = activation_error(api, since)
        if error:
            raise OpaError(f"OPA at {api.url} refused revision {bundle.revision} of "
                           f"{bundle.root}: {error}")
        try:
            seen = api.data(bundle.revision_path)
            active = active_manifest(api, bundle.root) if seen == bundle.revision else None
        except OpaError:
            seen, active = UNDEFINED, None
        if active is not None and (not bundle.digest or str(
                (active[1].get("metadata") or {}).get("content_digest")) == bundle.digest):
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    reports = ("no policypacks revision" if seen is UNDEFINED else f"revision {seen}"
               if seen != bundle.revision else
               f"revision {seen} but other content (active bundle digest "
               f"{str((active or ('', {}))[1].get('metadata', {}).get('content_digest'))})")
    lines = [f"OPA at {api.url} did not activate revision {bundle.revision} of "
             f"{bundle.root} within {timeout:g}s; it reports {reports}"]
    lines += [f"  {problem}" for problem in api.bundle_problems()]
    raise OpaError("\n".join(lines))


def wait_for_revision(api: OpaApi, bundle: Bundle, timeout: float,
                      interval: float = 0.2) -> float:
    """Poll ``data.<root>.config.revision`` until it is the bundle's; seconds waited.

    Unreachable moments count as "not yet" (OPA may be restarting); at the timeout the
    error says which revision OPA does report and what /v1/status knows of its bundles.
    """
    started = time.monotonic()
    deadline = started + timeout
    seen: Any = UNDEFINED
    trouble = ""
    while True:
        try:
            seen = api.data(bundle.revision_path)
            trouble = ""
        except OpaError as exc:
            trouble = str(exc)
        if seen == bundle.revision:
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    active = "no policypacks revision" if seen is UNDEFINED else f"revision {seen}"
    lines = [f"OPA at {api.url} did not report revision {bundle.revision} of "
             f"{bundle.root} within {timeout:g}s; it reports {active}"]
    lines += [f"  {trouble}"] if trouble else []
    lines += [f"  {problem}" for problem in api.bundle_problems()] if not trouble else []
    raise OpaError("\n".join(lines))
