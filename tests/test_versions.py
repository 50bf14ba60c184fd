"""Both versions of the assignment: each notebook under its own rubric and under the other.

The older version (assignments/dense_layer_mean) hands the layer an undivided loss gradient
and asks it to average; the current one divides and asks it to sum. The grader tells which
version a notebook is from the notebook's own loss gradient (run in the sandbox) and says so
once at the top when it differs from the rubric's; every description and fix follows the
rubric's convention.
"""

from __future__ import annotations

import json

import pytest

from conftest import SUBMISSIONS, run_grade
from grader.assignment import ASSIGNMENTS_DIR, load_assignment
from grader.diagnose import ADVICE_TEMPLATES, advice
from grader.engine import grade_file
from grader.report.html import render_html
from grader.report.text import text_report

MEAN_NOTEBOOK = SUBMISSIONS / "mean_version_correct.ipynb"
SUM_NOTEBOOK = SUBMISSIONS / "reference.ipynb"


@pytest.fixture(scope="module")
def mean_notebook_under_sum():
    return grade_file(MEAN_NOTEBOOK, assignment=load_assignment("dense_layer"))


@pytest.fixture(scope="module")
def sum_notebook_under_mean():
    return grade_file(SUM_NOTEBOOK, assignment=load_assignment("dense_layer_mean"))


def test_mean_version_is_shipped_like_the_current_one() -> None:
    mean, current = load_assignment("dense_layer_mean"), load_assignment("dense_layer")
    assert mean.batch_convention == "mean" and current.batch_convention == "sum"
    assert [(c.name, c.function, c.points, c.params) for c in mean.checks] == [(c.name, c.function, c.points, c.params) for c in current.checks]
    assert sorted(p.name for p in (ASSIGNMENTS_DIR / "dense_layer_mean").iterdir()) == ["assignment.toml", "dense_layer_mean.ipynb", "sample_submission.ipynb"]
    skeleton = json.loads((ASSIGNMENTS_DIR / "dense_layer_mean" / "dense_layer_mean.ipynb").read_text())
    text = "".join("".join(c["source"]) for c in skeleton["cells"])
    assert "return softmax - ones_for_answers" in text and "/ logits.shape[0]" not in text and "NOT divided by the batch size" in text
    assert "**Why a mean over the batch?**" in text and "Why a sum" not in text


def test_older_notebook_under_the_current_rubric_gets_the_note_and_the_mean_codes(mean_notebook_under_sum) -> None:
    report = mean_notebook_under_sum
    assert "grad-weights-mean" in report.diagnoses and "grad-bias-mean" in report.diagnoses
    assert report.version_note.startswith("This notebook is the older version")
    assert "--assignment dense_layer_mean" in report.version_note
    text = text_report(report)
    assert text.count("This notebook is the older version") == 1
    assert text.index("This notebook is the older version") < text.index("Mistakes, each with its fix")
    assert render_html(report).count("This notebook is the older version") == 1
    gradcheck = {t.name: t for t in report.tests}["dense-gradcheck"].output
    assert "your step is the mean over the batch" in gradcheck and "Make forward and backward describe the same function" not in gradcheck


def test_older_notebook_scores_full_under_its_own_rubric_in_json() -> None:
    run = run_grade(str(MEAN_NOTEBOOK), "--assignment", "dense_layer_mean", "--format", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["score"] == report["max_score"] and report["diagnoses"] == []
    assert report["version_note"] == "" and report["batch_convention"] == "mean"


def test_current_notebook_under_the_older_rubric_is_worded_for_the_mean(sum_notebook_under_mean) -> None:
    report = sum_notebook_under_mean
    assert report.version_note.startswith("This notebook is the current version")
    assert {"grad-weights-sum", "grad-bias-sum"} <= set(report.diagnoses)
    by_name = {t.name: t for t in report.tests}
    assert by_name["dense-batch-semantics"].description.startswith("A batch's update is the mean of per-sample updates")
    assert "meanₙ grad_outputₙ" in by_name["dense-update-biases"].description
    for test in report.tests:  # no fix tells a student of the older version to sum
        assert "grad_output.sum(axis=0)" not in test.output and "Use input.T @ grad_output." not in test.output, test.output
    assert "this assignment's is the mean" in by_name["dense-gradcheck"].output
    assert "input.T @ grad_output / input.shape[0]" in by_name["dense-update-weights"].output


@pytest.mark.parametrize("code", sorted(c for c in ADVICE_TEMPLATES if c.startswith(("grad-weights", "grad-bias"))))
def test_every_batch_fix_follows_the_convention(code: str) -> None:
    mean = advice(code, "mean")
    assert "{" not in mean and "{" not in advice(code, "sum")
    assert ".sum(axis=0)" not in mean and "sum over the batch (" not in mean or code == "grad-weights-mean"
