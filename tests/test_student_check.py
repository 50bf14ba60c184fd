"""`grade release` and `grade check` from a bundle (this checkout's install), and `check()`
in a real Jupyter kernel: same verdicts as `grade check`, bad input in one sentence."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SUBMISSIONS, run_grade
from grader.assignment import load_assignment
from grader.results import points
from grader.student.release import CHECK_CELL, install_line, release
from grader.student.wheel import wheel_name

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    release("dense_layer", out)
    return out


def test_release_is_byte_identical(bundle: Path, tmp_path: Path) -> None:
    again = release(str(ROOT / "assignments" / "dense_layer"), tmp_path)
    assert [p.name for p in again] == ["README.md", wheel_name(), "dense_layer.ipynb", "public_checks.json", "dense_layer.zip"]
    for path in again:
        assert path.read_bytes() == (bundle / path.name).read_bytes(), path.name


def _one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(None, "looked for", id="no-bundle"),
        pytest.param({"grader_version": "0.0.1"}, "made for dense-grader 0.0.1", id="other-grader-version"),
        pytest.param({"assignment": "other"}, "is a notebook of assignment dense_layer", id="other-assignment"),
    ],
)
def test_bad_bundle_is_one_sentence(bundle: Path, tmp_path: Path, edit: dict | None, message: str) -> None:
    notebook = tmp_path / "dense_layer.ipynb"
    notebook.write_bytes((bundle / "dense_layer.ipynb").read_bytes())
    if edit is not None:
        data = json.loads((bundle / "public_checks.json").read_text())
        if "assignment" in edit:
            data["assignment"]["name"] = edit["assignment"]
        else:
            data.update(edit)
        (tmp_path / "public_checks.json").write_text(json.dumps(data))
    stderr = _one_sentence(run_grade("check", str(notebook)))
    assert message in stderr
    if edit is None:
        assert str(tmp_path / "public_checks.json") in stderr


def test_bundle_option_and_exit_status(bundle: Path) -> None:
    failing = run_grade("check", str(SUBMISSIONS / "grad_weights_mean.ipynb"), "--bundle", str(bundle), "--format", "json")
    assert failing.returncode == 1, failing.stderr
    report = json.loads(failing.stdout)
    hidden = [c for c in load_assignment("dense_layer").checks if c.visibility == "hidden"]
    assert "grad-weights-mean" in report["diagnoses"] and "graded after the deadline" in report["not_checked"]
    assert all(f"{c.name} ({points(c.points)} points)" in report["not_checked"] for c in hidden), report["not_checked"]


def test_released_notebook_says_how_to_check(bundle: Path) -> None:
    """The note on checking comes right after the title, with the one install line; the last cell is check()."""
    notebook = json.loads((bundle / "dense_layer.ipynb").read_text())
    cells = notebook["cells"]
    note = "".join(cells[1]["source"])
    assert cells[1]["cell_type"] == "markdown" and install_line() in note and "check()" in note
    assert cells[-1]["cell_type"] == "code" and "".join(cells[-1]["source"]) == CHECK_CELL
    readme = (bundle / "README.md").read_text()
    assert f"    {install_line()}\n" in readme and "grade check dense_layer.ipynb" in readme


def _kernel_notebook(cells: list[str]) -> dict:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def test_check_in_a_real_kernel_matches_grade_check(bundle: Path, tmp_path: Path) -> None:
    """nbclient runs the sample notebook's cells, then `check()`, and the notebook is saved: the
    stored output, read back from the .ipynb, holds plain HTML (no iframe, no script, nothing a
    reopened untrusted notebook hides) and a readable text/plain copy, with the same scores and
    codes as `grade check` on the saved notebook."""
    import nbformat
    from nbclient import NotebookClient

    source = json.loads(SAMPLE.read_text())
    cells = ["".join(c["source"]) for c in source["cells"] if c["cell_type"] == "code"]
    cells.append("from grader import check; check()")
    notebook = _kernel_notebook(cells)
    (tmp_path / "public_checks.json").write_bytes((bundle / "public_checks.json").read_bytes())
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(notebook, str(tmp_path / "executed.ipynb"))
    stored = json.loads((tmp_path / "executed.ipynb").read_text())
    outputs = stored["cells"][-1]["outputs"]
    assert [o["output_type"] for o in outputs] == ["display_data"], outputs  # shown once, no stray repr
    page, text = "".join(outputs[0]["data"]["text/html"]), "".join(outputs[0]["data"]["text/plain"])
    lowered = page.lower()
    assert "<iframe" not in lowered and "<script" not in lowered and "<style" not in lowered and not re.search(r"\son\w+=", lowered), page[:300]
    assert page.startswith("<div>") and "<table>" in page and "grad-weights-mean" in page and "Well done" not in page
    assert "Not checked here: dense-update-weights (2 points)" in text and "grad-weights-mean" in text
    saved = run_grade("check", str(SAMPLE), "--bundle", str(bundle))
    assert saved.returncode == 1
    public = [c for c in load_assignment("dense_layer").checks if c.visibility == "public"]
    assert _rows(text) == _rows(saved.stdout) and len(_rows(text)) == len(public)
    assert text.strip().splitlines()[-1].split(": ", 1)[1].rsplit(",", 1)[0] == saved.stdout.strip().splitlines()[-1].split(": ", 1)[1].rsplit(",", 1)[0]


def test_check_speaks_the_notebooks_language(tmp_path: Path) -> None:
    """`help(check)` shows the real parameters; without a bundle, check() names the keyword
    argument, not the command line's flag."""
    import inspect

    import grader

    assert list(inspect.signature(grader.check).parameters) == ["bundle", "assignment"]
    assert "check(bundle=" in (grader.check.__doc__ or "")
    script = tmp_path / "lonely.py"
    script.write_text("from grader import check\ncheck()\n")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and 'check(bundle="path/to/public_checks.json")' in result.stderr and "--bundle" not in result.stderr, result.stderr


