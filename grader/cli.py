"""The `grade` command: parse arguments, call the engine, print a report. Nothing else.

Exit status: 0 when grading completed (whatever the score), 1 when `grade check` finds a
failing check, 2 when the input cannot be graded (one sentence on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from . import __version__
from .deadline import DEFAULT_TIMEOUT
from .errors import GraderFailure, InputError
from .safetext import terminal_safe
from .sandbox.heap import keep_freed_memory

__all__ = ["main"]

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": ("grader.cli:run_check_cli", "public checks only, for students; exit status 1 if one fails"),
    "batch": ("grader.batch.run:run_batch_cli", "grade a whole class in parallel (resumable), with a gradebook and a class dashboard"),
    "release": ("grader.student.release:run_release_cli", "build the student bundle: the notebook and the public checks' data, no solution"),
    "gradescope": ("grader.platforms.gradescope:run_gradescope_cli", "build a Gradescope autograder zip (setup.sh, run_autograder)"),
}
"""Subcommand -> ("module:function" taking argv and returning the exit status, one line of help).
`grade --help` lists exactly these; a new subcommand is one entry here."""


def _subcommand_help() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    lines = [f"  grade {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "subcommands (each has its own --help):\n" + "\n".join(lines)


def _grade_parser(prog: str, public_only: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Check your submission with the public checks." if public_only else "Grade a dense-layer submission (.ipynb or .py).",
        epilog=None if public_only else _subcommand_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("submission", help="the .ipynb or .py file to grade")
    parser.add_argument("--format", choices=("text", "json", "gradescope"), default="text", help="report format on stdout (default: text)")
    parser.add_argument("--output", "-o", metavar="FILE", help="also write the report (in --format) to FILE")
    parser.add_argument("--html", metavar="FILE", help="write HTML feedback with plots to FILE")
    parser.add_argument("--assignment", default=None, help="assignment NAME ($GRADER_ASSIGNMENTS, ./assignments, the checkout) or PATH (default: the one whose graded names the submission defines)")
    if public_only:  # the bundle fixes the data; no timing
        parser.add_argument("--bundle", metavar="PATH", help="the public_checks.json released with the notebook, or its folder (default: next to the notebook)")
    else:
        parser.add_argument("--seed", type=int, default=None, help="seed of the random test data (default: fixed, so runs agree)")
        parser.add_argument("--device", choices=("cpu", "gpu", "auto"), default="auto", help="where the timing benchmark runs (default: auto)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=f"seconds of work in all; checks left without time score 0 with a timeout note (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--verbose", "-v", action="store_true", help="say which sandbox layers are active, the seed and the time")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _run_grade(argv: list[str], public_only: bool) -> int:
    from .assignment import load_assignment
    from .engine import DEFAULT_SEED, grade_file
    from .recognise import recognise_assignment

    args = _grade_parser("grade check" if public_only else "grade", public_only).parse_args(argv)
    if args.timeout <= 0:
        raise InputError("--timeout must be a positive number of seconds.")
    for option, target in (("--output", args.output), ("--html", args.html)):
        if target:
            _check_writable(option, Path(target))
    # A named assignment that cannot be loaded is the instructor's error, not the student's;
    # without --assignment it is recognised from the submission (inside the try: its file is the student's).
    assignment = load_assignment(args.assignment) if args.assignment and not public_only else None
    if not public_only:
        from .extras import require_instructor_extra

        require_instructor_extra()  # the instructor's environment, too
    try:
        if public_only:
            from .student.check import check_file

            report = check_file(args.submission, args.bundle, args.assignment, timeout=args.timeout)
        else:
            report = grade_file(
                args.submission,
                assignment=assignment or recognise_assignment(args.submission),
                seed=DEFAULT_SEED if args.seed is None else args.seed,
                device=args.device,
                timeout=args.timeout,
            )
    except InputError as exc:
        if args.format == "gradescope" and args.output:
            from .report.json_report import gradescope_error

            _write(Path(args.output), gradescope_error(str(exc)), "results")
        if args.html:
            from .report.html import render_error_html

            _write(Path(args.html), render_error_html(args.submission, str(exc)), "feedback page")
        raise
    rendered = _render(report, args.format)
    # Files first, each with its "Wrote" line on stderr: stdout stays the report alone, and
    # on a terminal the score stays the last line.
    if args.output:
        _write(Path(args.output), rendered if rendered is not None else _plain_text(report), "report")
    if args.html:
        from .report.html import render_html

        _write(Path(args.html), render_html(report), "feedback page")
    if rendered is None:
        from .report.text import render_text

        render_text(report, verbose=args.verbose)
    else:
        sys.stdout.write(rendered + "\n")
    if public_only:  # a failed check fails, whatever its points (train-runs is worth none)
        return 0 if all(t.status == "passed" for t in report.tests) else 1
    return 0


def _check_writable(option: str, target: Path) -> None:
    """Refuse an output path whose folder is missing or read-only before grading, not after."""
    folder = target.parent
    if target.is_dir():
        raise InputError(f"{option} {target} is a folder; give a file name inside it.")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {target}: {folder} is a file, not a folder; choose another path.")
    if not folder.is_dir():
        raise InputError(f"{option} {target}: the folder {folder} does not exist; create it or choose another path.")
    if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InputError(f"{option} {target} cannot be written (permission denied); choose another path.")


def _write(target: Path, text: str, what: str) -> None:
    """Write `text` to `target` and say so on stderr ("Wrote feedback page: FILE")."""
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}.") from None
    print(f"Wrote {what}: {terminal_safe(target, newlines=False)}", file=sys.stderr, flush=True)


def run_check_cli(argv: list[str]) -> int:
    """`grade check`: the public checks only."""
    return _run_grade(argv, public_only=True)


def _render(report: object, fmt: str) -> str | None:
    from .report.json_report import to_gradescope, to_json

    if fmt == "json":
        return to_json(report)
    if fmt == "gradescope":
        return to_gradescope(report)
    return None


def _plain_text(report: object) -> str:
    from .report.text import text_report

    return text_report(report)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    keep_freed_memory()  # grading allocates and frees megabyte arrays all the time (sandbox/heap.py)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            module, function = SUBCOMMANDS[argv[0]][0].split(":")
            return getattr(importlib.import_module(module), function)(argv[1:])
        return _run_grade(argv, public_only=False)
    except (InputError, GraderFailure) as exc:
        print(f"grade: {terminal_safe(exc, newlines=False)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("grade: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
