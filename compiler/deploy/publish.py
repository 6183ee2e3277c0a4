"""Step 5 of the pipeline: get a built bundle to OPA, and wait until OPA uses it.

Two ways, both reading only the bundle file (what CI built is what is published):

* push (``--opa URL``): the bundle's modules go to ``PUT /v1/policies/<path>`` and its
  data documents to ``PUT /v1/data/<path>``. Unchanged modules are not sent again and
  the data goes last: as the generated Rego is fixed per compiler version, a typical
  publish is a single data write, which OPA applies atomically.
* directory (``--to DIR``): the file is renamed into place (never half written) where a
  static server lets OPA's bundle polling fetch it; OPA swaps bundles atomically.

Either way "published" means OPA reports the bundle's revision at
``data.<root>.config.revision`` (what every decision carries), not that a file moved.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bundle import write_atomically
from ..errors import OpaError, UsageError
from .api import UNDEFINED, OpaApi


@dataclass(frozen=True)
class Bundle:
    path: Path
    raw: bytes
    manifest: dict[str, Any]
    modules: dict[str, str]  # bundle path (no leading /) -> Rego source
    data: dict[str, Any]  # data path, e.g. "policypacks/acme/config" -> document

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

    A ``.signatures.json`` is ignored: OPA verifies signatures when it downloads a
    bundle (``--to``); a push over the REST API cannot carry one.
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
    return Bundle(path, raw, manifest, modules, data)


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
        for data_path, document in sorted(bundle.data.items()):
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
