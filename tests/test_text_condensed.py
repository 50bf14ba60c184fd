"""The text report says each cause once (grader/report/condense.py); JSON and HTML keep every case.

Every report here is the `grade` command run as a subprocess on a real notebook, as a user runs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade
from grader.results import CheckResult, Finding

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"
STARTING = ROOT / "assignments" / "dense_layer" / "dense_layer.ipynb"
NOT_DEFINED = "`Dense` is not defined in your submission"
ONE_SCREEN = 24
"""Lines of a classic terminal: a passing report fits without scrolling."""


@pytest.fixture(scope="module")
def no_dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The solved sample with its `class Dense` cell deleted."""
    notebook = json.loads(SAMPLE.read_text())
    notebook["cells"] = [c for c in notebook["cells"] if "class Dense" not in "".join(c["source"])]
    path = tmp_path_factory.mktemp("no-dense") / "no_dense.ipynb"
    path.write_text(json.dumps(notebook))
    return path


def _graded(*args: str) -> str:
    result = run_grade(*args)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def test_a_missing_name_is_said_once_with_every_check_it_costs_on_one_line(no_dense: Path) -> None:
    text = _graded(str(no_dense))
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= 40, text
    assert text.count(NOT_DEFINED) == 1, text
    data = json.loads(_graded(str(no_dense), "--format", "json"))
    failed = [t["name"] for t in data["tests"] if t["status"] == "failed"]
    assert len(failed) >= 10
    listing = next(line for line in lines if line.startswith("It fails every check that needs it:"))
    assert listing == f"It fails every check that needs it: {', '.join(failed)}.", listing
    # JSON keeps every case of every check: the sentence once per failed case.
    assert sum(t["output"].count(NOT_DEFINED) for t in data["tests"]) == sum(t["cases"][1] for t in data["tests"] if t["status"] == "failed")


def test_a_mismatch_is_detailed_for_the_first_case_only_when_the_mistake_repeats() -> None:
    text = _graded(str(SAMPLE))
    section = text[text.index("dense-update-weights: 0 of 2 points"):text.index("dense-gradcheck: ")]
    assert section.count("Mismatched elements:") == 1 and "(N=7, in=5, out=3, lr=0.037)" in section, section
    assert "(the same for 2 more cases: grad-weights-mean)" in section
    data = json.loads(_graded(str(SAMPLE), "--format", "json"))
    output = next(t["output"] for t in data["tests"] if t["name"] == "dense-update-weights")
    assert output.count("Mismatched elements:") == 3, "JSON keeps every case's detail"


def test_statements_left_out_by_slicing_are_one_line_and_listed_in_verbose_json_and_html(tmp_path: Path) -> None:
    text = _graded(str(SAMPLE))
    assert "did not run (the rest was graded)" not in text and "not needed for grading" not in text
    summary = [line for line in text.splitlines() if line.startswith("Not run, as grading does not need them:")]
    assert summary == ["Not run, as grading does not need them: 3 statements (cell 13, cell 16, cell 18); --verbose lists them."], text
    verbose = _graded(str(SAMPLE), "--verbose")
    assert verbose.count(": not-run: not needed for grading") == 3
    page = tmp_path / "sample.html"
    data = json.loads(_graded(str(SAMPLE), "--format", "json", "--html", str(page)))
    assert sum(1 for s in data["statements"] if s["status"] == "not-run") == 3
    assert page.read_text().count("not needed for grading") == 3


def test_a_passing_report_fits_on_one_screen() -> None:
    text = _graded(str(SUBMISSIONS / "correct_np_dot.ipynb"))
    assert len(text.rstrip("\n").splitlines()) <= ONE_SCREEN, text
    assert "Every check passed" in text and "23 / 23 points" in text.splitlines()[-1]


def test_the_untouched_notebook_names_each_placeholder_once_under_grade_check() -> None:
    result = run_grade("check", str(STARTING))
    assert result.returncode == 1, result.stderr
    for method in ("Dense.forward", "Dense.backward", "ReLU.forward"):
        assert result.stdout.count(f"{method} still raises NotImplementedError") == 1, result.stdout
    assert "It fails every check that needs it: dense-grad-input, dense-gradcheck, dense-batch-semantics." in result.stdout
    assert len(result.stdout.splitlines()) <= 50, result.stdout


def _check(name: str, output: str, findings: tuple[Finding, ...] = ()) -> CheckResult:
    return CheckResult(name, 0.0, 1.0, "failed", output, "visible", ("exception",), findings=findings)


def test_cases_fold_only_when_their_text_or_their_mistake_is_the_same() -> None:
    from grader.report.condense import condensed_sections

    mismatch = "grad_input ({}): not equal to the reference (relative error {} > tolerance 1e-05)\nMax absolute difference: {}"
    output = "\n".join([mismatch.format("N=7", 0.5, 3.1), mismatch.format("N=2", 0.25, 1.2), mismatch.format("N=5", 0.5, 0.7)])
    findings = (Finding(2, ("grad-input-wrong",)), Finding(2, ("grad-input-wrong",)), Finding(2, ("update-before-grad-input",)))
    (section,) = condensed_sections([_check("dense-grad-input", output + "\nWhat to do: fix it.", findings)])
    assert section.lines == (*output.splitlines()[:2], "(the same for 1 more case: grad-input-wrong)", *output.splitlines()[4:]), section.lines
    # Without findings (an older record), a check is one case: identical outputs of two checks are still one cause.
    sections = condensed_sections([_check("a", "[x] boom"), _check("b", "[y] boom"), _check("c", "other")])
    assert [s.lines for s in sections] == [("boom", "It fails every check that needs it: a, b."), ("other",)]
