"""network-learns: the student's own network trained on real digits, step by step against a correct step.

Most tests grade with a rubric holding this one check (a few hundred ms each); the whole
rubric on every notebook is tests/test_submissions.py's job.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SUBMISSIONS, copy_assignment
from grader.assignment import Assignment, load_assignment
from grader.checks import CheckContext
from grader.engine import grade_file, run_check
from grader.checks.learning.plan import make_plan, reference_run
from grader.checks.learning.screen import pack, stack_batches, verify_screen
from grader.checks.learning.student import worker_inputs
from grader.errors import GraderBug, InputError
from grader.checks.learning.data import LearningData, LearningParams, digits, load_learning_data
from grader.oracle import ReferenceOracle, active_oracle
from grader.results import CheckResult
from grader.sandbox.session import StudentSession
from grader.submission import read_submission

CHAOTIC = {"learning_rate": 0.8, "epochs": 3, "batch_size": 4, "min_accuracy": 0.0, "steps_per_request": 200, "time_budget": 60.0}
"""A regime where a 1e-15 change of the initial weights moves the final weights by ~40% (measured)."""


@pytest.fixture(scope="module")
def assignment() -> Assignment:
    return load_assignment()


def only_learning(assignment: Assignment, **params: object) -> Assignment:
    spec = assignment.check("network-learns")
    return dataclasses.replace(assignment, checks=(dataclasses.replace(spec, params={**spec.params, **params}),))


def learn(path: Path, assignment: Assignment, **params: object) -> CheckResult:
    return grade_file(path, assignment=only_learning(assignment, **params)).tests[0]


def load_build():
    spec = importlib.util.spec_from_file_location("submissions_build", SUBMISSIONS / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, step, layer, code", [
    pytest.param("train_skips_layer", "step 1 of 90", "layer 0 (Dense 64→32) was not updated", "train-skips-layer", id="train-skips-layer-0"),
    pytest.param("relu_wrong", "step 1 of 90", "the output of layer 1 (ReLU) differs", "relu-wrong", id="relu-wrong"),
    pytest.param("forward_missing_bias", "step 2 of 90", "the output of layer 0 (Dense 64→32) differs", None, id="dense-bias-shows-at-step-2"),
])
def test_the_first_step_and_layer_where_training_parts_are_named(name: str, step: str, layer: str, code: str | None, assignment: Assignment) -> None:
    result = learn(SUBMISSIONS / f"{name}.ipynb", assignment)
    assert result.score < result.max_score
    assert step in result.output and layer in result.output, result.output
    assert result.diagnoses == ((code,) if code else ()), result.diagnoses  # no Dense verdicts in this run: no code invented


def test_a_dense_mistake_is_named_by_the_dense_checks_code(assignment: Assignment) -> None:
    """With the whole rubric the learning failure cites what the Dense checks found (the biases start at zero,
    so a forward without bias agrees at step 1 and parts at step 2)."""
    report = grade_file(SUBMISSIONS / "grad_weights_mean.ipynb", assignment=assignment)
    result = next(t for t in report.tests if t.name == "network-learns")
    assert result.diagnoses == ("grad-weights-mean",)
    assert "step 1 of 90" in result.output and "the weight update of layer 2 (Dense 32→10)" in result.output, result.output


@pytest.mark.parametrize("name", ["reference", "correct_float32", "correct_ones_column_bias", "weights_shape"])
def test_correct_networks_learn(name: str, assignment: Assignment) -> None:
    result = learn(SUBMISSIONS / f"{name}.ipynb", assignment)
    learning = result.details["learning"]
    assert result.score == result.max_score and result.diagnoses == (), result.output
    assert learning["steps_done"] == learning["steps"] == 90
    assert learning["accuracy"] >= 0.85 and learning["accuracy"] == pytest.approx(learning["reference_accuracy"], abs=0.01)
    assert learning["student_loss"][-1] < 0.5 * learning["student_loss"][0]


@pytest.mark.parametrize("name", ["correct_einsum", "correct_float32"])
def test_chaotic_but_correct_training_passes(name: str, assignment: Assignment) -> None:
    """At a high learning rate with tiny batches the run amplifies rounding (einsum adds in another order;
    float32 rounds at 1e-7): the final weights end far from an independent reference run's, but every step
    is a correct step from where the network was, so the check passes."""
    result = learn(SUBMISSIONS / f"{name}.ipynb", assignment, **CHAOTIC)
    assert result.score == result.max_score, result.output
    assert result.details["learning"]["drift"] > 1e-2


def test_a_redefined_loss_gradient_does_not_fool_the_check(assignment: Assignment, tmp_path: Path) -> None:
    """train climbs the gradient and a later cell negates the notebook's given loss gradient to match: with the
    student's own loss the steps would look right. The run uses the given loss, and gives the student's back."""
    build = load_build()
    cells = build.set_cell(build.solution_cells(), "train", build.TRAIN_HEAD + "\n" + build.swap(
        build.TRAIN, "loss_grad = grad_softmax", "loss_grad = -grad_softmax"))
    negated = build.swap(build.LOSS, "return (softmax - ones_for_answers)", "return (ones_for_answers - softmax)")
    cells = build.insert_after(cells, "train", build.Cell("loss-again", "code", negated))
    path = tmp_path / "negated_loss.ipynb"
    build.write_notebook(build.to_notebook("negated_loss", cells), path)
    spec = only_learning(assignment)
    with StudentSession(read_submission(path), spec.sandbox) as session:
        result = run_check(CheckContext(session, spec, spec.checks[0], np.random.default_rng(0), 0))
        logits, y = np.array([[2.0, 0.0, -1.0]]), np.array([0])
        after = session.call("grad_softmax_crossentropy_with_logits", logits, y)
    assert result.score == 0 and result.diagnoses == ("train-wrong",), result.output
    assert "step 1 of 90" in result.output and "layer 2 (Dense 32→10)" in result.output
    softmax = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(after, np.eye(3)[[0]] - softmax)  # the student's own definition is back


def test_a_run_the_time_budget_stops_does_not_pass(assignment: Assignment) -> None:
    """Its steps were right, but the steps it did not take and its held-out accuracy are unjudged: no pass on them."""
    result = learn(SUBMISSIONS / "reference.ipynb", assignment, time_budget=0.0, steps_per_request=10)
    assert result.score == 0 and result.diagnoses == ("timeout",), result.output
    assert result.details["learning"]["steps_done"] == 2  # the first request (first_steps), then the budget was spent
    assert result.details["learning"]["accuracy"] is None and result.details["learning"]["stopped"] == "time-budget"
    assert re.search(r"Training ran 2 of 90 steps; stopped because the time budget of 0 s( of CPU)? was spent\. "
                     r"The steps taken were checked \(they were right\)", result.output), result.output


def test_the_mean_version_trains_with_its_own_loss_gradient(assignment: Assignment, tmp_path: Path) -> None:
    """Under batch_convention = "mean" the given gradient is not divided by N and the layer averages."""
    folder = tmp_path / "dense_layer_mean"
    copy_assignment(folder)
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text().replace('batch_convention = "sum"', 'batch_convention = "mean"'))
    mean = load_assignment(folder)
    assert learn(SUBMISSIONS / "classic_mean_convention.ipynb", mean).score == 2
    summing = learn(SUBMISSIONS / "reference.ipynb", mean)
    assert summing.score < 2 and "step 1 of 90" in summing.output


@pytest.fixture(scope="module")
def npz_assignment(tmp_path_factory: pytest.TempPathFactory) -> Assignment:
    """A course's own data set: digits cut into a .npz the way a course would keep MNIST."""
    folder = tmp_path_factory.mktemp("npz") / "dense_layer_npz"
    copy_assignment(folder)
    images, labels = digits()
    np.savez(folder / "course_digits.npz", X_train=images[:1000] / 16, y_train=labels[:1000], X_val=images[1000:1400] / 16, y_val=labels[1000:1400])
    toml = folder / "assignment.toml"
    toml.write_text(toml.read_text().replace('dataset = "digits"', 'dataset = "course_digits.npz"'))
    return load_assignment(folder)


