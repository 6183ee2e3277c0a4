"""The scaling plot of docs/benchmarks.md: decision cost and build time against the size
of the repository (needs matplotlib: `pip install -e '.[bench]'`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_scaling(cells: dict[str, dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted({tuple(int(x) for x in key.split("x")) for key in cells})
    packs = sorted({p for _, p in sizes})
    fig, (cost_ax, build_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for p in packs:
        agents = [a for a, q in sizes if q == p]
        cost_ax.plot(agents, [cells[f"{a}x{p}"]["eval_us"] for a in agents], marker="o",
                     label=f"{p:,} packs")
        build_ax.plot(agents, [cells[f"{a}x{p}"]["build_s"] for a in agents], marker="o",
                      label=f"{p:,} packs")
    cost_ax.set(xscale="log", xlabel="agents", ylabel="decision eval, median (us)",
                title="Decision cost", ylim=(0, None))
    build_ax.set(xscale="log", yscale="log", xlabel="agents", ylabel="build (s)",
                 title="Build time (validate + compile + bundle)")
    for ax in (cost_ax, build_ax):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)
