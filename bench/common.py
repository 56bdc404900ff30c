"""Shared helpers of the benchmarks."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any


def emit(name: str, value: float, unit: str, baseline: float | None = None, **extra: Any) -> None:
    """Print one figure as a JSON line; ``ratio`` is value / baseline when there is one."""
    ratio = round(value / baseline, 4) if baseline else None
    row = {"name": name, "value": round(value, 2), "unit": unit,
           "baseline": round(baseline, 2) if baseline is not None else None, "ratio": ratio, **extra}
    print(json.dumps(row, ensure_ascii=False), flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call takes (perf_counter), and its result."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def best_of(runs: int, fn: Callable[[], float]) -> float:
    """Best (highest) rate of several runs: the least disturbed by other load on the machine."""
    return max(fn() for _ in range(runs))


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
