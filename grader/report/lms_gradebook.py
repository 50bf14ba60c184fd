"""Gradebooks an LMS imports as they are: the id columns that LMS matches students by.

- canvas: Canvas's gradebook import (Grades > Import): `Student, ID, SIS User ID, SIS Login
  ID, Section` (Canvas requires these columns; it matches a row by its Canvas user `ID`,
  the number in the export's file names), a `Points Possible` row, then one column for
  the assignment, named by its title (a new name makes a new assignment column in Canvas).
- moodle: the assignment's offline grading worksheet (Upload grading worksheet): Moodle
  matches `Identifier` ("Participant 34567": the number in the export's folder names) and
  reads `Grade` and `Feedback comments`.
- generic: gradebook.csv itself (id, total, max, checks, diagnoses, status, error).

Students whose files did not come from that LMS's export have an empty LMS id; the batch
says how many. Points are formatted by the one rule every report uses (`results.points`).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Callable, Iterable, Mapping

from ..batch.lms import Identity
from ..results import points
from .csv_report import spreadsheet_safe

__all__ = ["LMS_FORMATS", "lms_gradebook"]

Row = tuple[str, "dict[str, Any] | None"]


def _score(record: dict[str, Any] | None) -> str:
    if not record or record.get("status") == "error":
        return ""
    return points(float(record.get("score", 0.0)))


def _comment(record: dict[str, Any] | None, page: str) -> str:
    if not record:
        return "Not graded yet."
    if record.get("status") == "error":
        return "Could not be graded: " + str(record.get("error", "")).splitlines()[0] if record.get("error") else "Could not be graded."
    codes = record.get("diagnoses") or []
    found = f"Mistakes found: {', '.join(codes)}. " if codes else "No mistakes found. "
    return found + f"Details in your feedback page {page}."


def _canvas(rows: Iterable[Row], identities: Mapping[str, Identity], title: str, max_score: float, pages: Mapping[str, str]) -> list[list[str]]:
    table = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", title], ["Points Possible", "", "", "", "", points(max_score)]]
    for student, record in rows:
        identity = identities.get(student)
        canvas = identity is not None and identity.layout == "canvas"
        table.append([identity.name if identity else student, identity.lms_id if canvas else "", "", "", "", _score(record)])
    return table


def _moodle(rows: Iterable[Row], identities: Mapping[str, Identity], title: str, max_score: float, pages: Mapping[str, str]) -> list[list[str]]:
    table = [["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"]]
    for student, record in rows:
        identity = identities.get(student)
        moodle = identity is not None and identity.layout == "moodle"
        table.append([f"Participant {identity.lms_id}" if moodle else "", identity.name if identity else student,
                      _score(record), points(max_score), _comment(record, pages.get(student, f"{student}.html"))])
    return table


LMS_FORMATS: dict[str, Callable[[Iterable[Row], Mapping[str, Identity], str, float, Mapping[str, str]], list[list[str]]]] = {
    "canvas": _canvas,
    "moodle": _moodle,
}
"""LMS name -> table builder; `generic` is gradebook.csv itself."""


def lms_gradebook(lms: str, rows: Iterable[Row], identities: Mapping[str, Identity], title: str, max_score: float, pages: Mapping[str, str] | None = None) -> tuple[str, int]:
    """CSV text for `lms` and the number of rows without that LMS's id (they will not import).

    Rows and `identities` are keyed by the id; `pages` gives each id's feedback page file
    name (the batch stores it under a safe stem), <id>.html when absent."""
    table = LMS_FORMATS[lms](list(rows), identities, title, max_score, pages or {})
    id_column = 1 if lms == "canvas" else 0
    body = table[2:] if lms == "canvas" else table[1:]
    missing = sum(1 for row in body if not row[id_column])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in table:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return out.getvalue(), missing
