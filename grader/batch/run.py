"""`grade batch`: grade a whole class, in parallel, resumably, locally or on a Dask cluster.

Flow: lock RESULTS/ -> find the submissions (folder, glob or LMS zip) and their ids ->
give each id a stem for its files (grader/batch/names.py) -> skip every student whose
RESULTS/<stem>.json already records them, this content hash, seed, assignment and grader
version -> grade the rest (process pool, or Dask with --scheduler), writing each result
atomically as it arrives -> rebuild gradebook.csv from all the per-student JSON -> print the
score distribution and the class's most common mistakes.

Running the same command again after an interruption finishes the job: only what is
missing or changed is graded. Timing stays honest through the shared/exclusive timing lock
(GRADER_LOCK_FILE, grader/timing/exclusive.py) that every grading process of the batch holds.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .. import __version__
from .execute import Job, Options, TaskResult, default_lock_file, run_dask, run_local
from .inputs import Entry, discover, file_sha256
from .names import AMBIGUOUS, allocate_stems
from .store import DASHBOARD, GRADEBOOK, ResultsDir, atomic_write, grading_fingerprint, is_current
from ..deadline import DEFAULT_TIMEOUT
from .lms import recognise
from ..errors import InputError
from ..timing.exclusive import LOCK_ENV
from ..safetext import terminal_safe

__all__ = ["run_batch_cli", "run_batch"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grade batch", description="Grade every submission of a class; rerun the same command to resume.")
    parser.add_argument("submissions", help="a folder (one file or one folder per student), a glob such as 'subs/*.ipynb', or an LMS zip")
    parser.add_argument("--out", required=True, metavar="RESULTS", help="folder for each student's .json and .html (named after the id, made file-safe), gradebook.csv and class.html")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="parallel grading processes (default: one more than cores)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs the dask extra)")
    parser.add_argument("--assignment", default=None, help="assignment folder name or path (default: the one the class's files define the graded names of)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random test data (default: the same as `grade`)")
    parser.add_argument("--device", choices=("cpu", "gpu", "auto"), default="auto", help="where the timing benchmark runs (default: auto)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds of work one submission may take in all: checks left without time score 0 with a timeout note (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--no-html", action="store_true", help="write no HTML feedback")
    parser.add_argument("--retry-errors", action="store_true", help="regrade submissions recorded as errors even if unchanged")
    parser.add_argument("--force", action="store_true", help="regrade every submission, even those already graded and unchanged")
    parser.add_argument("--only", nargs="+", metavar="ID", help="regrade only these students (ids as in the gradebook); the others keep their results")
    parser.add_argument("--feedback", choices=("full", "public"), default="full",
                        help="what each student's HTML shows: full (every check, after the deadline) or public (hidden checks' results left out; before it)")
    parser.add_argument("--lms", choices=("generic", "canvas", "moodle"), default="generic",
                        help="also write gradebook-<lms>.csv with the id columns that LMS imports (default: generic, gradebook.csv only)")
    parser.add_argument("--version", action="version", version=f"grade batch {__version__}")
    return parser


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_jobs() -> int:
    """One job more than cores. A job alternates between the grader and the student's worker,
    each waiting on the other's reply, so one job per core leaves cores idle at every hand-over
    (2 cores: ~1.7 busy with 2 jobs). Student code is limited in CPU seconds (cpu_timer.py), so
    the extra job cannot push an honest statement over its limit."""
    return _cores() + 1


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


def run_batch_cli(argv: list[str]) -> int:
    """Entry point of `grade batch` (routed from grader/cli.py); returns the exit status."""
    args = _parser().parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs must be at least 1.")
    if args.timeout is not None and args.timeout <= 0:
        raise InputError("--timeout must be a positive number of seconds.")
    from ..extras import require_instructor_extra

    require_instructor_extra()  # before any submission is graded without its packages
    return run_batch(args)


def run_batch(args: argparse.Namespace) -> int:
    from ..assignment import load_assignment
    from ..engine import DEFAULT_SEED

    results = ResultsDir(Path(args.out))
    results.acquire()  # before anything is read or extracted into RESULTS/
    rows_order: list[Entry] = []
    stems: dict[str, str] = {}
    pending: set[str] = set()
    assignment: Any = None
    previous_term = signal.signal(signal.SIGTERM, _term_as_interrupt)
    try:
        if args.assignment:
            assignment = load_assignment(args.assignment)
        else:
            from ..recognise import recognise_class

            assignment = recognise_class(args.submissions)
            print(f"assignment: {assignment.name} (recognised from the class; --assignment overrides)", flush=True)
        seed = DEFAULT_SEED if args.seed is None else args.seed
        entries, notes = discover(args.submissions, results.extract_dir, preferred_name=assignment.notebook)
        entries, identities = recognise(entries, notes)
        stems = allocate_stems(entry.student for entry in entries)
        for note in notes:
            print(terminal_safe(f"note: {note}", newlines=False), flush=True)
        fingerprint = grading_fingerprint(assignment, __version__)
        jobs, rows_order = _plan(entries, results, seed, assignment, args.retry_errors, fingerprint, args.force, args.only, "" if args.no_html else args.feedback, stems)
        lock_file = os.environ.get(LOCK_ENV) or default_lock_file()
        os.environ[LOCK_ENV] = lock_file
        options = Options(str(args.assignment or assignment.root), seed, args.device, args.timeout, not args.no_html, None if args.scheduler else lock_file, args.feedback)
        n_jobs = args.jobs or default_jobs()
        reused = len(entries) - len(jobs)
        where = f"on the Dask cluster {args.scheduler}" if args.scheduler else f"with {min(n_jobs, max(1, len(jobs)))} process(es)"
        print(f"Found {len(entries)} submission(s); {reused} already graded and unchanged; grading {len(jobs)} {where}.", flush=True)
        print(f"Timing lock: {lock_file} (grading holds it shared, a timing measurement exclusively).", flush=True)
        started = time.perf_counter()
        html_notes: set[str] = set()
        progress = Progress(len(jobs), assignment.max_score)

        pending.update(job.name for job in jobs)

        def on_result(result: TaskResult) -> None:
            result.record["grading_fingerprint"] = fingerprint  # what a resumed batch compares
            result.record["student"] = result.student  # whose record this stem holds
            results.save(result.name, result.record, result.html)
            pending.discard(result.name)
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
        rows = _write_gradebook(results, rows_order, stems, assignment)
        pages = {student: f"{stems[student]}.html" for student, _ in rows}
        lms_note = _write_lms_gradebook(args.lms, results, rows, identities, assignment, pages)
        rate = len(jobs) / elapsed if elapsed > 0 and jobs else 0.0
        print(f"Graded {len(jobs)} submission(s) in {elapsed:.1f} s ({rate:.2f}/s); reused {reused}.", flush=True)
        print(_class_report(results, rows, assignment, stems), flush=True)
        print(f"Gradebook: {results.batch_path(GRADEBOOK)}", flush=True)
        if lms_note:
            print(lms_note, flush=True)
        _print_ambiguities(notes)
        if rows and all(record is None or record.get("status") == "error" for _, record in rows):
            print(f"grade batch: every submission ({len(rows)}) failed to grade; see the error column of the gradebook.", file=sys.stderr, flush=True)
            return 1
        return 0
    except KeyboardInterrupt:
        if rows_order:
            done = _write_gradebook(results, rows_order, stems, assignment, pending)
            graded = sum(1 for _, record in done if record is not None)
            print(f"grade batch: interrupted; gradebook.csv lists the {graded} of {len(done)} submission(s) done so far.", file=sys.stderr, flush=True)
        print("grade batch: interrupted; results so far are saved. Run the same command again to finish (only what is missing is graded).", file=sys.stderr, flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        results.release()


def _class_report(results: ResultsDir, rows: list[tuple[str, dict[str, Any] | None]], assignment: Any, stems: dict[str, str]) -> str:
    """Write class.html (the dashboard) and return the terminal summary; both from one pass.
    `stems` names each id's files (its page is not always <id>.html)."""
    from ..report.class_stats import class_stats
    from ..report.class_summary import render_class_summary
    from ..report.dashboard import render_dashboard, student_pages

    stats = class_stats(rows, [c.name for c in assignment.checks], assignment.max_score)
    dashboard = results.batch_path(DASHBOARD)
    convention = assignment.batch_convention
    pages = student_pages([s for s, _ in rows], lambda student: results.html_path(stems[student]), dashboard)
    atomic_write(dashboard, render_dashboard(stats, assignment.title, pages, convention))
    return render_class_summary(stats, str(dashboard), convention, [record for _, record in rows])


