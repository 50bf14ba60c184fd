"""JSON reports: our full schema (a superset of Gradescope's results.json) and Gradescope's own."""

from __future__ import annotations

import json
from typing import Any

from ..results import GRADESCOPE_VISIBILITY, GradeReport
from .digest import checks_by_mistake

__all__ = ["to_json", "to_gradescope", "gradescope_error"]


def to_json(report: GradeReport) -> str:
    """Everything: score, tests with diagnoses, top-level diagnoses, seed, version, timing."""
    return json.dumps(report.to_dict(), indent=2, default=_plain)


def to_gradescope(report: GradeReport) -> str:
    """Only the keys Gradescope reads (plus diagnoses per test, which it ignores)."""
    data = {
        "score": report.score,
        "execution_time": report.execution_time,
        "output": _mistakes_and_fixes(report),
        "visibility": "visible",
        "tests": [
            {
                "name": t.name,
                "score": t.score,
                "max_score": t.max_score,
                "status": t.status,
                "output": t.output,
                "visibility": t.visibility,
            }
            for t in report.tests
        ],
    }
    return json.dumps(data, indent=2)


def _mistakes_and_fixes(report: GradeReport) -> str:
    """Gradescope's top-level text: each mistake once with its fix, and the visible checks that found it."""
    if not report.diagnoses:
        return "No mistakes found."
    visible = {t.name for t in report.tests if t.visibility == GRADESCOPE_VISIBILITY["public"]}
    where = checks_by_mistake(report)
    lines = ["Mistakes found, each with its fix:"]
    for code in report.diagnoses:
        checks = [name for name in where.get(code, []) if name in visible]
        fix = report.fix(code)
        lines.append(f"- {code}{' (' + ', '.join(checks) + ')' if checks else ''}{': ' + fix if fix else ''}")
    return "\n".join(lines)


def gradescope_error(message: str) -> str:
    """A valid results.json for a submission that could not be graded: Gradescope shows `output`."""
    data: dict[str, Any] = {
        "score": 0.0,
        "output": f"Your submission could not be graded: {message}",
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": [],
    }
    return json.dumps(data, indent=2)


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")
