"""Every real submission under tests/submissions/ against its expected result.

Each `<name>.expected.json` says which checks must lose points (all others must keep full
points) and which diagnoses the report must name; correct submissions must get full marks
and no diagnosis beyond float32-downcast. Each is graded with the rubric its expectation names
(`assignment`, default dense_layer), so no report may carry a version note.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import expected_results
from grader.assignment import load_assignment
from grader.engine import grade_file

CASES = expected_results()


@pytest.fixture(scope="module")
def assignments() -> dict:
    """Rubrics by name, loaded once: most submissions use dense_layer, the older version its own."""
    return {}


@pytest.mark.parametrize("path, expected", [pytest.param(p, e, id=p.name) for p, e in CASES])
def test_submission_scores_as_expected(path: Path, expected: dict, assignments: dict) -> None:
    name = expected.get("assignment", "dense_layer")
    assignment = assignments.setdefault(name, load_assignment(name))
    report = grade_file(path, assignment=assignment)
    assert not report.version_note, report.version_note  # each is graded with the rubric of its own version
    by_name = {t.name: t for t in report.tests}
    failed = set(expected.get("failed", []))
    unknown = failed - set(by_name) - {"dense-timing"}
    assert not unknown, f"expectation names unknown checks {unknown}"
    for name, test in by_name.items():
        if name in failed:
            assert test.score < test.max_score, f"{name} should lose points:\n{test.output}"
        else:
            assert test.score == test.max_score, f"{name} should keep full points, got {test.score}:\n{test.output}"
    wanted = set(expected.get("diagnoses", []))
    if expected.get("full_marks"):
        assert report.score == report.max_score
        assert set(report.diagnoses) <= {"float32-downcast"}, report.diagnoses
        assert set(report.diagnoses) == wanted, report.diagnoses
    else:
        assert wanted <= set(report.diagnoses), f"missing diagnoses {wanted - set(report.diagnoses)}; got {report.diagnoses}"
        # A code only when it explains the output: nothing beyond what the notebook did.
        assert set(report.diagnoses) <= wanted, f"unexplained diagnoses {set(report.diagnoses) - wanted}"
    for code in report.diagnoses:
        assert any(code in t.diagnoses for t in report.tests) or code in ("syntax-error", "output-flood"), f"{code} is on no check"
