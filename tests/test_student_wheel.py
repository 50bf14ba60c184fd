"""What a student installs and runs: the wheel, `grade release`, then `grade check` with
only the bundle, in a fresh virtual environment (no editable install, no checkout).

One module-scoped fixture builds one wheel and one venv (the costly part, ~20 core-s).
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
from grader.results import points

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"
CORRECT = ROOT / "tests" / "submissions" / "reference.ipynb"
REFERENCE_ONLY = ("def dense_sgd_step", "def dense_grad_weights", "The instructor's solution")
"""Text that exists only in the reference solution's source."""


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GRADER_ASSIGNMENTS", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env={**base, "COLUMNS": "120", **(env or {})}, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A wheel installed into a fresh venv, a released bundle, and a student folder holding
    only the bundle's zip contents plus two notebooks."""
    top = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(top)], top)
    assert built.returncode == 0, built.stderr
    wheel = next(top.glob("dense_grader-*.whl"))
    venv = top / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-compile", str(wheel)], top)
    assert install.returncode == 0, install.stderr
    grade = venv / "bin" / "grade"
    release_dir, elsewhere = top / "release", top / "elsewhere"
    elsewhere.mkdir()
    released = _run([str(grade), "release", "--out", str(release_dir)], elsewhere, {"GRADER_ASSIGNMENTS": str(ROOT / "assignments")})
    assert released.returncode == 0, released.stderr
    student = top / "student"
    student.mkdir()
    with zipfile.ZipFile(release_dir / "dense_layer.zip") as archive:
        archive.extractall(student)
    for notebook in (SAMPLE, CORRECT):
        (student / notebook.name).write_bytes(notebook.read_bytes())
    return {"wheel": wheel, "grade": grade, "python": python, "release": release_dir, "student": student}


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
    line = f"public checks: {points(public)} of {points(rubric.max_score)} points; timing and the hidden cases are graded after the deadline"
    assert line in result.stdout
    page = html.read_text()
    assert "Well done" not in page and "timing and the hidden cases are graded after the deadline" in page


def test_wheel_and_bundle_hold_no_reference_code(installed: dict[str, Path]) -> None:
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = wheel.namelist()
        assert {n.split("/")[0] for n in names} == {"grader", "dense_grader-0.1.0.dist-info"}, names
        texts = [wheel.read(n).decode("utf-8", "replace") for n in names]
    with zipfile.ZipFile(installed["release"] / "dense_layer.zip") as bundle:
        assert sorted(bundle.namelist()) == ["dense_layer.ipynb", "public_checks.json"]
        texts += [bundle.read(n).decode() for n in bundle.namelist()]
    for marker in REFERENCE_ONLY:
        assert not [t for t in texts if marker in t], marker
    data = json.loads((installed["release"] / "public_checks.json").read_text())
    hidden = {c.name for c in load_assignment("dense_layer").checks if c.visibility == "hidden"}
    assert hidden and not hidden & {c["name"] for c in data["checks"]}


def test_installed_package_cannot_import_a_reference(installed: dict[str, Path]) -> None:
    probe = "import importlib.util, grader; print(importlib.util.find_spec('reference'))"
    result = _run([str(installed["python"]), "-c", probe], installed["student"])
    assert result.returncode == 0 and result.stdout.strip() == "None", result.stdout + result.stderr
