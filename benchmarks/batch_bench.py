"""Time `grade batch` on a synthetic class of N submissions, and say where the time goes.

The class is a mix of correct and buggy notebooks from tests/submissions/, each copy made
unique (a comment naming the student in its first code cell), so every file has its own
content hash and nothing is reused. One notebook in ten also ends the way real ones do:
a multi-epoch training cell on toy data (half of them train for about a second, half for
minutes) and a matplotlib cell plotting the losses. The whole `grade batch` command is
timed, as an instructor would run it: start-up, discovery, grading (timing benchmark
included), per-student JSON/HTML, gradebook and summary.

Besides submissions/s (wall clock, which depends on what else the machine runs) it reports
core-seconds per submission: the CPU time of the command and every process below it (pool
workers, sandbox fork servers and workers), collected by making this script a child
subreaper, and the breakdown per phase summed from each report's `profile`.

    python benchmarks/batch_bench.py --n 1000            # default: all cores
    python benchmarks/batch_bench.py --n 200 --jobs 2 --keep /tmp/class200
    python benchmarks/batch_bench.py --n 200 --assignment cs231n_layers   # a class of another form

With --assignment, the class is copies of that form's real-style submissions
(tests/submissions/<folder>/, FORM_FOLDERS), half correct, half with one mistake each.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"
PR_SET_CHILD_SUBREAPER = 36

# Slow on purpose (sandbox timeouts, memory limit): a real class has a few, not one in twenty.
SLOW = {"timeout", "memory_limit"}
TRAINING_EVERY = 10
TRAINING_CELL = """\
rng = np.random.default_rng(0)
centres = np.array([[0.0, 2.5], [-2.5, -1.5], [2.5, -1.5]])
labels = rng.integers(0, 3, size=600)
points = centres[labels] + rng.normal(size=(600, 2))
X_train, y_train = points[:450], labels[:450]
np.random.seed(0)
network = [Dense(2, 32, learning_rate=0.2), ReLU(), Dense(32, 3, learning_rate=0.2)]
history = []
for epoch in range({epochs}):
    order = rng.permutation(len(X_train))
    losses = [train(network, X_train[batch], y_train[batch]) for batch in np.array_split(order, len(order) // 32)]
    history.append(np.mean(losses))
print("final loss", history[-1])
"""
PLOT_CELL = """\
import matplotlib.pyplot as plt
plt.figure(figsize=(6, 4))
plt.plot(history, label="training loss")
plt.xlabel("epoch")
plt.legend()
plt.show()
"""
SHORT_EPOCHS, LONG_EPOCHS = 300, 50_000
"""About 1 s of training (finishes within the statement limit), and many minutes (does not)."""


FORM_FOLDERS = {"cs231n_layers": "cs231n", "dls_step_by_step": "dls"}
"""Assignments other than the classic one, and the folder of tests/submissions/ holding their submissions."""


def build_form_class(target: Path, n: int, assignment: str) -> dict[str, int]:
    """Write N unique copies of a form's .py submissions into `target` (a comment names the student)."""
    sources = sorted(p for p in (SUBMISSIONS / FORM_FOLDERS[assignment]).glob("*.py") if p.stem != "build")
    correct = [p for p in sources if p.stem.startswith("correct")]
    buggy = [p for p in sources if p not in correct]
    target.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for i in range(n):
        source = correct[i // 2 % len(correct)] if i % 2 == 0 else buggy[i // 2 % len(buggy)]
        (target / f"student{i:05d}.py").write_text(f"# student {i:05d}, copy of {source.stem}\n" + source.read_text())
        counts[source.stem] = counts.get(source.stem, 0) + 1
    return counts


def _text(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


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
        cell["source"] = f"# student {i:05d}, copy of {source.stem}\n" + _text(cell)
        kind = source.stem
        if i % TRAINING_EVERY == TRAINING_EVERY - 1:
            epochs = SHORT_EPOCHS if (i // TRAINING_EVERY) % 2 == 0 else LONG_EPOCHS
            kind = f"{source.stem}+training({epochs} epochs)+plot"
            for text in (TRAINING_CELL.format(epochs=epochs), PLOT_CELL):
                notebook["cells"].append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": text})
        (target / f"student{i:05d}.ipynb").write_text(json.dumps(notebook))
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _become_subreaper() -> bool:
    """Orphans below us (pool workers, fork servers) are re-parented here, so we can reap them
    and count their CPU seconds; without it they would go to init, uncounted."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _reap_orphans(deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)


def breakdown(results: Path, n: int) -> list[tuple[str, float, float, float]]:
    """(phase, wall s, grader-process CPU s, student-worker CPU s), per submission, from the reports' profiles."""
    totals: dict[str, list[float]] = {}
    for path in results.glob("*.json"):
        try:
            profile = json.loads(path.read_text()).get("profile") or {}
        except (OSError, json.JSONDecodeError):
            continue
        for name, entry in (profile.get("phases") or {}).items():
            slot = totals.setdefault(name, [0.0, 0.0, 0.0])
            slot[0] += float(entry.get("wall", 0.0))
            slot[1] += float(entry.get("cpu", 0.0))
            slot[2] += float(entry.get("worker", 0.0))
        for name, value in (profile.get("counts") or {}).items():
            slot = totals.setdefault(f"#{name}", [0.0, 0.0, 0.0])
            slot[0] += float(value)
    return sorted(((k, v[0] / n, v[1] / n, v[2] / n) for k, v in totals.items()), key=lambda r: (r[0].startswith("#"), -r[2] - r[3]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="class size (default: 200)")
    parser.add_argument("--jobs", type=int, default=None, help="passed to grade batch --jobs (default: all cores)")
    parser.add_argument("--include-slow", action="store_true", help="also copy the timeout and memory-limit notebooks")
    parser.add_argument("--keep", metavar="DIR", help="build the class and results in DIR and keep them")
    parser.add_argument("--no-html", action="store_true", help="pass --no-html to grade batch")
    parser.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    parser.add_argument("--assignment", choices=sorted(FORM_FOLDERS), help="a class of another form's submissions, graded against that assignment")
    args = parser.parse_args(argv)

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="batch-bench-"))
    subreaper = _become_subreaper()
    try:
        if (base / "results").exists():
            shutil.rmtree(base / "results")
        if (base / "class").exists():
            shutil.rmtree(base / "class")
        counts = build_form_class(base / "class", args.n, args.assignment) if args.assignment else build_class(base / "class", args.n, args.include_slow)
        training = sum(v for k, v in counts.items() if "training" in k)
        print(f"class of {args.n}: {len(counts)} distinct kinds ({sum(v for k, v in counts.items() if k.startswith(('correct', 'reference')))} correct copies, {training} with a training and a plotting cell)")
        command = [sys.executable, "-m", "grader.cli", "batch", str(base / "class"), "--out", str(base / "results")]
        command += ["--jobs", str(args.jobs)] if args.jobs else []
        command += ["--no-html"] if args.no_html else []
        command += ["--assignment", args.assignment] if args.assignment else []
        load_before = os.getloadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        _reap_orphans()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()
        core_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        tail = [line for line in run.stdout.splitlines() if not line.startswith("[")]
        print("\n".join(tail[-40:]))
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return run.returncode
        rows = (base / "results" / "gradebook.csv").read_text().splitlines()[1:]
        failed = [row for row in rows if ",error," in row]
        errors = len(failed)
        for row in failed[:10]:  # a benchmark that counts errors says which
            print(f"error: {row.split(',')[0]}: {row.split(',error,', 1)[1][:300]}")
        print(f"\n{args.n} submissions graded in {elapsed:.1f} s: {args.n / elapsed:.2f} submissions/s "
              f"({len(rows)} gradebook rows, {errors} errors); command: {' '.join(command[1:])}")
        print(f"core-seconds: {core_seconds:.1f} in all, {core_seconds / args.n:.3f} per submission "
              f"(user {after.ru_utime - before.ru_utime:.1f}, system {after.ru_stime - before.ru_stime:.1f}; "
              f"{'every descendant counted' if subreaper else 'orphaned descendants NOT counted'}); "
              f"{os.cpu_count()} cores, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
        rows_out = breakdown(base / "results", args.n)
        print("\nper submission, summed from the reports' profiles (#: counts), costliest first:")
        print(f"  {'phase':34s} {'wall s':>8s} {'grader':>8s} {'worker':>8s}  (CPU s of the grading process and of the student's worker)")
        for name, wall, cpu, worker in rows_out:
            print(f"  {name:34s} {wall:8.4f}" + (f" {cpu:8.4f} {worker:8.4f}" if not name.startswith("#") else ""))
        if args.json:
            Path(args.json).write_text(json.dumps({
                "n": args.n, "elapsed": elapsed, "per_second": args.n / elapsed, "core_seconds": core_seconds,
                "core_seconds_per_submission": core_seconds / args.n, "load": [load_before[0], load_after[0]],
                "errors": errors, "breakdown": {name: [wall, cpu, worker] for name, wall, cpu, worker in rows_out},
            }, indent=2))
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
