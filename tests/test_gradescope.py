"""The Gradescope autograder as Gradescope runs it: the zip unpacked into an /autograder-shaped
tree, run_autograder run on a real submission, results/results.json read back.

`AUTOGRADER_ROOT` points the scripts at the temporary tree and `AUTOGRADER_PYTHON` at this
test's interpreter (setup.sh would build a virtual environment; it needs apt and the package
index, so it is only checked for syntax here). run_autograder puts the zip's own source first
on the path, so the grader that runs is the packed one, not this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    result = run_grade("gradescope", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _autograder_tree(zip_path: Path, root: Path, files: dict[str, Path | str]) -> Path:
    """/autograder as Gradescope lays it out: source/ (the zip), run_autograder, submission/."""
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # ZipFile.extractall drops the mode bits
            mode = info.external_attr >> 16
            if mode:
                os.chmod(root / "source" / info.filename, mode & 0o777)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, content in files.items():
        target = root / "submission" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_text(content)
    return root


def _run(root: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    env.pop("PYTHONPATH", None)
    result = subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, env=env, timeout=300, cwd=root)
    return result, json.loads((root / "results" / "results.json").read_text())


def test_zip_has_gradescopes_layout(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "dense-grader/assignments/dense_layer/assignment.toml" in names and "dense-grader/pyproject.toml" in names
    assert any(n.startswith("dense-grader/reference/") for n in names)
    assert not any("__pycache__" in n for n in names)
    assert 'pip" install -e "$SRC[instructor]"' in setup  # the full grade needs the instructor extra
    check = subprocess.run(["bash", "-n", "/dev/stdin"], input=setup, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_run_autograder_grades_a_real_submission(autograder_zip: Path, tmp_path: Path) -> None:
    root = _autograder_tree(autograder_zip, tmp_path / "autograder", {"notes/readme.txt": "hi", "dense_layer.ipynb": SAMPLE})
    result, data = _run(root)
    assert result.returncode == 0, result.stderr
    assert str(root / "source" / "dense-grader" / "grader") in result.stdout, "the packed grader runs, not this checkout"
    from grader.assignment import load_assignment

    assert data["score"] == 17.76 and len(data["tests"]) == len(load_assignment("dense_layer").checks)
    assert {"dense-update-weights", "dense-gradcheck", "dense-batch-semantics"} <= {t["name"] for t in data["tests"] if t["status"] == "failed"}
    assert all(set(t) >= {"name", "score", "max_score", "output", "visibility"} for t in data["tests"])


@pytest.mark.parametrize(
    "files, message",
    [
        pytest.param({"dense_layer.ipynb": "{not json"}, "is not valid JSON", id="invalid-json"),
        pytest.param({"answers.pdf": "%PDF-1.4"}, "no .ipynb or .py file was found", id="no-notebook"),
    ],
)
def test_unreadable_submission_gets_a_valid_results_file(autograder_zip: Path, tmp_path: Path, files: dict, message: str) -> None:
    root = _autograder_tree(autograder_zip, tmp_path / "autograder", files)
    result, data = _run(root)
    assert result.returncode == 0
    assert data["score"] == 0 and data["tests"] == [] and message in data["output"], data


def test_a_failing_grader_still_leaves_a_valid_results_file(autograder_zip: Path, tmp_path: Path) -> None:
    root = _autograder_tree(autograder_zip, tmp_path / "autograder", {"dense_layer.ipynb": SAMPLE})
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=shutil.which("false") or "/bin/false")
    subprocess.run([str(root / "run_autograder")], capture_output=True, text=True, env=env, timeout=60, cwd=root)
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "autograder itself failed" in data["output"]
