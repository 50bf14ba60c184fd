"""Results as frozen dataclasses, serialised through one `to_dict` (a superset of Gradescope's results.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .safetext import utf8_safe

__all__ = ["CheckResult", "StatementNote", "GradeReport", "GRADESCOPE_VISIBILITY", "points"]

GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "after_published"}


def _utf8_fields(result: object) -> None:
    """Make every string field UTF-8-safe once, here, so no renderer can crash on one."""
    for name, value in vars(result).items():
        if isinstance(value, (str, tuple, list, dict)):
            object.__setattr__(result, name, utf8_safe(value))


def points(value: float) -> str:
    """Points as people read them: 18.33, 2, 0.5 (the JSON keeps full precision)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


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
    not_checked: str = ""
    """What this report did not look at (the student's public self-check); every renderer shows it."""
    profile: dict[str, Any] = field(default_factory=dict)
    """Where the grading time went: {"phases": {name: {"wall", "cpu"}}, "counts": {...}} (grader/profiling.py)."""

    def __post_init__(self) -> None:
        _utf8_fields(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
