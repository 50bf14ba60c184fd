"""The `grade` command as a user runs it: a subprocess, real files, exit codes, output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade


def test_text_report_of_reference(reference_notebook: Path) -> None:
    result = run_grade(str(reference_notebook))
    assert result.returncode == 0, result.stderr
    assert re.search(r"reference\.ipynb: (\d+) / \1\b", result.stdout), result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_json_report_is_only_json_and_gradescope_superset(reference_notebook: Path) -> None:
    result = run_grade(str(reference_notebook), "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["score"] == data["max_score"] > 0
    for key in ("tests", "diagnoses", "seed", "grader_version", "execution_time"):
        assert key in data
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility", "diagnoses"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")


def test_gradescope_format_writes_results_file(reference_notebook: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = run_grade(str(reference_notebook), "--format", "gradescope", "--output", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert set(data) >= {"score", "tests"} and all("diagnoses" not in t for t in data["tests"])


def test_mistake_is_named_with_a_fix() -> None:
    result = run_grade(str(SUBMISSIONS / "grad_weights_mean.ipynb"))
    assert result.returncode == 0, result.stderr
    assert "grad-weights-mean" in result.stdout
    assert "sum over the batch" in result.stdout


def test_same_seed_same_scores() -> None:
    path = str(SUBMISSIONS / "forward_missing_bias.ipynb")
    first = json.loads(run_grade(path, "--format", "json", "--seed", "7").stdout)
    second = json.loads(run_grade(path, "--format", "json", "--seed", "7").stdout)
    assert [t["score"] for t in first["tests"]] == [t["score"] for t in second["tests"]]
    assert first["seed"] == second["seed"] == 7


@pytest.mark.parametrize(
    "content, name, message",
    [
        pytest.param("{oops", "bad.ipynb", "is not valid JSON", id="invalid-json"),
        pytest.param("just text", "notes.txt", "neither a Jupyter notebook", id="not-a-notebook"),
        pytest.param('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "empty.ipynb", "contains no code", id="empty"),
    ],
)
def test_unreadable_input_exits_2_with_one_sentence(tmp_path: Path, content: str, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = run_grade(str(path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run_grade(str(tmp_path / "absent.ipynb"))
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_check_subcommand_runs_public_checks_only(reference_notebook: Path) -> None:
    result = run_grade("check", str(reference_notebook), "--assignment", "dense_layer", "--format", "json")
    assert result.returncode == 0, result.stderr
    names = {t["name"] for t in json.loads(result.stdout)["tests"]}
    assert "dense-forward" in names and "dense-update-weights" not in names


def test_check_subcommand_exit_1_on_failure() -> None:
    result = run_grade("check", str(SUBMISSIONS / "forward_missing_bias.ipynb"), "--assignment", "dense_layer")
    assert result.returncode == 1


@pytest.mark.parametrize("content", [pytest.param("", id="zero-bytes"), pytest.param("\n  \n", id="blank")])
def test_an_empty_file_is_called_empty_and_still_gets_a_feedback_page(tmp_path: Path, content: str) -> None:
    path, page = tmp_path / "dense_layer.ipynb", tmp_path / "feedback.html"
    path.write_text(content)
    result = run_grade(str(path), "--html", str(page))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("grade: ")]
    assert errors == ["grade: dense_layer.ipynb: the file is empty; save your notebook in Jupyter and hand in the saved file again."], result.stderr
    assert "not valid JSON" not in result.stderr
    text = page.read_text()
    assert "could not be graded" in text and "the file is empty" in text and "<script" not in text
    assert f"Wrote feedback page: {page}" in result.stderr


def test_files_written_are_announced_on_stderr_and_stdout_stays_the_report(reference_notebook: Path, tmp_path: Path) -> None:
    page, report = tmp_path / "feedback.html", tmp_path / "report.json"
    result = run_grade(str(reference_notebook), "--format", "json", "--html", str(page), "--output", str(report))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(report.read_text())
    assert result.stderr.splitlines() == [f"Wrote report: {report}", f"Wrote feedback page: {page}"]
    assert page.read_text().startswith("<!DOCTYPE html>")
    text = run_grade(str(reference_notebook), "--html", str(page))
    assert text.stderr.splitlines() == [f"Wrote feedback page: {page}"] and "points (100%)" in text.stdout.splitlines()[-1]
