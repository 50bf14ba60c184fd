"""The terminal report as a student reads it (pytest's layout) and the command's conventions.

Every test runs `grade` as a subprocess, as a user does; the two graded reports are shared
by the module (one run each).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"
FIX = "Your weight gradient is divided by the batch size"


@pytest.fixture(scope="module")
def sample_text() -> str:
    result = run_grade(str(SAMPLE))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def transposed() -> tuple[str, str]:
    text = run_grade(str(SUBMISSIONS / "forward_transposed_weights.ipynb")).stdout
    html_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"grader-layout-{os.getpid()}.html"
    run_grade(str(SUBMISSIONS / "forward_transposed_weights.ipynb"), "--html", str(html_path))
    page = html_path.read_text()
    html_path.unlink()
    return text, page


def test_summary_is_last_and_each_fix_is_printed_once(sample_text: str) -> None:
    lines = sample_text.rstrip("\n").splitlines()
    from grader.assignment import load_assignment

    total = sum(c.points for c in load_assignment("dense_layer").checks)
    assert f"17.76 / {total:g} points" in lines[-1] and "failed" in lines[-1], lines[-1]
    summary = sample_text.index("= summary =")
    assert summary > sample_text.index("dense-update-weights: 0 of 2 points"), "detail comes before the summary"
    assert sample_text.count(FIX) == 1 and sample_text.index(FIX) > summary
    fix_line = next(line for line in lines if FIX in line)
    assert fix_line.startswith("  grad-weights-mean [dense-update-weights, dense-batch-semantics") and fix_line.endswith("don't average.")
    assert len(fix_line) > 150, "piped output is not hard-wrapped to a terminal width"


def test_readme_tells_what_the_sample_scores_and_how_to_grade_the_mean_version(sample_text: str) -> None:
    readme = (ROOT / "README.md").read_text()
    claimed = re.search(r"scores \*\*([\d.]+ / \d+)\*\*", readme)
    assert claimed and f"{claimed.group(1)} points" in sample_text.rstrip().splitlines()[-1]
    assert "(`grad-weights-mean`)" in readme and "grad-weights-mean [" in sample_text
    assert "`grade SUBMISSION --assignment dense_layer_mean`" in readme
    assert re.search(r"The whole suite[^.]*takes about \d", readme), "the README says how long the tests take"


def test_fractions_say_what_they_count(sample_text: str) -> None:
    batch_line = next(line for line in sample_text.splitlines() if line.startswith("dense-batch-semantics "))
    assert "1.43/2" in batch_line and "5 of 7 cases passed" in batch_line, batch_line
    assert "1.43 of 2 points" in sample_text
    timing = next(line for line in sample_text.splitlines() if line.startswith("dense-timing "))
    assert "× the reference" in timing, "the timing check shows its measured ratio"


def test_identical_tracebacks_are_shown_once_and_cells_are_counted_as_in_jupyter(transposed: tuple[str, str]) -> None:
    text, page = transposed
    # Six cases of four checks fail in the same frame: one traceback; network-learns fails deeper (train -> forward -> Dense), its own.
    # The text view folds a check's second case of the same mistake (dense-forward, dense-gradcheck): four showings are left.
    assert text.count("Traceback (student code, most recent call last; the same for 4 cases):") == 1, text
    assert text.count("Traceback (student code") == 2 and text.count("(the same traceback as under dense-forward above)") == 3
    assert text.count("(the same for 1 more case: exception)") == 2
    cells = json.loads((SUBMISSIONS / "forward_transposed_weights.ipynb").read_text())["cells"]
    position = next(i for i, c in enumerate(cells, 1) if "self.weights.T + self.biases" in "".join(c["source"]))
    code_position = sum(1 for c in cells[:position] if c["cell_type"] == "code")
    assert position != code_position, "the fixture must have markdown cells before the layer"
    assert f'File "<submission cell {position}, code cell {code_position}>", line' in text
    assert page.count("Traceback (student code") == 2
    assert page.count("Your forward pass uses the transposed weights") == 1, "one fix once in the HTML too"


def test_help_lists_every_subcommand_and_python_m_grader_works() -> None:
    result = subprocess.run([sys.executable, "-m", "grader", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    from grader.cli import SUBCOMMANDS

    assert {"check", "batch", "gradescope"} <= set(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        assert f"grade {name} " in result.stdout, name
    version = run_grade("batch", "--version")
    assert version.returncode == 0 and version.stdout.startswith("grade batch ")


@pytest.mark.parametrize(
    "option, target, message",
    [
        pytest.param("--output", "missing/report.json", "does not exist", id="output-missing-folder"),
        pytest.param("--html", "missing/feedback.html", "does not exist", id="html-missing-folder"),
        pytest.param("--html", "a-file/feedback.html", "is a file, not a folder", id="html-under-a-file"),
    ],
)
def test_output_into_a_folder_that_cannot_hold_it_is_one_sentence(tmp_path: Path, option: str, target: str, message: str) -> None:
    (tmp_path / "a-file").write_text("x")
    result = run_grade(str(SUBMISSIONS / "reference.ipynb"), option, str(tmp_path / target))
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("language, kernel", [pytest.param("R", "ir", id="R"), pytest.param("julia", "julia-1.10", id="julia")])
def test_a_notebook_in_another_language_is_refused(tmp_path: Path, language: str, kernel: str) -> None:
    notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                "source": "Dense <- function(n_in, n_out) list(W = matrix(rnorm(n_in * n_out), n_in))"}],
                "metadata": {"kernelspec": {"name": kernel, "display_name": language, "language": language}}}
    path = tmp_path / "solution.ipynb"
    path.write_text(json.dumps(notebook))
    result = run_grade(str(path))
    assert result.returncode == 2 and f"is a {language} notebook" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_submission_still_gets_a_gradescope_results_file(tmp_path: Path) -> None:
    bad = tmp_path / "submission.ipynb"
    bad.write_text("{not json")
    results = tmp_path / "results.json"
    result = run_grade(str(bad), "--format", "gradescope", "-o", str(results))
    assert result.returncode == 2 and "is not valid JSON" in result.stderr
    data = json.loads(results.read_text())
    assert data["score"] == 0 and data["tests"] == [] and "could not be graded" in data["output"] and "not valid JSON" in data["output"]
