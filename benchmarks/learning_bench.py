"""Cost of the learning check (`network-learns`) per submission, in one grader process.

Usage: python benchmarks/learning_bench.py [SUBMISSION ...] [--runs N]

Loads each submission once in a sandbox worker, then times the check alone, N times (the
first grading of a process also reads the digits file: reported separately). Prints wall
time, the grader process's CPU time and the student worker's CPU time (the kernel's count for
its cgroup) per run, and their sum: CPU is what limits `grade batch` on a shared machine, wall
time is noisy there. Quote `uptime` with the numbers: the machine is shared.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from grader.assignment import load_assignment
from grader.checks import CheckContext
from grader.engine import run_check
from grader.checks.learning.data import digits
from grader.sandbox.heap import keep_freed_memory
from grader.sandbox.session import StudentSession
from grader.submission import read_submission

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT / "tests" / "submissions" / f"{name}.ipynb" for name in ("reference", "correct_float32", "train_skips_layer", "relu_wrong")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="*", default=[str(p) for p in DEFAULT])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    keep_freed_memory()  # as grading processes do
    assignment = load_assignment()
    spec = assignment.check("network-learns")
    start = time.perf_counter()
    digits()
    print(f"reading the digits (once per process): {1e3 * (time.perf_counter() - start):.1f} ms")
    for path in args.submissions:
        session = StudentSession(read_submission(path), assignment.sandbox)
        session.start()
        walls, cpus, workers, result = [], [], [], None
        try:
            for _ in range(args.runs):
                ctx = CheckContext(session, assignment, spec, np.random.default_rng(0), 0)
                worker = session.worker.cpu_seconds() if session.worker is not None else None
                wall, cpu = time.perf_counter(), time.process_time()
                result = run_check(ctx)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
                after = session.worker.cpu_seconds() if session.worker is not None else None
                workers.append(after - worker if after is not None and worker is not None else float("nan"))
        finally:
            session.close()
        print(f"{Path(path).name:32s} {result.score:g}/{result.max_score:g}  wall median {1e3 * statistics.median(walls):6.1f} ms "
              f"(min {1e3 * min(walls):.1f})  CPU median: grader {1e3 * statistics.median(cpus):5.1f} ms, "
              f"worker {1e3 * statistics.median(workers):5.1f} ms, total {1e3 * statistics.median(c + w for c, w in zip(cpus, workers)):5.1f} ms")


if __name__ == "__main__":
    main()
