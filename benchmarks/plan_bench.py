"""CPU cost of a session's start: the slicing plan and the statement loading (issue 13).

For every notebook in tests/submissions, starts a real sandboxed session (fork server,
cgroup) and reads the worker's CPU seconds (the kernel's count from its cgroup) around
the two phases, `plan` (op plan) and `statements` (op exec_cell per cell), plus their
wall-clock time in the grader. `--decisions FILE` writes what the plan skipped and what
the report lists, to compare two versions of the code (they must be equal).

Run: `python benchmarks/plan_bench.py --rounds 3` (`--decisions /tmp/d.json` to dump).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from grader.assignment import load_assignment
from grader.checks.base import graded_names
from grader.sandbox.heap import keep_freed_memory
from grader.sandbox.session import StudentSession
from grader.sandbox.slicing import plan_statements
from grader.submission import read_submission

ROOT = Path(__file__).resolve().parent.parent


def one(path: Path, assignment: Any) -> tuple[dict[str, float], dict[str, Any]]:
    """Worker CPU and grader wall of the plan and the statements of one notebook, and its decisions."""
    session = StudentSession(read_submission(path), assignment.sandbox, graded_names=graded_names(assignment))
    session._restart_worker()  # noqa: SLF001 - start() without its phases, to read the CPU between them
    worker = session.worker
    assert worker is not None
    cpu0, wall0 = worker.cpu_seconds(), time.perf_counter()
    session.not_needed = plan_statements(session)
    cpu1, wall1 = worker.cpu_seconds(), time.perf_counter()
    session._load_all()  # noqa: SLF001
    cpu2, wall2 = session.worker.cpu_seconds() if session.worker is worker else None, time.perf_counter()
    session.close()
    if cpu0 is None or cpu1 is None:
        sys.exit("no cgroup CPU count for the worker here (needs the fork server with cpuacct)")
    numbers = {"plan_cpu": cpu1 - cpu0, "plan_wall": wall1 - wall0, "statements_wall": wall2 - wall1}
    if cpu2 is not None:  # None when loading restarted the worker
        numbers["statements_cpu"] = cpu2 - cpu1
    decisions = {
        "skipped": {str(k): sorted(v) for k, v in sorted((session.not_needed or {}).items())},
        "issues": [[i.cell, i.line, i.status, i.message] for i in session.issues.values()],
        "definitions": repr(session.definitions),
    }
    return numbers, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--decisions", help="write each notebook's plan and issues (JSON) here")
    args = parser.parse_args()
    keep_freed_memory()
    assignment = load_assignment()
    paths = sorted((ROOT / "tests" / "submissions").glob("*.ipynb"))
    totals: dict[str, list[float]] = {}
    decisions: dict[str, Any] = {}
    for _ in range(args.rounds):
        round_totals: dict[str, float] = {}
        for path in paths:
            numbers, decisions[path.name] = one(path, assignment)
            for key, value in numbers.items():
                round_totals[key] = round_totals.get(key, 0.0) + value
        for key, value in round_totals.items():
            totals.setdefault(key, []).append(value / len(paths))
    print(f"{len(paths)} notebooks, {args.rounds} rounds; per submission (median of rounds):")
    for key in ("plan_cpu", "statements_cpu", "plan_wall", "statements_wall"):
        if key in totals:
            print(f"  {key:16s} {statistics.median(totals[key]) * 1000:7.2f} ms")
    if args.decisions:
        Path(args.decisions).write_text(json.dumps(decisions, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
