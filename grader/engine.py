"""Grade one submission: load it in the sandbox, run the rubric's checks, score them.

This is the only place that ties the pieces together; the CLI, the batch grader and the
tests all call `grade_file`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .assignment import Assignment, CheckSpec, load_assignment
from .checks import CheckContext, Outcome, get_check
from .checks.base import graded_names
from .convention import describe, notebook_convention, version_note
from .deadline import DEFAULT_TIMEOUT, Deadline
from .diagnose import ADVICE_PREFIX, advice, resolve_codes
from .errors import StudentFailure
from .timing.exclusive import grading_phase
from .oracle import ReferenceOracle, active_oracle
from .profiling import Profile
from .results import GRADESCOPE_VISIBILITY, SCORE_DECIMALS, CheckResult, Finding, GradeReport, StatementNote, round_points
from .sandbox.client import WorkerProcess, sandbox_notes
from .redefinitions import redefinition_notes
from .sandbox.session import StudentSession
from .sandbox.slicing import NOT_RUN
from .interfaces.files import read_for_assignment
from .interfaces.given import with_given
from .interfaces.words import assignment_fixes

__all__ = ["grade_file", "grade_session", "DEFAULT_SEED"]

DEFAULT_SEED = 20261121
SUBMISSION_WIDE = frozenset({"syntax-error", "timeout", "crash", "output-flood"})
"""Statement statuses that explain lost points for the whole submission, not one check."""


def _check_output(outcome: Outcome, codes: list[str], convention: str) -> str:
    lines = list(outcome.messages)
    fixes = [text for c in codes if (text := outcome.fixes.get(c) or advice(c, convention))]
    if fixes:
        lines.append(ADVICE_PREFIX + " ".join(dict.fromkeys(fixes)))
    return "\n".join(lines)


def run_check(ctx: CheckContext) -> CheckResult:
    """Run one check; a student's failure costs the check, never the grading run."""
    spec = ctx.spec
    try:
        with active_oracle(ctx.oracle if ctx.oracle is not None else ReferenceOracle(ctx.assignment)):
            outcome = get_check(spec.function)(ctx)
    except StudentFailure as failure:
        earned = (failure.code, *failure.extra_codes)
        outcome = Outcome(0, 1, [failure.message + ("\n" + failure.traceback if failure.traceback else "")], list(earned), case_codes={0: earned})
    if outcome.total == 0 and "not_applicable" in outcome.details:  # e.g. an optional part not handed in
        return CheckResult(name=spec.name, score=0.0, max_score=0.0, status="passed", output=str(outcome.details["not_applicable"]),
                           visibility=GRADESCOPE_VISIBILITY[spec.visibility], description=describe(spec.description, ctx.convention))
    codes = resolve_codes(outcome.diagnoses)
    if outcome.passed < outcome.total and not outcome.messages:
        outcome.messages.append("Some cases failed.")
    passed = outcome.fraction >= 1.0
    score = round_points(spec.points * outcome.fraction)
    if not passed and spec.points > 0:  # a failed case never rounds up to full points (a 0-point check stays at 0)
        score = min(score, round_points(spec.points - 10.0**-SCORE_DECIMALS))
    return CheckResult(
        name=spec.name,
        score=score,
        max_score=spec.points,
        status="passed" if passed else "failed",
        output=_check_output(outcome, codes, ctx.convention) if score < spec.points or codes else "",
        visibility=GRADESCOPE_VISIBILITY[spec.visibility],
        diagnoses=tuple(codes),
        description=describe(spec.description, ctx.convention),
        details=outcome.details,
        cases=(outcome.passed, outcome.total),
        findings=_findings(outcome) if score < spec.points or codes else (),
    )


def _findings(outcome: Outcome) -> tuple[Finding, ...]:
    """Where each message starts in the check's output, with the codes its case earned."""
    return tuple(Finding(message.count("\n") + 1, tuple(outcome.case_codes.get(i, ()))) for i, message in enumerate(outcome.messages))


def run_checks(session: Any, assignment: Assignment, checks: list[tuple[int, CheckSpec]], seed: int, device: str, deadline: Deadline, oracle: Any = None,
               cache: dict[str, Any] | None = None) -> list[CheckResult]:
    """Run (index, check) pairs; the index seeds the check's data, so a rerun sees the same data.
    `cache` is shared by the checks (and kept by the caller when it passes one)."""
    cache = {} if cache is None else cache
    results = []
    for index, spec in checks:
        if deadline.expired:
            results.append(_not_run(spec, deadline, assignment.batch_convention))
            continue
        rng = np.random.default_rng([seed, index])
        with session.profile.phase(f"check:{spec.name}"):
            results.append(run_check(CheckContext(session, assignment, spec, rng, seed, device, cache, oracle)))
        cache.setdefault("results", {})[spec.name] = results[-1]  # later checks may cite earlier verdicts
    return results


def _not_run(spec: CheckSpec, deadline: Deadline, convention: str) -> CheckResult:
    """A check the overall deadline left no time for: zero, with a timeout note."""
    return CheckResult(
        name=spec.name, score=0.0, max_score=spec.points, status="failed",
        output=f"Not run: {deadline.describe()} (your code took too long in earlier checks or statements).",
        visibility=GRADESCOPE_VISIBILITY[spec.visibility], diagnoses=("timeout",), description=describe(spec.description, convention),
    )


