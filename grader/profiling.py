"""Cheap per-phase counters for one grading run (no profiler): where the seconds go.

`Profile.phase(name)` adds the wall-clock (perf_counter), this process's CPU seconds
(process_time) and, where the session gives a `worker_clock`, the student's worker's CPU
seconds (its cgroup's count) spent inside it: most of a grading's CPU is the worker's, so a
breakdown without it would hide where the time goes. The workers' whole CPU seconds are
also counted when the session closes them. The totals land in the report's JSON under
`profile`, which `benchmarks/batch_bench.py` sums over a class.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = ["Profile"]


class Profile:
    """Accumulated {phase: {"wall": s, "cpu": s, "worker": s}} plus plain counters (requests, workers...)."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}
        self.counts: dict[str, float] = {}
        self.worker_clock: Callable[[], tuple[int, float] | None] = lambda: None
        """(which worker, its CPU seconds) or None without a count; the session sets it."""

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        wall, cpu, worker = time.perf_counter(), time.process_time(), self.worker_clock()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - wall, time.process_time() - cpu, _worker_spent(worker, self.worker_clock()))

    def add(self, name: str, wall: float, cpu: float, worker: float | None = None) -> None:
        entry = self.phases.setdefault(name, {"wall": 0.0, "cpu": 0.0})
        entry["wall"] += wall
        entry["cpu"] += cpu
        if worker is not None:
            entry["worker"] = entry.get("worker", 0.0) + worker

    def count(self, name: str, amount: float = 1.0) -> None:
        self.counts[name] = self.counts.get(name, 0.0) + amount

    def to_dict(self) -> dict[str, Any]:
        phases = {k: {key: round(value, 5) for key, value in v.items()} for k, v in self.phases.items()}
        return {"phases": phases, "counts": {k: round(v, 5) for k, v in self.counts.items()}}


def _worker_spent(before: tuple[int, float] | None, after: tuple[int, float] | None) -> float | None:
    """CPU seconds the worker spent between two readings; a worker replaced in between
    (a crash, a replay) counts from its own start."""
    if after is None:
        return None
    if before is None or before[0] != after[0]:
        return after[1]
    return max(0.0, after[1] - before[1])
