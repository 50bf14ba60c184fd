"""What a student installs and runs: the wheel that `grade release` puts in the release,
installed offline into a fresh virtual environment (no editable install, no checkout, no
index), then `grade check` in a folder holding only the release's zip contents.

One module-scoped fixture releases, gathers the dependencies' wheels and builds one venv
(the costly part, ~20 core-s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.extras import INSTRUCTOR_INSTALL
from grader.results import points
from grader.student.wheel import wheel_name

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"
CORRECT = ROOT / "tests" / "submissions" / "reference.ipynb"
REFERENCE_ONLY = ("def dense_sgd_step", "def dense_grad_weights", "The instructor's solution")
"""Text that exists only in the reference solution's source."""
INSTRUCTOR_ONLY = ("matplotlib", "scikit-learn", "dask", "distributed", "nbformat", "nbconvert", "jupyter-core")
"""Distributions a student install must not pull in."""


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRADER_ASSIGNMENTS", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env={**base, "COLUMNS": "120", **(env or {})}, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The release (made by the instructor's `grade release`), its wheel installed offline into a
    fresh venv, and a student folder holding only the release's zip contents plus two notebooks."""
    top = tmp_path_factory.mktemp("wheel")
    release_dir, elsewhere = top / "release", top / "elsewhere"
    elsewhere.mkdir()
    grade = Path(sys.executable).parent / "grade"
    released = _run([str(grade), "release", "--out", str(release_dir)], elsewhere, {"GRADER_ASSIGNMENTS": str(ROOT / "assignments")})
    assert released.returncode == 0, released.stderr
    wheel = release_dir / wheel_name()
    # The dependencies' wheels, from pip's configured sources and cache; the install itself is offline.
    wheelhouse = top / "wheelhouse"
    gathered = _run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(wheelhouse), str(wheel)], top)
    if gathered.returncode != 0:
        pytest.skip(f"the dependencies' wheels are not available here: {gathered.stderr.strip()[-300:]}")
    venv = top / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = _run([str(python), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse), str(wheel)], top)
    assert install.returncode == 0, install.stderr
    student = top / "student"
    student.mkdir()
    with zipfile.ZipFile(release_dir / "dense_layer.zip") as archive:
        archive.extractall(student)
    only_release = top / "only_release"
    with zipfile.ZipFile(release_dir / "dense_layer.zip") as archive:
        archive.extractall(only_release)
    for notebook in (SAMPLE, CORRECT):
        (student / notebook.name).write_bytes(notebook.read_bytes())
    return {"wheel": wheel, "grade": venv / "bin" / "grade", "python": python, "release": release_dir, "student": student, "only_release": only_release}


def test_student_install_pulls_only_what_the_checks_import(installed: dict[str, Path]) -> None:
    listed = _run([str(installed["python"]), "-m", "pip", "list", "--format", "json"], installed["student"])
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert {"dense-grader", "numpy", "rich"} <= names, names
    assert not names & set(INSTRUCTOR_ONLY), names


def test_released_notebook_is_checked_in_a_folder_holding_only_the_release(installed: dict[str, Path]) -> None:
    """The student's first hour: unzip, install the wheel, `grade check` the notebook as released."""
    folder = installed["only_release"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(["README.md", wheel_name(), "dense_layer.ipynb", "public_checks.json"])
    result = _run([str(installed["grade"]), "check", "dense_layer.ipynb"], folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "not-implemented" in result.stdout
    assert [line for line in result.stdout.splitlines() if line.startswith("train-runs") and "FAILED" in line], result.stdout


@pytest.mark.parametrize("command", [pytest.param([SAMPLE.name], id="grade"), pytest.param(["batch", ".", "--out", "results"], id="grade-batch")])
def test_full_grade_names_the_instructor_extra(installed: dict[str, Path], command: list[str]) -> None:
    """A student install has no matplotlib or scikit-learn: the full grade says, in one
    sentence, which extra to install, before grading anything."""
    result = _run([str(installed["grade"]), *command], installed["student"], {"GRADER_ASSIGNMENTS": str(ROOT / "assignments")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert INSTRUCTOR_INSTALL in result.stderr and len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    assert not (installed["student"] / "results").exists()


def test_mean_bug_is_named_without_the_solution(installed: dict[str, Path]) -> None:
    html = installed["student"] / "mean.html"
    result = _run([str(installed["grade"]), "check", SAMPLE.name, "--html", str(html)], installed["student"])
    assert result.returncode == 1, result.stderr
    assert "grad-weights-mean" in result.stdout
    assert "Not checked here" in result.stdout
    # The plots are inline SVG (tests/test_plots.py: no grader module imports matplotlib).
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html.read_text()


def test_correct_notebook_passes_and_says_what_was_not_checked(installed: dict[str, Path]) -> None:
    html = installed["student"] / "feedback.html"
    result = _run([str(installed["grade"]), "check", CORRECT.name, "--html", str(html)], installed["student"])
    assert result.returncode == 0, result.stdout + result.stderr
    rubric = load_assignment("dense_layer")
    public = sum(c.points for c in rubric.checks if c.visibility == "public")
    hidden = [c for c in rubric.checks if c.visibility == "hidden"]
    line = f"graded after the deadline: {points(rubric.max_score - public)} of the assignment's {points(rubric.max_score)} points; the public checks here are the other {points(public)}."
    assert line in result.stdout and all(f"{c.name} ({points(c.points)} points)" in result.stdout for c in hidden), result.stdout
    page = html.read_text()
    assert "Well done" not in page and "graded after the deadline" in page


def test_wheel_and_bundle_hold_no_reference_code(installed: dict[str, Path]) -> None:
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = wheel.namelist()
        assert {n.split("/")[0] for n in names} == {"grader", "dense_grader-0.1.0.dist-info"}, names
        texts = [wheel.read(n).decode("utf-8", "replace") for n in names]
    with zipfile.ZipFile(installed["release"] / "dense_layer.zip") as bundle:
        assert sorted(bundle.namelist()) == sorted(["README.md", wheel_name(), "dense_layer.ipynb", "public_checks.json"])
        assert bundle.read(wheel_name()) == installed["wheel"].read_bytes()
        texts += [bundle.read(n).decode() for n in bundle.namelist() if n != wheel_name()]
    for marker in REFERENCE_ONLY:
        assert not [t for t in texts if marker in t], marker
    data = json.loads((installed["release"] / "public_checks.json").read_text())
    hidden = {c.name for c in load_assignment("dense_layer").checks if c.visibility == "hidden"}
    assert hidden and not hidden & {c["name"] for c in data["checks"]}
    # Hidden checks are named (the report lists what is left), never their data or parameters.
    assert {c["name"] for c in data["hidden_checks"]} == hidden and all(set(c) == {"name", "points", "description"} for c in data["hidden_checks"])


def test_installed_package_cannot_import_a_reference(installed: dict[str, Path]) -> None:
    probe = "import importlib.util, grader; print(importlib.util.find_spec('reference'))"
    result = _run([str(installed["python"]), "-c", probe], installed["student"])
    assert result.returncode == 0 and result.stdout.strip() == "None", result.stdout + result.stderr
