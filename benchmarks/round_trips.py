"""Round trips and grader-process CPU per grading, in-process and sequential.

Why: each request/reply round trip to the sandboxed worker costs wake-ups and per-request
Python in the grader; this counts them (the report's `requests`), the grader's own CPU
seconds (`time.process_time`), the part of them spent in the checks that batch their calls
(every check but the timing benchmark and network-learns, whose cost is their own work), and
the workers' CPU seconds (the report's `worker-cpu`), over real submissions.

    GRADER_LOCK_FILE=/tmp/rt.lock .venv/bin/python benchmarks/round_trips.py --n 10
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

from grader.assignment import load_assignment
from grader.engine import grade_file
from grader.sandbox.heap import keep_freed_memory

SUBMISSIONS = Path(__file__).resolve().parent.parent / "tests" / "submissions"
UNBATCHED = ("check:dense-timing", "check:network-learns")
"""Checks whose cost is their own work (timing rounds, training), not round trips."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="notebooks from tests/submissions (sorted by name)")
    parser.add_argument("--batched-only", action="store_true", help="leave out the timing and network-learns checks (their own work is most of the noise)")
    args = parser.parse_args()
    keep_freed_memory()
    assignment = load_assignment()
    if args.batched_only:
        assignment = dataclasses.replace(assignment, checks=tuple(c for c in assignment.checks if f"check:{c.name}" not in UNBATCHED))
    paths = sorted(SUBMISSIONS.glob("*.ipynb"))[: args.n]
    grade_file(paths[0], assignment)  # warm-up: imports, fork server
    rows = []
    for path in paths:
        before = time.process_time()
        report = grade_file(path, assignment)
        cpu = time.process_time() - before
        phases, counts = report.profile["phases"], report.profile["counts"]
        checks = sum(v["cpu"] for k, v in phases.items() if k.startswith("check:") and k not in UNBATCHED)
        rows.append((counts.get("requests", 0), cpu, checks, counts.get("worker-cpu", 0.0)))
        print(f"{path.name:45s} requests {rows[-1][0]:5.0f}  grader cpu {cpu:.3f} s  (batched checks {checks:.4f} s)  worker cpu {rows[-1][3]:.3f} s")
    means = [statistics.mean(column) for column in zip(*rows)]
    print(f"mean over {len(paths)}: requests {means[0]:.1f}, grader cpu {means[1]:.3f} s, of which batched checks {means[2]:.4f} s, worker cpu {means[3]:.3f} s")


if __name__ == "__main__":
    main()
