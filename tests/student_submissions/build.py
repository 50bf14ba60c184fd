"""Regenerate the student submissions: the released notebook as a student fills it in.

Usage:  python tests/student_submissions/build.py

Each <name>.ipynb is the notebook `grade release` hands out (its note on checking, its
`check()` cell kept, a `%pip install` cell added as students do), with the student's code
written into the skeleton's cells: one deliberate mistake per file, named in
<name>.expected.json by the code `grade check` must report (and the check that finds it).
The same bytes on every run, so `git diff` shows real changes only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from grader.assignment import load_assignment  # noqa: E402
from grader.student.release import install_line, student_notebook  # noqa: E402

SOLVED = HERE.parent / "submissions" / "reference.ipynb"
"""The solved notebook (tests/submissions/build.py): the student's code cells come from it."""
GRADED_CELLS = ("class ReLU", "class Dense", "def forward", "def train")
SUBMISSIONS: dict[str, tuple[str, dict[str, str], str, str]] = {
    # name: (what the student did, {old: new} in the solved code ("" as new: that cell is left
    # as released), the code `grade check` must name, the check that names it)
    "weights_transposed": ("dW = Gᵀ·X, shape (out, in): the given shape assert stops backward",
                           {"grad_weights = input.T @ grad_output": "grad_weights = grad_output.T @ input"},
                           "grad-weights-transposed", "dense-gradcheck"),
    "update_uphill": ("the SGD step adds the gradient", {"self.weights = self.weights - self.learning_rate * grad_weights": "self.weights = self.weights + self.learning_rate * grad_weights",
                                                          "self.biases = self.biases - self.learning_rate * grad_biases": "self.biases = self.biases + self.learning_rate * grad_biases"},
                      "update-sign", "dense-gradcheck"),
    "bias_not_summed": ("db = the first row of G, no sum over the batch", {"grad_biases = grad_output.sum(axis=0)": "grad_biases = grad_output[0]"},
                        "grad-bias-not-summed", "dense-gradcheck"),
    "bias_wrong_axis": ("db summed over everything, broadcast to the biases' shape", {"grad_biases = grad_output.sum(axis=0)": "grad_biases = np.full(self.biases.shape, grad_output.sum())"},
                        "grad-bias-wrong-axis", "dense-gradcheck"),
    "train_unwritten": ("everything written but train, which still raises NotImplementedError", {"def train": ""}, "not-implemented", "train-runs"),
}


def _solved_code() -> dict[str, str]:
    cells = json.loads(SOLVED.read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return {start: next(src for src in sources if src.startswith(start)) for start in GRADED_CELLS}


def _solved(cells: list[dict], swaps: dict[str, str]) -> list[dict]:
    """The released cells with the graded ones written (and the swaps made in them)."""
    code = _solved_code()
    out = []
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        start = next((s for s in GRADED_CELLS if source.startswith(s)), None)
        if cell["cell_type"] == "code" and start is not None and swaps.get(start) != "":
            source = code[start]
            for old, new in swaps.items():
                source = source.replace(old, new)
        out.append({**cell, "source": source})
    return out


def build() -> list[Path]:
    notebook = student_notebook(load_assignment("dense_layer"))
    written = []
    for name, (description, swaps, code, check) in SUBMISSIONS.items():
        joined = "".join(_solved_code().values())
        for old in swaps:
            if old not in joined and old not in GRADED_CELLS:
                raise SystemExit(f"{name}: {old!r} is not in the solution any more")
        cells = _solved(notebook["cells"], swaps)
        pip_cell = {"cell_type": "code", "execution_count": None, "id": "student-pip", "metadata": {}, "outputs": [], "source": f"%{install_line()}"}
        cells.insert(len(cells) - 1, pip_cell)
        path = HERE / f"{name}.ipynb"
        path.write_text(json.dumps({**notebook, "cells": cells}, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        (HERE / f"{name}.expected.json").write_text(json.dumps({"description": description, "diagnosis": code, "check": check}, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in build():
        print(path)
