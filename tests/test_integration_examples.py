"""The runnable examples of docs/integrations/ run, against packs/ in a real OPA, and
print what their pages say they print."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from policypacks.bundle import write_bundle
from policypacks.deploy.sidecar import LocalOpa
from policypacks.pipeline import compile_path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "integrations"


@pytest.fixture(scope="module")
def opa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOpa]:
    bundle = tmp_path_factory.mktemp("examples") / "bundle.tar.gz"
    write_bundle(compile_path(ROOT / "packs", "examples")[1], bundle)
    with LocalOpa(bundles=[bundle]) as server:
        yield server


# (example, lines its output must contain)
EXPECTED = [
    ("guard_agent.py", ["(gmail) to jane@example.com: 'Hi Jane, your replacement ships today."
                        "\\n-- The Acme Team'", "(stripe) refund 4000 cents on ch_1",
                        "refused: block: No refunds over $100"]),
    ("langchain_agent.py", ["2000 cents: charged 2000 usd", "9000 cents: approval",
                            "9000 cents: charged 9000 usd"]),
    ("openai_agents_agent.py", ["4000 cents: allow",
                                "15000 cents: block compliance/no-large-refunds"]),
    ("mcp_client.py", ["listed: ['read_file', 'write_file']",
                       "write_file /srv/shared/report.csv: wrote 8 characters",
                       "read_file /srv/shared/report.csv: a,b",
                       "write_file /etc/passwd: REFUSED",
                       "delete_file /srv/shared/report.csv: REFUSED"]),
]


@pytest.mark.parametrize("example, lines", EXPECTED, ids=[e for e, _ in EXPECTED])
def test_example_runs(example: str, lines: list[str], opa: LocalOpa, tmp_path: Path) -> None:
    env = {**os.environ, "POLICYPACKS_OPA_URL": opa.url,
           "POLICYPACKS_STORE": f"sqlite:///{tmp_path / 'agent.db'}"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / example)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    missing = [line for line in lines if line not in proc.stdout]
    assert not missing, f"missing {missing} in:\n{proc.stdout}\n{proc.stderr}"
