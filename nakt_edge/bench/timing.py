"""Latency measurement: warm-up, then runs until both a minimum time and a minimum count are reached.

Percentiles are taken over individual runs (milliseconds); the caller fixes threads and inputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    std_ms: float
    runs: int
    warmup: int

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def time_callable(fn: Callable[[], object], *, warmup: int = 3, min_time_s: float = 1.0, min_runs: int = 10,
                  max_runs: int = 10_000) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then at least ``min_runs`` calls and ``min_time_s`` seconds."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < max_runs and (len(samples) < min_runs or time.perf_counter() - started < min_time_s):
        tick = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - tick) * 1000.0)
    array = np.asarray(samples)
    return Timing(float(np.percentile(array, 50)), float(np.percentile(array, 95)), float(np.percentile(array, 99)),
                  float(array.mean()), float(array.std()), len(samples), warmup)
