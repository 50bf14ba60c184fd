"""train-step judges only train's own logic, with the loss gradient of the notebook's own version.

The class of wrong grade: notebooks of the older version of the assignment (the given loss gradient
is not divided by the batch size; Dense asks for the mean) with a correct `train` failed train-step
with train-wrong, because the expected step was built with the rubric's version of the gradient.
Both versions of the given code are legitimate; the grader tells them apart by running the
notebook's own gradient in the sandbox, runs `train` with the given functions of that version and
builds the expected step with the same gradient. Given code the notebook edited is judged as given.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.checks import CheckContext
from grader.engine import grade_file, run_check
from grader.results import CheckResult
from grader.sandbox.session import StudentSession
from grader.submission import read_submission
from test_learning import load_build

build = load_build()

MOOC_LOSS_OLD = build.code('''
    def softmax_crossentropy_with_logits(logits, reference_answers):
        """Crossentropy from logits[batch, n_classes] and ids of correct answers."""
        logits_for_answers = logits[np.arange(len(logits)), reference_answers]
        xentropy = - logits_for_answers + np.log(np.sum(np.exp(logits), axis=-1))
        return xentropy


    def grad_softmax_crossentropy_with_logits(logits, reference_answers):
        """Crossentropy gradient from logits[batch, n_classes] and ids of correct answers."""
        ones_for_answers = np.zeros_like(logits)
        ones_for_answers[np.arange(len(logits)), reference_answers] = 1
        softmax = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
        return - ones_for_answers + softmax
''')
"""The older MOOC notebook's given loss cell as handed out: no max subtraction, the gradient not divided by N."""


def older(cells: list) -> list:
    """The older version of a notebook: its markdown and its given loss cell (gradient not divided by N)."""
    return build.set_cell(build.set_cell(cells, "loss", build.LOSS_MEAN), "md-loss", build.MD_LOSS_MEAN)


def older_ours() -> list:
    return build.mean_solution_cells()


def older_classic() -> list:
    """Public-notebook style (np.dot, eye() in Layer.backward, the classic train loop) of the older version."""
    return older(build.classic_cells(build.CLASSIC_MEAN)())


def older_mooc() -> list:
    """The classic style with the older notebook's own loss cell, verbatim in substance."""
    return build.set_cell(older_classic(), "loss", MOOC_LOSS_OLD)


def with_train(cells: Callable[[], list], old: str, new: str) -> Callable[[], list]:
    return lambda: build.set_cell(cells(), "train", build.TRAIN_HEAD + "\n" + build.swap(build.TRAIN, old, new))


OLDER_CORRECT = [
    pytest.param(older_ours, id="older-version-solution"),
    pytest.param(older_classic, id="older-version-classic-style"),
    pytest.param(older_mooc, id="older-version-mooc-loss-cell"),
]
SKIPS_LAYER_0 = ("range(len(network))[::-1]", "range(len(network) - 1, 0, -1)")
NOT_REVERSED = ("range(len(network))[::-1]", "range(len(network))")


def train_step(cells: Callable[[], list], rubric: str, tmp_path: Path) -> CheckResult:
    path = tmp_path / "submission.ipynb"
    build.write_notebook(build.to_notebook("submission", cells()), path)
    assignment = load_assignment(rubric)
    only = dataclasses.replace(assignment, checks=(assignment.check("train-step"),))
    return grade_file(path, assignment=only).tests[0]


@pytest.mark.parametrize("rubric", ["dense_layer", "dense_layer_mean"])
@pytest.mark.parametrize("cells", OLDER_CORRECT)
def test_an_older_notebook_with_a_correct_train_passes_train_step(cells: Callable[[], list], rubric: str, tmp_path: Path) -> None:
    result = train_step(cells, rubric, tmp_path)
    assert result.score == result.max_score and result.diagnoses == (), result.output


