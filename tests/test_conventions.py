"""The batch convention is the instructor's choice: the older "mean" variant grades correctly too."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SUBMISSIONS, copy_assignment
from grader.assignment import load_assignment
from grader.engine import grade_file

DENSE_BACKWARD_CHECKS = {"dense-update-weights", "dense-update-biases", "dense-gradcheck", "dense-batch-semantics"}


@pytest.fixture(scope="module")
def mean_assignment(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("mean") / "dense_layer_mean"
    copy_assignment(folder)
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text().replace('batch_convention = "sum"', 'batch_convention = "mean"'))
    return load_assignment(folder)


def _scores(path: Path, assignment) -> dict[str, tuple[float, float, tuple[str, ...]]]:
    return {t.name: (t.score, t.max_score, t.diagnoses) for t in grade_file(path, assignment=assignment).tests if t.name in DENSE_BACKWARD_CHECKS}


def test_mean_layer_passes_under_mean_convention(mean_assignment) -> None:
    scores = _scores(SUBMISSIONS / "classic_mean_convention.ipynb", mean_assignment)
    assert all(score == top for score, top, _ in scores.values()), scores


def test_sum_layer_is_named_under_mean_convention(mean_assignment) -> None:
    scores = _scores(SUBMISSIONS / "reference.ipynb", mean_assignment)
    assert scores["dense-update-weights"][0] < scores["dense-update-weights"][1]
    assert "grad-weights-sum" in scores["dense-update-weights"][2]
    assert "grad-bias-sum" in scores["dense-update-biases"][2]
