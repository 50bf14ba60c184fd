"""`grade check` on real-style student notebooks (tests/student_submissions/, built from the
released notebook by its build.py): each mistake is named by the public checks, from the
student's own code and the released bundle only, with the check that found it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_grade
from grader.student.release import release

STUDENT = Path(__file__).resolve().parent / "student_submissions"
CASES = sorted(STUDENT.glob("*.expected.json"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release")
    release("dense_layer", out)
    return out / "public_checks.json"


def test_every_mistake_of_the_issue_has_a_notebook() -> None:
    named = {json.loads(p.read_text())["diagnosis"] for p in CASES}
    assert {"grad-weights-transposed", "update-sign", "grad-bias-not-summed", "grad-bias-wrong-axis", "not-implemented"} <= named


@pytest.mark.parametrize("expected_file", [pytest.param(p, id=p.name.split(".")[0]) for p in CASES])
def test_grade_check_names_the_mistake(bundle: Path, expected_file: Path) -> None:
    expected = json.loads(expected_file.read_text())
    notebook = STUDENT / expected_file.name.replace(".expected.json", ".ipynb")
    result = run_grade("check", str(notebook), "--bundle", str(bundle), "--format", "json")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr
    report = json.loads(result.stdout)
    by_name = {t["name"]: t for t in report["tests"]}
    assert expected["diagnosis"] in by_name[expected["check"]]["diagnoses"], by_name[expected["check"]]
    assert by_name[expected["check"]]["status"] == "failed"
    assert set(report["diagnoses"]) <= {expected["diagnosis"], "exception"}, report["diagnoses"]  # a code only where it explains


def test_unwritten_train_fails_by_name(bundle: Path) -> None:
    """The issue's notebook: everything written but `train`. `grade check` used to say every
    public check passed; now the train-runs row fails, naming train and the placeholder."""
    result = run_grade("check", str(STUDENT / "train_unwritten.ipynb"), "--bundle", str(bundle))
    assert result.returncode == 1, result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("train-runs")]
    assert rows and "FAILED" in rows[0] and "not-implemented" in rows[0], result.stdout
    assert "train(network, X, y) still raises NotImplementedError" in result.stdout
    assert "Every public check passed" not in result.stdout


def test_public_report_lists_what_is_left_and_shows_no_percentage(bundle: Path) -> None:
    result = run_grade("check", str(STUDENT / "update_uphill.ipynb"), "--bundle", str(bundle))
    data = json.loads(bundle.read_text())
    hidden = data["hidden_checks"]
    assert hidden and all(f"{c['name']} ({c['points']:g} points)" in result.stdout for c in hidden), result.stdout
    assert "graded after the deadline" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert "public points" in last and "%" not in last, last
