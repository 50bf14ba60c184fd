"""Time `grade SUBMISSION` end to end, as a user runs it (a subprocess per run).

Usage: python benchmarks/grade_one.py [SUBMISSION] [--runs N] [--format text|json] [--check]
Prints every run's wall time and the median; the target for one submission is ≤ 1.0 s.
`--check` times the student's `grade check` instead, from a bundle released once beforehand
(not timed) into a temporary folder, on a correct notebook by default.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"
CORRECT = ROOT / "tests" / "submissions" / "reference.ipynb"


def grade_command() -> list[str]:
    exe = shutil.which("grade", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "grader.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submission", nargs="?", default=None)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--format", default="json")
    parser.add_argument("--check", action="store_true", help="time `grade check` from a released bundle")
    args = parser.parse_args()
    submission = args.submission or str(CORRECT if args.check else DEFAULT)
    command = [*grade_command(), submission, "--format", args.format]
    if args.check:
        bundle = tempfile.mkdtemp(prefix="grade-one-bundle-")
        subprocess.run([*grade_command(), "release", "--out", bundle], check=True, capture_output=True, cwd=ROOT)
        command = [*grade_command(), "check", submission, "--bundle", bundle, "--format", args.format]
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"grade failed ({result.returncode}): {result.stderr.strip()}")
    print(f"{'grade check' if args.check else 'grade'}: {Path(submission).name}")
    print("runs (s):  " + " ".join(f"{t:.3f}" for t in times))
    print(f"median:    {statistics.median(times):.3f} s   min {min(times):.3f} s   max {max(times):.3f} s")


if __name__ == "__main__":
    main()
