"""A resumed `grade batch` regrades what the grade depends on: the rubric, not only the files.

Real notebooks, real subprocesses. One small class (two students, --jobs 2) is graded once
per module against a copy of assignments/dense_layer; each test copies the results folder
before resuming, so the tests stay independent and the module stays short.
"""

from __future__ import annotations

import csv
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, copy_assignment, grade_command, run_grade

CLASS = {"alice": "reference.ipynb", "carol": "forward_wrong.ipynb"}


def _gradebook(results: Path) -> dict[str, dict[str, str]]:
    with open(results / "gradebook.csv", newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def _mtimes(results: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("resume")
    folder = base / "subs"
    folder.mkdir()
    for student, source in CLASS.items():
        shutil.copy(SUBMISSIONS / source, folder / f"{student}.ipynb")
    rubric = base / "dense_layer"
    copy_assignment(rubric)
    results = base / "results"
    run = run_grade("batch", str(folder), "--out", str(results), "--jobs", "2", "--no-html", "--assignment", str(rubric))
    assert run.returncode == 0, run.stderr
    return folder, rubric, results


def _copy(graded: tuple[Path, Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    folder, rubric, results = graded
    shutil.copytree(rubric, tmp_path / "dense_layer")
    shutil.copytree(results, tmp_path / "results")
    return folder, tmp_path / "dense_layer", tmp_path / "results"


def _batch(folder: Path, rubric: Path, results: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_grade("batch", str(folder), "--out", str(results), "--jobs", "2", "--no-html", "--assignment", str(rubric), *extra)


def test_moved_points_and_tolerance_regrade_a_resumed_batch(graded: tuple[Path, Path, Path], tmp_path: Path) -> None:
    folder, rubric, results = _copy(graded, tmp_path)
    assert _gradebook(results)["alice"]["dense-forward"] == "2"
    toml = rubric / "assignment.toml"
    text = toml.read_text()
    # One point moves from dense-forward to dense-grad-input: same checks, same total.
    text = text.replace('name = "dense-forward"\nfunction = "dense.forward"\npoints = 2', 'name = "dense-forward"\nfunction = "dense.forward"\npoints = 1')
    text = text.replace('name = "dense-grad-input"\nfunction = "dense.grad_input"\npoints = 2', 'name = "dense-grad-input"\nfunction = "dense.grad_input"\npoints = 3')
    assert text != toml.read_text()
    toml.write_text(text)
    resumed = _batch(folder, rubric, results)
    assert resumed.returncode == 0, resumed.stderr
    assert "0 already graded and unchanged; grading 2 " in resumed.stdout
    book = _gradebook(results)
    assert (book["alice"]["dense-forward"], book["alice"]["dense-grad-input"]) == ("1", "3")
    assert book["alice"]["total"] == book["alice"]["max"]  # same total: the point moved, alice keeps full marks
    # A tolerance alone (no points moved) regrades too.
    before = _mtimes(results)
    toml.write_text(text.replace("rtol = 1e-4 }", "rtol = 2e-4 }"))
    again = _batch(folder, rubric, results)
    assert "0 already graded and unchanged; grading 2 " in again.stdout
    assert all(_mtimes(results)[name] != stamp for name, stamp in before.items())
    unchanged = _batch(folder, rubric, results)
    assert "2 already graded and unchanged; grading 0 " in unchanged.stdout


def test_force_and_only(graded: tuple[Path, Path, Path], tmp_path: Path) -> None:
    folder, rubric, results = _copy(graded, tmp_path)
    before = _mtimes(results)
    only = _batch(folder, rubric, results, "--only", "carol")
    assert only.returncode == 0, only.stderr
    after = _mtimes(results)
    assert after["alice.json"] == before["alice.json"] and after["carol.json"] != before["carol.json"]
    assert set(_gradebook(results)) == {"alice", "carol"}  # the gradebook still lists everyone
    forced = _batch(folder, rubric, results, "--force")
    assert "grading 2 " in forced.stdout
    assert all(_mtimes(results)[name] != stamp for name, stamp in after.items())
    unknown = _batch(folder, rubric, results, "--only", "mallory")
    assert unknown.returncode == 2 and "--only: no submission for mallory" in unknown.stderr and "Traceback" not in unknown.stderr


def test_interrupted_batch_writes_the_gradebook_of_what_is_done(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    for i, source in enumerate(["reference.ipynb", "correct_np_dot.ipynb", "forward_wrong.ipynb", "relu_wrong.ipynb", "correct_einsum.ipynb", "update_sign.ipynb"]):
        shutil.copy(SUBMISSIONS / source, folder / f"s{i}.ipynb")
    results = tmp_path / "results"
    command = [*grade_command(), "batch", str(folder), "--out", str(results), "--jobs", "1", "--no-html"]
    batch = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(results.glob("s*.json")) and time.monotonic() < deadline and batch.poll() is None:
            time.sleep(0.05)
        batch.send_signal(signal.SIGTERM)
        _, err = batch.communicate(timeout=60)
    finally:
        batch.kill()
    assert batch.returncode == 130, err
    book = _gradebook(results)
    done = [row for row in book.values() if row["status"] == "ok"]
    assert len(book) == 6 and 1 <= len(done) < 6, book
    assert all(row["error"] == "no result: run the batch again" for row in book.values() if row["status"] != "ok")
    assert "gradebook.csv lists the" in err


def test_every_submission_errored_exits_non_zero(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    for student in ("ann", "ben"):
        (folder / f"{student}.ipynb").write_text('{"cells": [ not json')
    run = run_grade("batch", str(folder), "--out", str(tmp_path / "results"), "--jobs", "1", "--no-html")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "every submission (2) failed to grade" in run.stderr


def test_batch_summary_says_which_students_hand_in_the_other_version(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "mean_version_correct.ipynb", folder / "olga.ipynb")
    shutil.copy(SUBMISSIONS / "reference.ipynb", folder / "paul.ipynb")
    run = run_grade("batch", str(folder), "--out", str(tmp_path / "results"), "--jobs", "2", "--no-html")
    assert run.returncode == 0, run.stderr
    assert "Version: 1 submission(s): This notebook is the older version" in run.stdout