@pytest.mark.parametrize("rubric", ["dense_layer", "dense_layer_mean"])
@pytest.mark.parametrize("cells, code", [
    pytest.param(with_train(older_ours, *SKIPS_LAYER_0), "train-skips-layer", id="older-skips-layer-0"),
    pytest.param(with_train(older_mooc, *SKIPS_LAYER_0), "train-skips-layer", id="older-mooc-skips-layer-0"),
    pytest.param(with_train(older_ours, *NOT_REVERSED), "train-wrong", id="older-not-reversed"),
    pytest.param(with_train(older_mooc, "loss_grad = grad_softmax", "loss_grad = -grad_softmax"), "train-wrong", id="older-mooc-gradient-ascent"),
])
def test_an_older_notebook_with_a_wrong_train_still_fails_with_its_code(cells: Callable[[], list], code: str, rubric: str, tmp_path: Path) -> None:
    result = train_step(cells, rubric, tmp_path)
    assert result.score < result.max_score and code in result.diagnoses, result.output
    if code == "train-wrong":
        assert "with your notebook's given loss gradient, not divided by the batch size;" in result.output


def test_a_current_notebook_under_the_older_rubric_passes_train_step(tmp_path: Path) -> None:
    result = train_step(build.solution_cells, "dense_layer_mean", tmp_path)
    assert result.score == result.max_score, result.output


@pytest.mark.parametrize("rubric", ["dense_layer", "dense_layer_mean"])
def test_an_edited_given_gradient_is_judged_as_given(rubric: str, tmp_path: Path) -> None:
    """A gradient edited to zeros matches neither version: train runs with the rubric's given gradient, so a
    train that does nothing cannot pass, and a correct train still does (the edit is neither rewarded nor charged)."""
    zeros = build.swap(build.LOSS, "return (softmax - ones_for_answers) / logits.shape[0]", "return np.zeros_like(logits)")
    idle = build.TRAIN_HEAD + "\n    return 0.0\n"
    lazy = train_step(lambda: build.set_cell(build.set_cell(build.solution_cells(), "loss", zeros), "train", idle), rubric, tmp_path)
    assert lazy.score == 0 and lazy.diagnoses == ("train-skips-layer",), lazy.output
    honest = train_step(lambda: build.set_cell(build.solution_cells(), "loss", zeros), rubric, tmp_path)
    assert honest.score == honest.max_score, honest.output
    ascent = build.TRAIN_HEAD + "\n" + build.swap(build.TRAIN, "loss_grad = grad_softmax", "loss_grad = -grad_softmax")
    wrong = train_step(lambda: build.set_cell(build.set_cell(build.solution_cells(), "loss", zeros), "train", ascent), rubric, tmp_path)
    assert wrong.score == 0 and wrong.diagnoses == ("train-wrong",), wrong.output
    assert "with the assignment's given loss gradient (your notebook's own is missing or edited)" in wrong.output


def test_the_notebooks_own_gradient_is_given_back_after_train_step(tmp_path: Path) -> None:
    """The given functions are in the namespace for the one train call only: later checks see the notebook's own."""
    zeros = build.swap(build.LOSS, "return (softmax - ones_for_answers) / logits.shape[0]", "return np.zeros_like(logits)")
    path = tmp_path / "zeros.ipynb"
    build.write_notebook(build.to_notebook("zeros", build.set_cell(build.solution_cells(), "loss", zeros)), path)
    assignment = load_assignment("dense_layer")
    only = dataclasses.replace(assignment, checks=(assignment.check("train-step"),))
    with StudentSession(read_submission(path), only.sandbox) as session:
        result = run_check(CheckContext(session, only, only.checks[0], np.random.default_rng(0), 0))
        after = session.call("grad_softmax_crossentropy_with_logits", np.array([[2.0, 0.0, -1.0]]), np.array([0]))
    assert result.score == result.max_score, result.output
    np.testing.assert_array_equal(after, np.zeros((1, 3)))  # the notebook's own (edited) definition is back
