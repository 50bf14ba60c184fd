"""Cheap per-phase counters for one grading run (no profiler): where the seconds go.

`Profile.phase(name)` adds the wall-clock (perf_counter) and this process's CPU seconds
(process_time) spent inside it; the sandbox workers' own CPU seconds are added by the
session when it closes them. The totals land in the report's JSON under `profile`, which
`benchmarks/batch_bench.py` sums over a class.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["Profile"]


class Profile:
    """Accumulated {phase: {"wall": s, "cpu": s}} plus plain counters (requests, workers...)."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}
        self.counts: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - wall, time.process_time() - cpu)

    def add(self, name: str, wall: float, cpu: float) -> None:
        entry = self.phases.setdefault(name, {"wall": 0.0, "cpu": 0.0})
        entry["wall"] += wall
        entry["cpu"] += cpu

    def count(self, name: str, amount: float = 1.0) -> None:
        self.counts[name] = self.counts.get(name, 0.0) + amount

    def to_dict(self) -> dict[str, Any]:
        phases = {k: {"wall": round(v["wall"], 5), "cpu": round(v["cpu"], 5)} for k, v in self.phases.items()}
        return {"phases": phases, "counts": {k: round(v, 5) for k, v in self.counts.items()}}
