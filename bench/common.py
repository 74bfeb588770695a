"""Shared by the benchmarks: percentiles, resident memory, Markdown tables."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

median = statistics.median


def pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; enough for the few dozen samples a benchmark takes."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; numbers right-aligned."""
    def align(cells):
        return ["---:" if isinstance(c, (int, float)) or str(c)[:1].isdigit() else "---" for c in cells]

    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join(align(rows[0]) if rows else ["---"] * len(header)) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
