"""Timing in alternating rounds, for the benchmarks: no framework imported, so the timm side
(benchmarks/timm_speed_worker.py) can use it without TensorFlow."""

from __future__ import annotations

import statistics
import time


def alternate(variants: dict, rounds: int) -> dict:
    """Median seconds per call of each variant: one untimed call each, then `rounds` rounds that
    call each variant once in turn."""
    for fn in variants.values():
        fn()
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
