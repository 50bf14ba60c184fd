"""Cost of the learning check (`network-learns`) per submission, in one grader process.

Usage: python benchmarks/learning_bench.py [SUBMISSION ...] [--runs N]

Loads each submission once in a sandbox worker, then times the check alone, N times (the
first grading of a process also reads the digits file: reported separately). Prints wall
time and the grader process's CPU time per run; the budget is 0.5 s per submission.
Quote `uptime` with the numbers: the machine is shared.
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
from grader.learning_data import digits
from grader.sandbox.session import StudentSession
from grader.submission import read_submission

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT / "tests" / "submissions" / f"{name}.ipynb" for name in ("reference", "correct_float32", "train_skips_layer", "relu_wrong")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="*", default=[str(p) for p in DEFAULT])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    assignment = load_assignment()
    spec = assignment.check("network-learns")
    start = time.perf_counter()
    digits()
    print(f"reading the digits (once per process): {1e3 * (time.perf_counter() - start):.1f} ms")
    for path in args.submissions:
        session = StudentSession(read_submission(path), assignment.sandbox)
        session.start()
        walls, cpus, result = [], [], None
        try:
            for _ in range(args.runs):
                ctx = CheckContext(session, assignment, spec, np.random.default_rng(0), 0)
                wall, cpu = time.perf_counter(), time.process_time()
                result = run_check(ctx)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        finally:
            session.close()
        print(f"{Path(path).name:32s} {result.score:g}/{result.max_score:g}  wall median {1e3 * statistics.median(walls):6.1f} ms "
              f"(min {1e3 * min(walls):.1f}, max {1e3 * max(walls):.1f})  grader CPU median {1e3 * statistics.median(cpus):6.1f} ms")


if __name__ == "__main__":
    main()
