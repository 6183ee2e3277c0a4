"""What the benchmark scripts share: ABAB interleaving, medians and spread, the Go load
generator, OPA servers and their memory. Every number is a ratio against a baseline
measured in the same run, on the same machine, interleaved with it."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))


def interleaved(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run each variant once per round, in ABAB order (ABC ABC ...), so drift in the
    machine's load hits every variant alike; each call returns one sample."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            samples[name].append(measure())
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float]) -> str:
    """min-max around the median, as a percentage: how far to trust it."""
    mid = statistics.median(values)
    if not mid:
        return "n/a"
    return f"-{(mid - min(values)) / mid:.0%}/+{(max(values) - mid) / mid:.0%}"


def ratio_summary(samples: dict[str, list[float]], base: str) -> dict[str, float]:
    """Per variant: the median of its per-round ratios to `base` (paired by round)."""
    return {name: median([v / b for v, b in zip(values, samples[base], strict=True)])
            for name, values in samples.items()}


@cache
def loadgen() -> str:
    """The Go load generator (benchmarks/loadgen), built once (standard library only)."""
    out = Path(tempfile.gettempdir()) / "policypacks-loadgen"
    go = shutil.which("go")
    if go is None:
        raise SystemExit("benchmarks need `go` to build benchmarks/loadgen")
    subprocess.run([go, "build", "-o", str(out), "."], cwd=HERE / "loadgen", check=True,
                   env={**_env(), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"})
    return str(out)


def _env() -> dict[str, str]:
    import os
    return dict(os.environ)


def load(url: str, bodies: list[Any], clients: int, seconds: float,
         workdir: Path) -> dict[str, float]:
    """One loadgen run: {requests, throughput, p50_us, p99_us}."""
    path = workdir / f"bodies-{abs(hash(json.dumps(bodies, sort_keys=True)))}.json"
    if not path.exists():
        path.write_text(json.dumps(bodies))
    proc = subprocess.run([loadgen(), "-url", url, "-bodies", str(path), "-c", str(clients),
                           "-d", f"{seconds}s", "-warmup", "200ms"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"loadgen failed: {proc.stderr.strip()}")
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n## {title}")
    widths = [max(len(str(x)) for x in [h, *[r[i] for r in rows]]) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)), flush=True)


# The rules of pack *index* in the generated scaling repositories (loader, scaling).
def rules(index: int) -> list[dict[str, Any]]:
    return [
        {"id": "day", "type": "spending_limit", "max": 100 + index, "period": "day"},
        {"id": "tx", "type": "spending_limit", "max": 500, "period": "transaction",
         "enforcement": "block"},
        {"id": "topics", "type": "prohibited_topics",
         "topics": {f"topic-{index}": [f"secret{index}", "lawsuit"]}},
        {"id": "refunds", "type": "condition", "message": "no refunds over $100",
         "when": {"all": [{"field": "action.type", "equals": "refund"},
                          {"field": "action.amount", "gt": 100}]}},
    ]