def test_a_course_npz_is_the_data_set(npz_assignment: Assignment) -> None:
    good = learn(SUBMISSIONS / "reference.ipynb", npz_assignment)
    assert good.score == 2 and good.details["learning"]["dataset"] == "course_digits.npz"
    assert good.details["learning"]["steps"] == 2 * 32  # 1000 samples in batches of 32, two epochs
    bad = learn(SUBMISSIONS / "train_skips_layer.ipynb", npz_assignment)
    assert bad.diagnoses == ("train-skips-layer",) and "step 1 of 64" in bad.output


@pytest.mark.parametrize("arrays, message", [
    pytest.param({"X_train": np.zeros((4, 3))}, "lacks y_train, X_val, y_val", id="missing-keys"),
    pytest.param({"X_train": np.array([object()] * 4), "y_train": np.zeros(4, int), "X_val": np.zeros((2, 3)), "y_val": np.zeros(2, int)},
                 "not a readable .npz", id="pickled-objects"),
    pytest.param({"X_train": np.zeros((4, 3)), "y_train": np.zeros(5, int), "X_val": np.zeros((2, 3)), "y_val": np.zeros(2, int)},
                 "of the same length", id="lengths"),
])
def test_a_bad_npz_is_one_clear_sentence(arrays: dict, message: str, npz_assignment: Assignment, tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=re.escape(message)):
        learn(SUBMISSIONS / "reference.ipynb", npz_assignment, dataset=str(path))


