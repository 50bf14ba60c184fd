"""Class statistics from the per-student JSON records: what the terminal summary and class.html show.

One pass over the records gives the score distribution, each check's pass rate and mean
score, every diagnosed mistake with all the students who made it (none dropped), and the
slowest and failed submissions. Both the terminal summary (grader/batch/run.py) and the
dashboard (grader/report/dashboard.py) read this, so they never disagree.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["CheckStats", "ClassStats", "RosterRow", "class_stats"]

Row = tuple[str, "dict[str, Any] | None"]


@dataclass(frozen=True)
class CheckStats:
    """One check of the rubric over the class."""

    name: str
    max_score: float
    """Points available."""
    graded: int
    """Students graded on it."""
    passed: int
    """Students with full points."""
    mean: float
    """Mean points earned (over the graded students)."""

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class RosterRow:
    """One student of the class, graded or not."""

    student: str
    """The id, as in the gradebook."""
    score: float | None
    """Total points; None when the submission could not be graded."""
    max_score: float
    """Points available to this student (a check that does not apply, such as an optional file
    not handed in, counts none)."""
    status: str
    """"full marks", "N of M checks failed", or "not graded (KIND)"."""


@dataclass(frozen=True)
class ClassStats:
    """Everything an instructor reads after a batch."""

    max_score: float
    scores: tuple[float, ...]
    """Total score of every graded student."""
    maxima: tuple[float, ...]
    """Each graded student's own maximum, in the order of `scores` (a check that does not apply
    to a student, such as an optional file not handed in, counts none)."""
    checks: tuple[CheckStats, ...]
    """In rubric order."""
    mistakes: tuple[tuple[str, tuple[str, ...]], ...]
    """(code, students who made it), most frequent first; all codes, all students."""
    slowest: tuple[tuple[str, float], ...]
    """(student, seconds), slowest first."""
    failed: tuple[tuple[str, str, str], ...]
    """(student, error kind, one-line reason) of submissions that could not be graded."""
    roster: tuple[RosterRow, ...] = ()
    """Every student, in id order."""

    @property
    def graded(self) -> int:
        return len(self.scores)

    def histogram(self, bins: int = 10) -> list[int]:
        """Students per tenth of the maximum score (the last bin includes full marks)."""
        counts = [0] * bins
        for score, most in zip(self.scores, self.maxima):
            fraction = score / most if most else 0.0
            counts[min(bins - 1, max(0, int(fraction * bins)))] += 1
        return counts

    def describe(self) -> str:
        """Mean, median and full marks, in one line."""
        if not self.scores:
            return "no submission graded"
        full = sum(1 for score, most in zip(self.scores, self.maxima) if score >= most)
        low, high = min(self.maxima), max(self.maxima)
        of = f"{high:g}" if low == high else f"{low:g} to {high:g} (checks that do not apply count none)"
        return (f"mean {statistics.fmean(self.scores):.2f}, median {statistics.median(self.scores):.2f} of {of} points; "
                f"{full} of {self.graded} with full marks")


def class_stats(rows: Iterable[Row], rubric: Sequence[str], max_score: float, slowest: int = 10) -> ClassStats:
    """Statistics of (student, record) rows; a None or error record counts as not graded."""
    scores: list[float] = []
    maxima: list[float] = []
    per_check: dict[str, list[tuple[float, float, bool]]] = {name: [] for name in rubric}
    makers: dict[str, list[str]] = {}
    times: list[tuple[str, float]] = []
    failed: list[tuple[str, str, str]] = []
    roster: list[RosterRow] = []
    for student, record in rows:
        if not record or record.get("status") == "error":
            reason = str((record or {}).get("error") or "no result: run the batch again").splitlines()[0]
            failed.append((student, str((record or {}).get("error_kind") or "missing"), reason))
            roster.append(RosterRow(student, None, max_score, f"not graded ({failed[-1][1]})"))
            continue
        scores.append(float(record.get("score", 0.0)))
        maxima.append(float(record.get("max_score", max_score)))
        times.append((student, float(record.get("execution_time") or 0.0)))
        tests = record.get("tests") or []
        for test in tests:
            per_check.setdefault(str(test.get("name")), []).append(
                (float(test.get("score", 0.0)), float(test.get("max_score", 0.0)), test.get("status") == "passed"))
        lost = sum(1 for test in tests if test.get("status") != "passed")
        roster.append(RosterRow(student, scores[-1], maxima[-1], f"{lost} of {len(tests)} checks failed" if lost or not tests else "full marks"))
        for code in dict.fromkeys(record.get("diagnoses") or []):
            makers.setdefault(str(code), []).append(student)
    checks = tuple(
        CheckStats(name, max((m for _, m, _ in results), default=0.0), len(results), sum(1 for _, _, ok in results if ok),
                   statistics.fmean(s for s, _, _ in results) if results else 0.0)
        for name, results in per_check.items()
    )
    mistakes = tuple((code, tuple(students)) for code, students in sorted(makers.items(), key=lambda item: (-len(item[1]), item[0])))
    return ClassStats(max_score, tuple(scores), tuple(maxima), checks, mistakes, tuple(sorted(times, key=lambda t: -t[1])[:slowest]), tuple(failed),
                      tuple(sorted(roster, key=lambda row: row.student)))
