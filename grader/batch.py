"""`grade batch`: grade a whole class, in parallel, resumably, locally or on a Dask cluster.

Flow: lock RESULTS/ -> find the submissions (folder, glob or LMS zip) -> skip every student
whose RESULTS/<id>.json already records this content hash, seed, assignment and grader
version -> grade the rest (process pool, or Dask with --scheduler), writing each result
atomically as it arrives -> rebuild gradebook.csv from all the per-student JSON -> print the
score distribution and the class's most common mistakes.

Running the same command again after an interruption finishes the job: only what is
missing or changed is graded. Timing stays honest through the shared/exclusive timing lock
(GRADER_LOCK_FILE, grader/exclusive.py) that every grading process of the batch holds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import __version__
from .batch_exec import Job, Options, TaskResult, default_lock_file, run_dask, run_local
from .batch_inputs import Entry, discover, file_sha256, safe_name
from .batch_store import ResultsDir, atomic_write, is_current
from .deadline import DEFAULT_TIMEOUT
from .errors import InputError
from .exclusive import LOCK_ENV
from .safetext import terminal_safe

__all__ = ["run_batch_cli", "run_batch", "BatchSummary"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grade batch", description="Grade every submission of a class; rerun the same command to resume.")
    parser.add_argument("submissions", help="a folder (one file or one folder per student), a glob such as 'subs/*.ipynb', or an LMS zip")
    parser.add_argument("--out", required=True, metavar="RESULTS", help="folder for <id>.json, <id>.html and gradebook.csv")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="parallel grading processes (default: all cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs the dask extra)")
    parser.add_argument("--assignment", default="dense_layer", help="assignment folder name or path (default: dense_layer)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random test data (default: the same as `grade`)")
    parser.add_argument("--device", choices=("cpu", "gpu", "auto"), default="auto", help="where the timing benchmark runs (default: auto)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds of work one submission may take in all: checks left without time score 0 with a timeout note (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--no-html", action="store_true", help="write no HTML feedback")
    parser.add_argument("--retry-errors", action="store_true", help="regrade submissions recorded as errors even if unchanged")
    return parser


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Progress:
    """A rich progress bar (rate, ETA) on a terminal; one plain line per submission otherwise."""

    def __init__(self, total: int, max_score: float) -> None:
        self.total = total
        self.done = 0
        self.max_score = max_score
        self.started = time.perf_counter()
        self._bar: Any = None
        if total and sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = RichProgress(
                TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task("grading", total=total, rate="")
            self._bar.start()

    def advance(self, result: TaskResult) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if self._bar is not None:
            self._bar.update(self._task, advance=1, rate=f"{rate:.2f}/s")
            return
        record = result.record
        eta = (self.total - self.done) / rate if rate else 0.0
        outcome = f"error ({record.get('error_kind')})" if record.get("status") == "error" else f"{record.get('score', 0):g}/{record.get('max_score', 0):g}"
        print(terminal_safe(f"[{self.done}/{self.total}] {result.student}: {outcome}  ({rate:.2f}/s, ETA {eta:.0f} s)", newlines=False), flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class BatchSummary:
    """What the instructor acts on: how scores spread and which mistakes are common."""

    def __init__(self, rows: list[tuple[str, dict[str, Any] | None]], max_score: float) -> None:
        self.rows = rows
        self.max_score = max_score

    def histogram(self, bins: int = 10, width: int = 40) -> list[str]:
        counts = [0] * bins
        for _, record in self.rows:
            if record is None or record.get("status") == "error":
                continue
            fraction = float(record.get("score", 0)) / self.max_score if self.max_score else 0.0
            counts[min(bins - 1, max(0, int(fraction * bins)))] += 1
        top = max(counts) or 1
        lines = []
        for i, count in enumerate(counts):
            low, high = i * 100 // bins, (i + 1) * 100 // bins
            label = f"{low:3d}-{high}%" + (" " if high < 100 else "")
            lines.append(f"  {label:>9} |{'█' * round(width * count / top):<{width}} {count}")
        return lines

    def mistakes(self, top: int = 10) -> list[tuple[str, int]]:
        counter: Counter[str] = Counter()
        for _, record in self.rows:
            if record:
                counter.update(set(record.get("diagnoses", []) or []))
        return counter.most_common(top)

    def render(self) -> str:
        from .diagnose import ADVICE

        ok = sum(1 for _, r in self.rows if r and r.get("status") != "error")
        errors = [(s, r) for s, r in self.rows if not r or r.get("status") == "error"]
        lines = [f"Score distribution ({ok} graded, out of {self.max_score:g} points):", *self.histogram()]
        mistakes = self.mistakes()
        if mistakes:
            lines.append("Most common mistakes (students per diagnosis):")
            width = max(len(code) for code, _ in mistakes)
            for code, count in mistakes:
                advice = ADVICE.get(code, "")
                lines.append(terminal_safe(f"  {count:5d}  {code:<{width}}  {advice[:80] + ('...' if len(advice) > 80 else '')}", newlines=False))
        else:
            lines.append("No mistakes diagnosed.")
        if errors:
            lines.append(f"Not graded ({len(errors)}): see their JSON and the gradebook's error column:")
            for student, record in errors[:20]:
                reason = str(record.get("error", "")).splitlines()[0] if record else "no result"
                lines.append(terminal_safe(f"  {student}: {reason}", newlines=False))
            if len(errors) > 20:
                lines.append(f"  ... and {len(errors) - 20} more")
        return "\n".join(lines)


def run_batch_cli(argv: list[str]) -> int:
    """Entry point of `grade batch` (routed from grader/cli.py); returns the exit status."""
    args = _parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs must be at least 1.")
    if args.timeout is not None and args.timeout <= 0:
        raise InputError("--timeout must be a positive number of seconds.")
    return run_batch(args)


def run_batch(args: argparse.Namespace) -> int:
    from .assignment import load_assignment
    from .engine import DEFAULT_SEED

    results = ResultsDir(Path(args.out))
    results.acquire()  # before anything is read or extracted into RESULTS/
    previous_term = signal.signal(signal.SIGTERM, _term_as_interrupt)
    try:
        assignment = load_assignment(args.assignment)
        seed = DEFAULT_SEED if args.seed is None else args.seed
        entries, notes = discover(args.submissions, results.extract_dir, preferred_name=assignment.notebook)
        for note in notes:
            print(terminal_safe(f"note: {note}", newlines=False), flush=True)
        jobs, rows_order = _plan(entries, results, seed, assignment, args.retry_errors)
        lock_file = os.environ.get(LOCK_ENV) or default_lock_file()
        os.environ[LOCK_ENV] = lock_file
        options = Options(str(args.assignment), seed, args.device, args.timeout, not args.no_html, None if args.scheduler else lock_file)
        n_jobs = args.jobs or _cores()
        reused = len(entries) - len(jobs)
        where = f"on the Dask cluster {args.scheduler}" if args.scheduler else f"with {min(n_jobs, max(1, len(jobs)))} process(es)"
        print(f"Found {len(entries)} submission(s); {reused} already graded and unchanged; grading {len(jobs)} {where}.", flush=True)
        print(f"Timing lock: {lock_file} (grading holds it shared, a timing measurement exclusively).", flush=True)
        started = time.perf_counter()
        html_notes: set[str] = set()
        progress = Progress(len(jobs), assignment.max_score)

        def on_result(result: TaskResult) -> None:
            results.save(result.name, result.record, result.html)
            for note in result.notes:
                if note not in html_notes:
                    html_notes.add(note)
                    print(terminal_safe(f"note: {note}", newlines=False), file=sys.stderr, flush=True)
            progress.advance(result)

        try:
            if args.scheduler:
                run_dask(args.scheduler, jobs, options, on_result, lambda line: print(line, flush=True))
            else:
                run_local(jobs, options, n_jobs, on_result)
        finally:
            progress.close()
        elapsed = time.perf_counter() - started
        rows = [(entry.student, results.load(safe_name(entry.student))) for entry in rows_order]
        from .report.csv_report import gradebook_csv

        rubric = [c.name for c in assignment.checks]
        atomic_write(results.root / "gradebook.csv", gradebook_csv(rows, rubric, assignment.max_score))
        rate = len(jobs) / elapsed if elapsed > 0 and jobs else 0.0
        print(f"Graded {len(jobs)} submission(s) in {elapsed:.1f} s ({rate:.2f}/s); reused {reused}.", flush=True)
        print(BatchSummary(rows, assignment.max_score).render(), flush=True)
        print(f"Gradebook: {results.root / 'gradebook.csv'}", flush=True)
        return 0
    except KeyboardInterrupt:
        print("grade batch: interrupted; results so far are saved. Run the same command again to finish (only what is missing is graded).", file=sys.stderr, flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        results.release()


def _term_as_interrupt(signum: int, frame: Any) -> None:
    """`kill` (SIGTERM) stops the batch as cleanly as Ctrl-C: workers and sandboxes are stopped."""
    raise KeyboardInterrupt


def _plan(entries: list[Entry], results: ResultsDir, seed: int, assignment: Any, retry_errors: bool) -> tuple[list[Job], list[Entry]]:
    """The jobs still to do: students with no result, or whose file, seed, rubric or grader changed."""
    rubric = tuple(c.name for c in assignment.checks)
    jobs = []
    for entry in entries:
        name = safe_name(entry.student)
        digest = "" if entry.error else file_sha256(entry.path)
        if not is_current(results.load(name), digest, seed, assignment.name, __version__, rubric, assignment.max_score, retry_errors):
            jobs.append(Job(entry.student, name, str(entry.path), digest, error=entry.error, error_kind=entry.error_kind))
    return jobs, entries
