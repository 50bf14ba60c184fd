"""Time `grade batch` on a synthetic class of N submissions.

The class is a mix of correct and buggy notebooks from tests/submissions/, each copy made
unique (a comment naming the student in its first code cell), so every file has its own
content hash and nothing is reused. The whole `grade batch` command is timed, as an
instructor would run it: start-up, discovery, grading (timing benchmark included, when
the rubric has it), per-student JSON/HTML, gradebook and summary.

    python benchmarks/batch_bench.py --n 1000            # default: all cores
    python benchmarks/batch_bench.py --n 200 --jobs 2 --keep /tmp/class200
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"

# Slow on purpose (sandbox timeouts, memory limit): a real class has a few, not one in twenty.
SLOW = {"timeout", "memory_limit"}


def build_class(target: Path, n: int, include_slow: bool) -> dict[str, int]:
    """Write N unique notebooks into `target`; returns how many copies of each source."""
    sources = sorted(p for p in SUBMISSIONS.glob("*.ipynb") if include_slow or p.stem not in SLOW)
    correct = [p for p in sources if p.stem.startswith("correct") or p.stem == "reference"]
    buggy = [p for p in sources if p not in correct]
    # About half the class correct, half with one of the catalogued mistakes.
    order = [correct[i // 2 % len(correct)] if i % 2 == 0 else buggy[i // 2 % len(buggy)] for i in range(n)]
    target.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for i, source in enumerate(order):
        notebook = json.loads(source.read_text())
        cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
        text = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cell["source"] = f"# student {i:05d}, copy of {source.stem}\n" + text
        (target / f"student{i:05d}.ipynb").write_text(json.dumps(notebook))
        counts[source.stem] = counts.get(source.stem, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="class size (default: 200)")
    parser.add_argument("--jobs", type=int, default=None, help="passed to grade batch --jobs (default: all cores)")
    parser.add_argument("--include-slow", action="store_true", help="also copy the timeout and memory-limit notebooks")
    parser.add_argument("--keep", metavar="DIR", help="build the class and results in DIR and keep them")
    parser.add_argument("--no-html", action="store_true", help="pass --no-html to grade batch")
    args = parser.parse_args(argv)

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="batch-bench-"))
    try:
        if (base / "results").exists():
            shutil.rmtree(base / "results")
        counts = build_class(base / "class", args.n, args.include_slow)
        print(f"class of {args.n}: {len(counts)} distinct sources ({sum(v for k, v in counts.items() if k.startswith('correct') or k == 'reference')} correct copies)")
        command = [sys.executable, "-m", "grader.cli", "batch", str(base / "class"), "--out", str(base / "results")]
        command += ["--jobs", str(args.jobs)] if args.jobs else []
        command += ["--no-html"] if args.no_html else []
        started = time.perf_counter()
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        tail = [line for line in run.stdout.splitlines() if not line.startswith("[")]
        print("\n".join(tail[-40:]))
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return run.returncode
        rows = (base / "results" / "gradebook.csv").read_text().splitlines()[1:]
        errors = sum(1 for row in rows if ",error," in row)
        print(f"\n{args.n} submissions graded in {elapsed:.1f} s: {args.n / elapsed:.2f} submissions/s "
              f"({len(rows)} gradebook rows, {errors} errors); load average {os.getloadavg()[0]:.1f} at the end; "
              f"command: {' '.join(command[1:])}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