def _rows(report: str) -> list[str]:
    """The score table's rows: check name, score, verdict and codes."""
    return [line.rstrip() for line in report.splitlines() if line.startswith(("dense-", "relu-", "network-", "train-"))]


def test_check_outside_jupyter_prints_text(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "public_checks.json").write_bytes((bundle / "public_checks.json").read_bytes())
    source = json.loads((SUBMISSIONS / "reference.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in source["cells"] if c["cell_type"] == "code")
    script = tmp_path / "solution.py"
    script.write_text(code + "\nfrom grader import check\ncheck()\n")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=dict(os.environ, COLUMNS="120"))
    assert result.returncode == 0, result.stderr
    assert "Not checked here: dense-update-weights (2 points)" in result.stdout and "FAILED" not in result.stdout
    assert re.search(r"\b(\d+) / \1 public points: ", result.stdout) and ", 0 failed" in result.stdout and "%" not in result.stdout.splitlines()[-1]
    assert "<iframe" not in result.stdout


def test_a_rubric_outside_the_checkout_hides_its_reference_from_workers() -> None:
    """The rubric names its reference anywhere: that folder and the assignment's are hidden from
    student code once the rubric is loaded (not only the checkout's `reference/`)."""
    import shutil
    import tempfile

    from grader.sandbox.client import SandboxConfig, WorkerProcess

    try:  # a place no other rule hides (/tmp is private, /home and /work are hidden anyway)
        course = Path(tempfile.mkdtemp(prefix="grader-course-", dir="/var/lib"))
    except OSError:
        pytest.skip("/var/lib is not writable here")
    try:
        course.chmod(0o755)  # world-readable, as instructor folders often are: only the mount hides it
        folder, solutions = course / "assignments" / "dl", course / "solutions"
        shutil.copytree(ROOT / "assignments" / "dense_layer", folder)
        solutions.mkdir()
        shutil.copy(ROOT / "reference" / "dense_layer.py", solutions / "dense_layer.py")
        toml = folder / "assignment.toml"
        toml.write_text(toml.read_text().replace('reference = "../../reference/dense_layer.py"', 'reference = "../../solutions/dense_layer.py"'))
        WorkerProcess(SandboxConfig()).close()  # the fork server is already running when the rubric is loaded
        assert load_assignment(folder).reference == (solutions / "dense_layer.py").resolve()
        probe = f"import os\nprint('SEEN', [p for p in ({str(solutions / 'dense_layer.py')!r}, {str(toml)!r}) if os.path.exists(p)])\n"
        with WorkerProcess(SandboxConfig()) as worker:
            reply, _ = worker.request({"op": "exec_cell", "label": "probe", "source": probe, "timeout": 5.0})
            assert all(r["status"] == "ok" for r in reply["statements"])
            layers = worker.layers
        if not any(layer.startswith("file system: allow-list") for layer in layers):
            pytest.skip(f"no allow-list file system here (needs mount namespaces): {layers}")
        assert "SEEN []" in worker.student_output(), worker.student_output()
    finally:
        shutil.rmtree(course)