def _print_ambiguities(notes: list[str]) -> None:
    """Repeat, at the end, the notes about submissions whose owner the names could not settle."""
    doubts = [note[len(AMBIGUOUS):] for note in notes if note.startswith(AMBIGUOUS)]
    if doubts:
        print("Ambiguous identities (every submission was kept and graded; check these by hand):", flush=True)
        for doubt in doubts:
            print(terminal_safe(f"  - {doubt}", newlines=False), flush=True)


def _write_lms_gradebook(lms: str, results: ResultsDir, rows: list[tuple[str, dict[str, Any] | None]], identities: dict[str, Any], assignment: Any, pages: dict[str, str]) -> str:
    """gradebook-<lms>.csv beside gradebook.csv; returns the line that tells where (and who lacks an id)."""
    if lms == "generic":
        return ""
    from ..report.lms_gradebook import lms_gradebook

    text, missing = lms_gradebook(lms, rows, identities, assignment.title, assignment.max_score, pages)
    path = results.batch_path(f"gradebook-{lms}.csv")
    atomic_write(path, text)
    warning = f"; {missing} student(s) have no {lms} id (their files were not named by a {lms} export): fill them in before importing" if missing else ""
    return f"{lms} gradebook: {path}{warning}"


def _term_as_interrupt(signum: int, frame: Any) -> None:
    """`kill` (SIGTERM) stops the batch as cleanly as Ctrl-C: workers and sandboxes are stopped."""
    raise KeyboardInterrupt