def select_checks(assignment: Assignment, visibility: str) -> list[CheckSpec]:
    return [c for c in assignment.checks if visibility == "all" or c.visibility == visibility]


def grade_file(
    path: str | Path,
    assignment: Assignment | None = None,
    seed: int = DEFAULT_SEED,
    visibility: str = "all",
    device: str = "cpu",
    worker_factory: Callable[..., WorkerProcess] = WorkerProcess,
    timeout: float | None = DEFAULT_TIMEOUT,
    oracle: Any = None,
) -> GradeReport:
    """Grade one .ipynb/.py file. Raises InputError (one sentence) when it cannot be read.

    `timeout`: seconds of work in all (grader/deadline.py); checks it leaves no time for score 0.
    """
    started = time.perf_counter()
    profile = Profile()
    assignment = assignment or load_assignment()
    with profile.phase("read"):
        submission = with_given(read_for_assignment(path, assignment), assignment)
    session = StudentSession(submission, assignment.sandbox, worker_factory=worker_factory, seed=seed, deadline=Deadline(timeout), graded_names=graded_names(assignment))
    return grade_session(session, assignment, str(path), seed, visibility, device, oracle, started, profile)


def grade_session(session: Any, assignment: Assignment, label: str, seed: int, visibility: str, device: str, oracle: Any, started: float, profile: Profile | None = None) -> GradeReport:
    """Run the rubric's checks on a session (sandboxed, or the student's own kernel) and score them.

    `oracle` gives expected values (`grader.oracle`): by default the rubric's reference file;
    the session's deadline bounds the whole run."""
    oracle = oracle if oracle is not None else ReferenceOracle(assignment)
    profile = profile or Profile()
    deadline = session.deadline
    session.profile = profile
    checks = list(enumerate(select_checks(assignment, visibility)))
    try:
        with deadline.not_counting_wait(grading_phase()):
            session.start()
            shared: dict[str, Any] = {}
            results = run_checks(session, assignment, checks, seed, device, deadline, oracle, shared)
            version = None if deadline.expired and "notebook_convention" not in shared else notebook_convention(session, seed, shared)
            session.close()

            redefinitions: tuple[str, ...] = ()
            if isinstance(session, StudentSession) and not deadline.expired:  # a live kernel has nothing to replay

                def regrade(skip: dict[int, set[int]], subset: list[tuple[int, CheckSpec]]) -> list[CheckResult]:
                    """The same checks on the same data, with the later definitions' statements skipped."""
                    again = session.without(skip)
                    try:
                        again.start()
                        return run_checks(again, assignment, subset, seed, device, deadline, oracle)
                    finally:
                        again.close()

                with profile.phase("redefinitions"):
                    redefinitions = redefinition_notes(session.definitions, graded_names(assignment), checks, results, regrade)
                if deadline.expired:  # a rerun the deadline cut short compares a partial grade: say nothing
                    redefinitions = ()
    finally:
        with profile.phase("close"):
            session.close()
    # Statements that failed first; those left out by the slicing plan after them.
    issues = sorted(session.issues.values(), key=lambda i: i.status == NOT_RUN)
    statements = tuple(StatementNote(i.cell, i.line, i.status, i.message) for i in issues)
    if session.dropped_issues:
        statements += (StatementNote("notebook", 0, "error", f"... and {session.dropped_issues} more statements that did not run (not listed)."),)
    # Submission-wide codes only when they can explain lost points (a broken plotting
    # cell in an otherwise perfect notebook is listed, not diagnosed).
    lost_points = any(r.score < r.max_score for r in results)
    wide = [s.status for s in statements if s.status in SUBMISSION_WIDE] if lost_points else []
    if session.output_flooded:
        wide.append("output-flood")
    diagnoses = resolve_codes([c for r in results for c in r.diagnoses] + wide)
    return GradeReport(
        submission=label,
        assignment=assignment.name,
        score=round_points(sum(r.score for r in results)),
        max_score=sum(r.max_score for r in results),
        tests=tuple(results),
        diagnoses=tuple(diagnoses),
        seed=seed,
        grader_version=__version__,
        execution_time=round(time.perf_counter() - started, 4),
        statements=statements,
        student_output=session.student_output()[:4000],
        sha256=session.submission.sha256,
        notes=sandbox_notes() + ((deadline.describe() + ": the checks it left no time for scored 0.",) if deadline.expired else ()),
        batch_convention=assignment.batch_convention,
        version_note=version_note(version, assignment.batch_convention),
        redefinitions=redefinitions,
        profile=profile.to_dict(),
        fixes=_form_fixes(assignment, [*diagnoses, *(c for r in results for c in r.diagnoses)]),
    )


def _form_fixes(assignment: Assignment, codes: list[str]) -> dict[str, str]:
    """The fixes of the codes found, worded in the assignment's form (none for the classic one)."""
    worded = assignment_fixes(assignment)
    return {code: worded[code] for code in dict.fromkeys(codes) if code in worded}
