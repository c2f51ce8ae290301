"""Printing figures: the median of the rounds with their min and max, and a record of every
figure for run.py's closing table (``MEDIALOOM_BENCH_RECORD`` names a JSON-lines file)."""

from __future__ import annotations

import json
import os
from typing import Any

from benchmarks.common import P99_MIN_SAMPLES, median_min_max, p99, pct

RECORD_ENV = "MEDIALOOM_BENCH_RECORD"


def fmt(v: float) -> str:
    """A number with as many digits as it deserves; n/a for nan."""
    if v != v:
        return "n/a"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def spread(values: list[float], unit: str = "") -> str:
    """'median unit [min-max]' over rounds (just the value for one round)."""
    med, lo, hi = median_min_max(values)
    unit = f" {unit}" if unit else ""
    if len(values) < 2 or med != med:
        return f"{fmt(med)}{unit}"
    return f"{fmt(med)}{unit} [{fmt(lo)}-{fmt(hi)}]"


def record(who: str, label: str, unit: str, values: list[float], target: str = "") -> None:
    """Add one figure to the run's record (when run.py asked for one)."""
    path = os.environ.get(RECORD_ENV)
    if not path:
        return
    med, lo, hi = median_min_max(values)
    row: dict[str, Any] = {"who": who, "label": label, "unit": unit, "median": med, "min": lo,
                           "max": hi, "rounds": len(values), "target": target}
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


def show(who: str, label: str, values: list[float], unit: str, *, target: str = "",
         note: str = "") -> None:
    """Print and record one figure measured in each round."""
    tail = f"   ({note})" if note else ""
    aim = f"   [target {target}]" if target else ""
    print(f"{who:6} {label}: {spread(values, unit)}{tail}{aim}", flush=True)
    record(who, label, unit, values, target)


def show_latency(who: str, label: str, rounds: list[list[float]], *, p50_target: str = "",
                 p99_target: str = "", note: str = "") -> None:
    """Print and record p50 and p99 (ms) of each round's samples; p99 only over enough."""
    p50s = [pct(r, 50) for r in rounds]
    p99s = [p99(r) for r in rounds]
    counts = [len(r) for r in rounds]
    least = min(counts) if counts else 0
    p99_text = spread(p99s, "ms")
    if least < P99_MIN_SAMPLES:
        worst = max((max(r) for r in rounds if r), default=float("nan"))
        p99_text = (f"n/a (a round had {least:,} samples < {P99_MIN_SAMPLES:,}; "
                    f"max {fmt(worst)} ms)")
    aim = ", ".join(t for t in (p50_target and f"p50 {p50_target}",
                                p99_target and f"p99 {p99_target}") if t)
    extra = f"; {note}" if note else ""
    print(f"{who:6} {label}: p50 {spread(p50s, 'ms')}, p99 {p99_text}   "
          f"({least:,}+ samples per round{extra})" + (f"   [target {aim}]" if aim else ""),
          flush=True)
    record(who, f"{label}, p50", "ms", p50s, p50_target)
    record(who, f"{label}, p99", "ms", p99s if least >= P99_MIN_SAMPLES else [], p99_target)


def show_ratio(label: str, ours: list[float], theirs: list[float], *, target: str = "") -> None:
    """Print and record ours/theirs per round (rounds are interleaved, so paired)."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True) if b and b == b and a == a]
    show("ratio", label, ratios, "x", target=target, note="per round, paired")