def _write_gradebook(results: ResultsDir, entries: list[Entry], stems: dict[str, str], assignment: Any, pending: set[str] = frozenset()) -> list[tuple[str, dict[str, Any] | None]]:
    """gradebook.csv from the per-student JSON on disk. After an interruption the students
    still `pending` (by stem) have no result row ("no result: run the batch again"), never a
    stale grade from an older rubric or file. Ids are the LMS's; `stems` name their files."""
    from ..report.csv_report import gradebook_csv

    rows = [(entry.student, None if stems[entry.student] in pending else results.load(stems[entry.student])) for entry in entries]
    rubric = [c.name for c in assignment.checks]
    atomic_write(results.batch_path(GRADEBOOK), gradebook_csv(rows, rubric, assignment.max_score))
    return rows


def _plan(
    entries: list[Entry],
    results: ResultsDir,
    seed: int,
    assignment: Any,
    retry_errors: bool,
    fingerprint: str | None = None,
    force: bool = False,
    only: list[str] | None = None,
    feedback: str = "",
    stems: dict[str, str] | None = None,
) -> tuple[list[Job], list[Entry]]:
    """The jobs still to do: students with no result, or whose file, seed, assignment folder,
    reference or grader changed, or whose feedback page was written for another --feedback
    (public before the deadline, full after); every one with `force`; only the named ones with `only`.
    `stems` names each id's files (names.allocate_stems; computed here when not given)."""
    from ..report.html import feedback_mode

    rubric = tuple(c.name for c in assignment.checks)
    if only:
        known = {entry.student for entry in entries}
        unknown = [student for student in only if student not in known]
        if unknown:
            raise InputError(f"--only: no submission for {', '.join(unknown)}; the ids are {', '.join(sorted(known)[:10])}{' ...' if len(known) > 10 else ''}.")
    stems = stems if stems is not None else allocate_stems(entry.student for entry in entries)
    jobs = []
    for entry in entries:
        name = stems[entry.student]
        if only and entry.student not in only:
            continue
        digest = "" if entry.error else file_sha256(entry.path)
        record = results.load(name)
        stale_page = bool(feedback) and bool(record) and record.get("status") != "error" and feedback_mode(results.html_path(name)) != feedback
        if force or only or stale_page or not is_current(record, digest, seed, assignment.name, __version__, rubric, assignment.max_score, retry_errors, fingerprint, entry.student):
            jobs.append(Job(entry.student, name, str(entry.path), digest, error=entry.error, error_kind=entry.error_kind))
    return jobs, entries
