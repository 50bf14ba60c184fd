"""The class gradebook: one CSV row per student, built from the per-student JSON records.

Columns: id (the student id as the LMS export or the file name gives it; `grade batch` stores the files under a safe stem of it),
total, max, one column per check (points earned), diagnoses (codes joined by ";"), status ("ok", or "error" when the submission could not be graded), error (the one
sentence why). Text cells that a spreadsheet would run as a formula (=, +, -, @) are
prefixed with a quote, because student ids come from file names that students choose.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Sequence

from ..results import points

__all__ = ["gradebook_csv", "check_columns", "format_points", "spreadsheet_safe"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_points(value: Any) -> str:
    """Points as every report shows them (17.76, 19, 0.5: `results.points`), empty for missing."""
    if value is None or value == "":
        return ""
    return points(float(value))


def spreadsheet_safe(value: str) -> str:
    """A text cell a spreadsheet would run as a formula gets a leading quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def check_columns(rubric: Sequence[str], records: Iterable[dict[str, Any]]) -> list[str]:
    """The rubric's checks in order, then any other check found in the records (an older rubric)."""
    names = list(rubric)
    for record in records:
        for test in record.get("tests", []) or []:
            if test.get("name") not in names:
                names.append(test.get("name"))
    return names


def gradebook_csv(rows: Iterable[tuple[str, dict[str, Any] | None]], rubric: Sequence[str], max_score: float) -> str:
    """CSV text for (student id, record) pairs; a None record is a student with no result yet."""
    rows = list(rows)
    checks = check_columns(rubric, [r for _, r in rows if r])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "total", "max", *checks, "diagnoses", "status", "error"])
    for student, record in rows:
        if record is None:
            writer.writerow([spreadsheet_safe(student), "", format_points(max_score), *([""] * len(checks)), "", "error", "no result: run the batch again"])
            continue
        scores = {t.get("name"): t.get("score") for t in record.get("tests", []) or []}
        status = "error" if record.get("status") == "error" else "ok"
        error = str(record.get("error", "")).splitlines()[0] if status == "error" and record.get("error") else ""
        writer.writerow(
            [
                spreadsheet_safe(student),
                format_points(record.get("score", 0.0)),
                format_points(record.get("max_score", max_score)),
                *(format_points(scores.get(name)) for name in checks),
                spreadsheet_safe(";".join(record.get("diagnoses", []) or [])),
                status,
                spreadsheet_safe(error),
            ]
        )
    return out.getvalue()
