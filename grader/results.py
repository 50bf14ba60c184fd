"""Results as frozen dataclasses, serialised through one `to_dict` (a superset of Gradescope's results.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .safetext import utf8_safe

__all__ = ["CheckResult", "Finding", "StatementNote", "GradeReport", "GRADESCOPE_VISIBILITY", "points", "round_points", "SCORE_DECIMALS"]

GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "after_published"}


SCORE_DECIMALS = 2
"""The one rounding rule for points: a check's score is rounded to this many decimals when it
is scored (grader/engine.py), the total is the sum of those, and every output (text, HTML,
JSON, Gradescope, gradebooks) shows that same number."""


def round_points(value: float) -> float:
    """Points rounded by the one rule (SCORE_DECIMALS)."""
    return round(float(value), SCORE_DECIMALS) + 0.0


def _utf8_fields(result: object) -> None:
    """Make every string field UTF-8-safe once, here, so no renderer can crash on one."""
    for name, value in vars(result).items():
        if isinstance(value, (str, tuple, list, dict)):
            object.__setattr__(result, name, utf8_safe(value))


def points(value: float) -> str:
    """Points as people read them: 17.76, 2, 0.5 (already rounded by `round_points`)."""
    text = f"{round_points(value):.{SCORE_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Finding:
    """One failed case's part of a check's `output`, so a report can fold cases with one cause."""

    lines: int
    """How many lines of `output` the case's message spans (the findings follow each other from the first line)."""
    codes: tuple[str, ...] = ()
    """Mistake codes this case alone earned (empty when the check did not record them)."""


@dataclass(frozen=True)
class CheckResult:
    """The result of one check of the rubric."""

    name: str
    """The check's stable name, e.g. "dense-forward"."""
    score: float
    """Points earned."""
    max_score: float
    """Points available."""
    status: str
    """"passed" (full points) or "failed"."""
    output: str
    """Student-facing text: what failed, where, and the next step."""
    visibility: str
    """Gradescope visibility: visible or after_published."""
    diagnoses: tuple[str, ...] = ()
    """Mistake codes (MISTAKES.md) that explain this check's failures."""
    description: str = ""
    """What the check verifies, one line."""
    details: dict[str, Any] = field(default_factory=dict)
    """Extra data for rich reports (plots); JSON-compatible."""
    cases: tuple[int, ...] = ()
    """(passed, total): the cases behind a partial score, so reports can say "5 of 7 cases"."""
    findings: tuple[Finding, ...] = ()
    """How `output` splits into the failed cases' messages, with each case's codes (the text view folds repeats)."""

    def __post_init__(self) -> None:
        _utf8_fields(self)


@dataclass(frozen=True)
class StatementNote:
    """A top-level statement of the submission that failed or was skipped while loading."""

    cell: str
    line: int
    status: str
    message: str

    def __post_init__(self) -> None:
        _utf8_fields(self)


@dataclass(frozen=True)
class GradeReport:
    """Everything one grading run found."""

    submission: str
    """Path of the graded file."""
    assignment: str
    """Assignment name."""
    score: float
    max_score: float
    tests: tuple[CheckResult, ...]
    diagnoses: tuple[str, ...]
    """Union of the checks' diagnoses plus submission-wide ones (syntax-error, output-flood)."""
    seed: int
    """Seed of the random data: the same seed gives the same data and scores."""
    grader_version: str
    execution_time: float
    """Seconds spent grading."""
    statements: tuple[StatementNote, ...] = ()
    """Statements of the notebook that failed or were skipped (downloads, plots, syntax errors)."""
    student_output: str = ""
    """The head of what the submission printed (never trusted, only shown)."""
    notes: tuple[str, ...] = ()
    """Messages about the grading itself (sandbox layers, device)."""
    sha256: str = ""
    """Content hash of the submission file."""
    batch_convention: str = "sum"
    """The rubric's batch convention ("sum" or "mean"): the fixes are worded for it."""
    version_note: str = ""
    """Set when the notebook is the other version of the assignment than the rubric's (said once, at the top)."""
    redefinitions: tuple[str, ...] = ()
    """Graded names defined more than once where an earlier definition would have scored more."""
    not_checked: str = ""
    """What this report did not look at (the student's public self-check); every renderer shows it."""
    profile: dict[str, Any] = field(default_factory=dict)
    """Where the grading time went: {"phases": {name: {"wall", "cpu"}}, "counts": {...}} (grader/profiling.py)."""
    fixes: dict[str, str] = field(default_factory=dict)
    """Code -> its fix worded in the assignment's form (grader/interfaces); codes not here use the catalogue's."""

    def __post_init__(self) -> None:
        _utf8_fields(self)

    def fix(self, code: str) -> str:
        """The one-line fix for `code` as this report's assignment words it."""
        from .diagnose import advice

        return self.fixes.get(code) or advice(code, self.batch_convention)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.fixes:  # the classic form's reports keep their exact shape
            del data["fixes"]
        return data
