"""A submission that keeps the released notebook's `check()` cell: the grader recognises its
own import and call where submissions are read and leaves them out silently, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SUBMISSIONS, run_grade
from grader.submission import drop_self_check, read_submission

STUDENT = Path(__file__).resolve().parent / "student_submissions"


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        pytest.param(["from grader import check; check()"], ["pass"], id="one-line"),
        pytest.param(["from grader import check\ncheck()"], ["pass\npass"], id="released-cell"),
        pytest.param(["from grader import check", "x = 1\ncheck()  # again"], ["pass", "x = 1\npass"], id="split-over-cells"),
        pytest.param(["import grader\ngrader.check(bundle='../public_checks.json')"], ["pass\npass"], id="module-call-keyword"),
        pytest.param(['from grader import check\ncheck("public_checks.json", assignment=None,)'], ["pass\npass"], id="positional-and-none"),
        pytest.param(["pass\nfrom grader import check\ncheck()\n"], ["pass\npass\npass\n"], id="after-a-magic"),
    ],
)
def test_the_graders_own_lines_are_dropped(cells: list[str], expected: list[str]) -> None:
    assert drop_self_check(cells) == expected


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        pytest.param(["check()"], ["check()"], id="call-without-the-graders-import"),
        pytest.param(["from grader import check\n# " + "x" * 2**18 + "\ncheck()"], ["from grader import check\n# " + "x" * 2**18 + "\ncheck()"], id="cell-too-large-to-search"),
        pytest.param(["import grader\ncheck()"], ["pass\ncheck()"], id="bare-call-after-module-import"),
        pytest.param(["from grader import check; Dense = None"], ["from grader import check; Dense = None"], id="other-code-on-the-line"),
        pytest.param(["from grader import check\ncheck(bundle=make_path())"], ["pass\ncheck(bundle=make_path())"], id="argument-that-runs-code"),
        pytest.param(["from grader import check, Dense"], ["from grader import check, Dense"], id="import-of-another-name"),
        pytest.param(["from grader import check\nif True:\n    check()"], ["pass\nif True:\n    check()"], id="indented"),
        pytest.param(['from grader import check\ns = """\ncheck()\n"""'], ['pass\ns = """\ncheck()\n"""'], id="inside-a-string"),
        pytest.param(["from grader import check\nx = [\ncheck()\n]"], ["pass\nx = [\ncheck()\n]"], id="inside-brackets"),
        pytest.param(["from grader import check\ncheck(\n)"], ["pass\ncheck(\n)"], id="call-over-two-lines"),
        pytest.param(["from grader import check\ncheck() ; import os"], ["pass\ncheck() ; import os"], id="another-statement-after"),
    ],
)
def test_nothing_else_is_dropped(cells: list[str], expected: list[str]) -> None:
    """Only whole top-level lines of the grader's own statements go: any other code stays, to run as written."""
    assert drop_self_check(cells) == expected


def test_line_numbers_are_kept(tmp_path: Path) -> None:
    notebook = json.loads((SUBMISSIONS / "reference.ipynb").read_text())
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": ["%pip install dense_grader-0.1.0-py3-none-any.whl\n", "from grader import check\n", "check()\n", "x = 1\n"]})
    path = tmp_path / "kept.ipynb"
    path.write_text(json.dumps(notebook))
    last = read_submission(path).cells[-1].source
    assert last.splitlines() == ["pass", "pass", "pass", "x = 1"]


def test_kept_check_cell_leaves_no_line_in_the_full_report(tmp_path: Path) -> None:
    """The full grade of a notebook that kept `%pip install`, the import and `check()` (one
    cell, and split over cells with `import grader`): full marks, no statement listed for
    those cells, no word of the grader's module in the report."""
    notebook = json.loads((SUBMISSIONS / "reference.ipynb").read_text())
    kept = [["%pip install dense_grader-0.1.0-py3-none-any.whl"], ["from grader import check\n", "check()"],
            ["import grader"], ["grader.check(bundle=\"public_checks.json\")"]]
    notebook["cells"] += [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": s} for s in kept]
    path = tmp_path / "kept_check.ipynb"
    path.write_text(json.dumps(notebook))
    labels = [cell.label for cell in read_submission(path).cells[-len(kept):]]
    as_json = run_grade(str(path), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["score"] == report["max_score"], [t["output"] for t in report["tests"] if t["status"] != "passed"]
    assert not [s for s in report["statements"] if s["cell"] in labels], report["statements"]
    text = run_grade(str(path)).stdout
    assert "grader" not in text.replace("dense-grader", "") and "ModuleNotFoundError" not in text
    assert not [label for label in labels if label in text], text


def test_the_released_cells_of_a_student_notebook_leave_no_line() -> None:
    """A real-style student notebook: the release's `check()` cell and a `%pip install` cell kept."""
    cells = read_submission(STUDENT / "update_uphill.ipynb").cells
    own = cells[-2:]
    assert [c.source for c in own] == ["pass", "pass\npass"]
    report = json.loads(run_grade(str(STUDENT / "update_uphill.ipynb"), "--format", "json").stdout)
    assert report["statements"] and not [s for s in report["statements"] if s["cell"] in {c.label for c in own}], report["statements"]
