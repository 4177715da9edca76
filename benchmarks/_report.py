"""The results: a table of targets (measured, pass/fail) and of every candidate, JSON
with every round, and a bar chart (SVG; matplotlib when available, else drawn here)."""

from __future__ import annotations

import html
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._servers import ServerResult
from ._timing import Measured

__all__ = [
    "Bar",
    "Target",
    "baseline_per_group",
    "derived",
    "load_note",
    "print_tables",
    "write_chart",
    "write_json",
]

#: The baseline's name in every group (``_fixtures.rsa_baseline``).
BASELINE = "raw RSA verify"
#: A spread of the baseline between groups beyond this says the machine's load changed.
BUSY_SPREAD = 1.2


@dataclass
class Target:
    """One promise: what was wanted, what was measured, and whether it held."""

    name: str
    goal: str
    measured: str
    ok: bool


@dataclass
class Bar:
    """One bar of the chart (a ratio to the raw RSA verify)."""

    group: str
    label: str
    ratio: float
    ours: bool
    target: float | None = None


def derived(plus: Sequence[Measured], minus: Sequence[Measured], base: Measured) -> list[float]:
    """Per round: (sum of ``plus`` − sum of ``minus``) / baseline, for differences of
    candidates measured in the same rounds."""
    rounds = len(base.ns)
    return [
        (sum(m.ns[r] for m in plus) - sum(m.ns[r] for m in minus)) / base.ns[r]
        for r in range(rounds)
    ]


def baseline_per_group(groups: dict[str, dict[str, Measured]]) -> dict[str, float]:
    """The raw RSA verify's median in each group, in µs: the same work every time, so
    its spread between groups is how much the machine's speed moved during the run."""
    return {
        name: round(group[BASELINE].median_ns / 1000, 2)
        for name, group in groups.items()
        if BASELINE in group
    }


def load_note(per_group: dict[str, float]) -> str | None:
    """One line on the baseline's spread between groups, with a warning when it is wide
    (``None`` with fewer than two groups)."""
    if len(per_group) < 2:
        return None
    low, high = min(per_group.values()), max(per_group.values())
    line = f"raw RSA verify, per group: {low:.1f}–{high:.1f} µs"
    if high > low * BUSY_SPREAD:
        line += (
            " (the machine's load changed during the run: ratios of Python code rise with"
            " it; ours ÷ the minimal verifier, measured in the same rounds, is steadier)"
        )
    return line


def print_tables(
    targets: list[Target], groups: dict[str, dict[str, Measured]], notes: list[str]
) -> None:
    print()
    print("Every figure: time per call / one raw RSA-2048 verify, median of the rounds.")
    for title, measured in groups.items():
        print()
        print(f"== {title}")
        width = max(len(n) for n in measured) + 2
        for name, m in measured.items():
            lo, hi = m.spread
            note = f"  ({m.note})" if m.note else ""
            print(
                f"  {name:<{width}} {m.ratio:8.3f}×  [{lo:.3f}–{hi:.3f}]"
                f"  {m.median_ns / 1000:9.2f} µs{note}"
            )
    print()
    print("== Targets")
    width = max(len(t.name) for t in targets) + 2
    gwidth = max(len(t.goal) for t in targets) + 2
    for t in targets:
        print(
            f"  {t.name:<{width}} {t.goal:<{gwidth}} {t.measured:<28} {'PASS' if t.ok else 'FAIL'}"
        )
    if notes:
        print()
        for note in notes:
            print(f"  note: {note}")


def write_json(
    path: Path,
    meta: dict[str, Any],
    targets: list[Target],
    groups: dict[str, dict[str, Measured]],
    servers: list[ServerResult],
    notes: list[str],
) -> None:
    data = {
        "meta": meta,
        "targets": [t.__dict__ for t in targets],
        "groups": {
            title: {
                name: {
                    "ratio": m.ratio,
                    "spread": m.spread,
                    "median_ns": m.median_ns,
                    "note": m.note,
                    "ratios": m.ratios,
                    "ns": m.ns,
                }
                for name, m in measured.items()
            }
            for title, measured in groups.items()
        },
        "servers": [
            {
                "server": s.server,
                "client": s.client,
                "ratio": s.ratio,
                "open_rps": s.open_rps,
                "protected_rps": s.protected_rps,
                "non_2xx_share": s.non_2xx_share,
                "median_open_rps": statistics.median(s.open_rps),
                "median_protected_rps": statistics.median(s.protected_rps),
            }
            for s in servers
        ],
        "notes": notes,
    }
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


_OURS, _PEER, _TARGET = "#2b6cb0", "#a0aec0", "#c53030"


def write_chart(path: Path, bars: list[Bar], title: str) -> None:
    """A horizontal bar chart, log scale, ours in blue, targets as red ticks."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        path.write_text(_svg_by_hand(bars, title), encoding="utf-8")
        return
    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["svg.hashsalt"] = "clerk-auth"  # stable ids: a diffable file
    labels = [f"{b.label}" for b in bars]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(bars) + 1.6))
    y = list(range(len(bars)))[::-1]
    ax.barh(y, [b.ratio for b in bars], color=[_OURS if b.ours else _PEER for b in bars])
    for yi, b in zip(y, bars, strict=True):
        ax.text(b.ratio * 1.08, yi, f"{b.ratio:.3g}×", va="center", fontsize=8)
        if b.target is not None:
            ax.plot([b.target, b.target], [yi - 0.42, yi + 0.42], color=_TARGET, lw=2)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="#2d3748", lw=0.8, ls="--")
    ax.set_xlabel("time per call ÷ one raw RSA-2048 verify (log scale; red tick: target)")
    ax.set_title(title, fontsize=10)
    groups = [b.group for b in bars]
    for i in range(1, len(bars)):
        if groups[i] != groups[i - 1]:
            ax.axhline(y[i] + 0.5, color="#e2e8f0", lw=1)
    ax.set_xlim(min(b.ratio for b in bars) / 2, max(b.ratio for b in bars) * 3)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def _svg_by_hand(bars: list[Bar], title: str) -> str:
    left, width, row = 330, 520, 20
    lo = math.log10(min(b.ratio for b in bars) / 2)
    hi = math.log10(max(b.ratio for b in bars) * 3)

    def x(v: float) -> float:
        return left + (math.log10(v) - lo) / (hi - lo) * width

    height = 40 + row * len(bars) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="13">{html.escape(title)}</text>',
    ]
    for i, b in enumerate(bars):
        top = 30 + i * row
        color = _OURS if b.ours else _PEER
        out.append(
            f'<text x="{left - 6}" y="{top + 13}" text-anchor="end">{html.escape(b.label)}</text>'
        )
        out.append(
            f'<rect x="{left}" y="{top + 3}" width="{x(b.ratio) - left:.1f}" height="{row - 6}" '
            f'fill="{color}"/>'
        )
        out.append(f'<text x="{x(b.ratio) + 4:.1f}" y="{top + 13}">{b.ratio:.3g}×</text>')
        if b.target is not None:
            tx = x(b.target)
            out.append(
                f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top + 1}" y2="{top + row - 1}" '
                f'stroke="{_TARGET}" stroke-width="2"/>'
            )
    one = x(1.0)
    out.append(
        f'<line x1="{one:.1f}" x2="{one:.1f}" y1="28" y2="{30 + row * len(bars)}" '
        'stroke="#2d3748" stroke-dasharray="4 3"/>'
    )
    out.append(
        f'<text x="{left}" y="{height - 8}">time per call ÷ one raw RSA-2048 verify '
        "(log scale; red tick: target)</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"
