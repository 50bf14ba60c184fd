"""Round trips and grader-process CPU per grading, in-process and sequential.

Why: each request/reply round trip to the sandboxed worker costs wake-ups and per-request
Python in the grader; this counts them (the report's `requests`) and the grader's own CPU
seconds (`time.process_time`, worker CPU excluded) over a few real submissions.

    GRADER_LOCK_FILE=/tmp/rt.lock .venv/bin/python benchmarks/round_trips.py --n 10
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from grader.engine import grade_file
from grader.sandbox.heap import keep_freed_memory

SUBMISSIONS = Path(__file__).resolve().parent.parent / "tests" / "submissions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="notebooks from tests/submissions (sorted by name)")
    args = parser.parse_args()
    keep_freed_memory()
    paths = sorted(SUBMISSIONS.glob("*.ipynb"))[: args.n]
    grade_file(paths[0])  # warm-up: imports, fork server
    requests, cpu = [], []
    for path in paths:
        before = time.process_time()
        report = grade_file(path)
        cpu.append(time.process_time() - before)
        requests.append(report.profile["counts"].get("requests", 0))
        print(f"{path.name:45s} requests {requests[-1]:5.0f}  grader cpu {cpu[-1]:.3f} s")
    print(f"mean over {len(paths)}: requests {statistics.mean(requests):.1f}, grader cpu {statistics.mean(cpu):.3f} s (median {statistics.median(cpu):.3f} s)")


if __name__ == "__main__":
    main()