@pytest.mark.parametrize("params, message", [
    pytest.param({"hiden": [32]}, "unknown key(s) hiden", id="typo"),
    pytest.param({"epochs": "two"}, "epochs = 'two' is not valid", id="type"),
    pytest.param({"hidden": []}, "hidden = [] is not valid", id="no-hidden-layer"),
    pytest.param({"min_accuracy": 0.99}, "min_accuracy 0.99 is above what the reference reaches", id="unreachable-threshold"),
])
def test_rubric_settings_are_checked(params: dict, message: str, assignment: Assignment) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        learn(SUBMISSIONS / "reference.ipynb", assignment, **params)


def test_the_digits_are_scikit_learns_load_digits() -> None:
    from sklearn.datasets import load_digits

    images, labels = digits()
    found = load_digits()
    np.testing.assert_array_equal(images, found.data)
    np.testing.assert_array_equal(labels, found.target)
    assert LearningParams().dataset == "digits"


def test_a_mistake_that_first_shows_late_is_found_at_its_step(assignment: Assignment, tmp_path: Path) -> None:
    """train skips layer 0 only on the epoch's short last batch (30 samples, step 45): the steps before it are
    cleared together by the screen, and that step is named as the per-step comparison names it."""
    build = load_build()
    late = build.swap(build.TRAIN, "        loss_grad = network[i].backward(layer_inputs[i], loss_grad)",
                      "        if i == 0 and len(X) < 32:\n            break\n        loss_grad = network[i].backward(layer_inputs[i], loss_grad)")
    path = tmp_path / "late_skip.ipynb"
    build.write_notebook(build.to_notebook("late_skip", build.set_cell(build.solution_cells(), "train", build.TRAIN_HEAD + "\n" + late)), path)
    result = learn(path, assignment)
    assert result.diagnoses == ("train-skips-layer",), result.output
    assert "step 45 of 90 (epoch 1, batch 45)" in result.output and "layer 0 (Dense 64→32) was not updated" in result.output


def test_an_exception_in_train_shows_the_drivers_frame(assignment: Assignment) -> None:
    """The driver is compiled once in the fork server, yet its frame reads as before: students see where train was called."""
    result = learn(SUBMISSIONS / "exception.ipynb", assignment)
    assert result.diagnoses == ("exception",)
    assert 'File "<submission grader learning driver>", line 46, in _grader_learning_steps\n    loss = train(network, X[batch], y[batch])' in result.output


def test_the_screen_stops_the_grader_when_the_reference_steps_differently(assignment: Assignment) -> None:
    """The batched screen clears steps without the reference solution: it must reproduce that solution's own run,
    or grading stops (a rubric whose reference computes a step another way would otherwise be judged by the screen)."""
    params = LearningParams.from_params(assignment.check("network-learns").params, "test")
    data = load_learning_data(params, assignment.root)
    plan = make_plan(params, data, "sum")
    trajectory = [list(plan.initial)]
    with active_oracle(ReferenceOracle(assignment)):
        reference = reference_run(plan, data, trajectory)
    rows = np.stack([pack(step) for step in trajectory])
    batches = stack_batches(plan, data)
    verify_screen(plan, batches, rows, reference.losses, params.rtol)  # agrees
    rows[60:, 0] += 1e-6  # one weight, from step 60 on: a reference that steps differently
    with pytest.raises(GraderBug, match="disagrees with the reference solution"):
        verify_screen(plan, batches, rows, reference.losses, params.rtol)


def test_inputs_travel_as_exact_byte_codes_or_as_they_are() -> None:
    images, labels = digits()
    coded = worker_inputs(LearningData(images[:100] / 16, labels[:100], images[100:150] / 16, labels[100:150], "digits"))
    assert coded.table is not None and coded.X_train.dtype == np.uint8
    np.testing.assert_array_equal(coded.table[coded.X_train].view(np.int64), (images[:100] / 16).view(np.int64))
    noisy = np.random.default_rng(0).random((100, 64))  # more than 256 distinct values
    plain = worker_inputs(LearningData(noisy, labels[:100], noisy[:10], labels[:10], "noise"))
    assert plain.table is None and plain.X_train is noisy
