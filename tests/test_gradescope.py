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
import re
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
    assert 'pip" install -c "$SRC/constraints.txt" -e "$SRC[instructor]"' in setup
    assert 'python3 -c "import ensurepip, venv"' in setup and "venv --help" not in setup
    check = subprocess.run(["bash", "-n", "/dev/stdin"], input=setup, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_constraints_pin_every_dependency_to_the_version_tested_here(autograder_zip: Path) -> None:
    import tomllib
    from importlib import metadata

    with zipfile.ZipFile(autograder_zip) as zf:
        pins = [line for line in zf.read("dense-grader/constraints.txt").decode().splitlines() if not line.startswith("#")]
        setup = zf.read("setup.sh").decode()
    assert pins and all(re.fullmatch(r"[a-z0-9-]+==[\w.+!-]+", line) for line in pins), pins
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project.get("optional-dependencies", {}).get("instructor", [])
    for requirement in wanted:
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. tomli, only for Python < 3.11
        assert f"{name.lower().replace('_', '-')}=={version}" in pins, name
    floors = [re.search(r">=\s*3\.(\d+)", metadata.metadata(pin.split("==")[0]).get("Requires-Python") or "") for pin in pins]
    floor = max([int(f.group(1)) for f in floors if f] + [int(re.search(r"3\.(\d+)", project["requires-python"]).group(1))])
    assert f"sys.version_info < (3, {floor})" in setup and f"need Python 3.{floor} or newer" in setup


def _fake_tools(folder: Path, log: Path, ensurepip: bool) -> dict[str, str]:
    """PATH with a python3 that fails `import ensurepip` when asked and stops at `-m venv`, and an
    apt-get that records what it was asked to install (then fails, so setup.sh stops there)."""
    folder.mkdir()
    (folder / "apt-get").write_text(f'#!/bin/sh\necho "apt-get $*" >> {log}\n[ "$1" = install ] && exit 3\nexit 0\n')
    no_ensurepip = "" if ensurepip else 'case "$*" in *ensurepip*) exit 1;; esac\n'
    (folder / "python3").write_text(f'#!/bin/sh\n{no_ensurepip}[ "$1" = -m ] && {{ echo "python3 $*" >> {log}; exit 4; }}\nexec {sys.executable} "$@"\n')
    for tool in ("apt-get", "python3"):
        os.chmod(folder / tool, 0o755)
    return dict(os.environ, PATH=f"{folder}:{os.environ['PATH']}")


@pytest.mark.parametrize("ensurepip", [pytest.param(False, id="no-ensurepip"), pytest.param(True, id="with-ensurepip")])
def test_setup_installs_python3_venv_exactly_when_ensurepip_is_missing(autograder_zip: Path, tmp_path: Path, ensurepip: bool) -> None:
    root = _autograder_tree(autograder_zip, tmp_path / "autograder", {})
    log = tmp_path / "calls.log"
    env = _fake_tools(tmp_path / "bin", log, ensurepip)
    env["AUTOGRADER_ROOT"] = str(root)
    result = subprocess.run(["bash", str(root / "source" / "setup.sh")], capture_output=True, text=True, env=env, timeout=60)
    calls = log.read_text().splitlines()
    assert result.returncode != 0, "the fakes stop setup.sh before anything is installed"
    if ensurepip:
        assert calls == [f"python3 -m venv {root}/venv"], calls
    else:
        assert calls == ["apt-get update", "apt-get install -y --no-install-recommends python3 python3-venv python3-pip"], calls


def test_run_autograder_grades_a_real_submission(autograder_zip: Path, tmp_path: Path) -> None:
    root = _autograder_tree(autograder_zip, tmp_path / "autograder", {"notes/readme.txt": "hi", "dense_layer.ipynb": SAMPLE})
    result, data = _run(root)
    assert result.returncode == 0, result.stderr
    assert str(root / "source" / "dense-grader" / "grader") in result.stdout, "the packed grader runs, not this checkout"
    from grader.assignment import load_assignment

    assert data["score"] == 17.76 and len(data["tests"]) == len(load_assignment("dense_layer").checks)
    assert {"dense-update-weights", "dense-gradcheck", "dense-batch-semantics"} <= {t["name"] for t in data["tests"] if t["status"] == "failed"}
    assert all(set(t) >= {"name", "score", "max_score", "output", "visibility"} for t in data["tests"])
    from grader.diagnose import advice

    assert data["output"].splitlines()[0] == "Mistakes found, each with its fix:"
    assert f"- grad-weights-mean (dense-batch-semantics): {advice('grad-weights-mean')}" in data["output"].splitlines(), data["output"]


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
