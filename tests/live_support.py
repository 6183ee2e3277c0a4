"""Helpers for the tests that run OPA for real: bundles that differ by revision and
cap, OPA configurations polling a bundle server, and asking OPA for a decision."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml
from support import agent, identity, pack, write_repo

from policypacks.bundle import write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.pipeline import compile_path


@contextmanager
def serving(tmp: Path, documents: list[dict[str, Any]], revision: str) -> Iterator[LocalOpa]:
    """A real OPA server with the bundle of these documents loaded (written under tmp)."""
    bundle = tmp / "bundle.tar.gz"
    write_bundle(compile_path(write_repo(tmp / "repo", documents), revision)[1], bundle)
    with LocalOpa(bundles=[bundle]) as server:
        yield server


SPEND_40 = {"agent": "sales-bot", "action": {"type": "spend", "amount": 40}}


def bundle_file(tmp_path: Path, revision: str, cap: int = 100,
                enforcement: str = "block", identity_id: str = "acme",
                extra: list[dict[str, Any]] | None = None) -> Path:
    """A bundle whose sales-bot may spend ``cap`` a day: 40 is allowed under cap 100 and
    refused under cap 10, so two revisions give two different decisions."""
    rule = {"id": "daily", "type": "spending_limit", "max": cap, "period": "day"}
    docs = [identity(identity_id), pack("ops-caps", enforcement, [rule]),
            agent("sales-bot"), *(extra or [])]
    root = write_repo(tmp_path / f"repo-{revision}", docs)
    path = tmp_path / f"bundle-{revision}.tar.gz"
    write_bundle(compile_path(root, revision)[1], path)
    return path


def polling_config(path: Path, service_url: str, resource: str = "acme.tar.gz",
                   min_delay: int = 1, max_delay: int = 2) -> Path:
    """An OPA config like opa-config/config.yaml, polling fast enough for a test."""
    config = {
        "services": {"bundle-service": {"url": service_url}},
        "bundles": {"policypacks": {
            "service": "bundle-service", "resource": resource,
            "polling": {"min_delay_seconds": min_delay, "max_delay_seconds": max_delay}}},
        "status": {"prometheus": True},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def decide(url: str, input_doc: dict[str, Any], identity_path: str = "acme") -> dict[str, Any]:
    answer = requests.post(f"{url}/v1/data/policypacks/{identity_path}/decision",
                           json={"input": input_doc}, timeout=5)
    answer.raise_for_status()
    return answer.json()["result"]
