"""network-learns: a run that stops before its last step never passes, and the report says why it stopped.

The class of wrong grade: a `train` that is right for its first steps and then stops learning passed
when it spent the time budget first (the run stopped, and the held-out accuracy was not judged). Each
notebook here is the solution with a `train` that counts its calls; the notebook's own self-check and
demo (which call train) are dropped, so the learning run's first call is call 1.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from conftest import SUBMISSIONS
from grader.assignment import Assignment, load_assignment
from test_learning import learn, load_build

BURN = '''
_started = time.process_time()
while time.process_time() - _started < {seconds}:
    pass  # busy work: CPU spent instead of learning
'''
"""A guard's CPU burner (the budget counts CPU seconds where the kernel counts them; process_time is CPU)."""


@pytest.fixture(scope="module")
def assignment() -> Assignment:
    return load_assignment()


def counting_train(tmp_path: Path, name: str, guard: str) -> Path:
    """The solution notebook whose train runs `guard` (indented code; `calls` is this call's number) before its body."""
    build = load_build()
    head = "import time\n\n_train_calls = [0]\n\n\n" + build.TRAIN_HEAD
    prelude = textwrap.indent(f"_train_calls[0] += 1\ncalls = _train_calls[0]\n{guard.strip()}\n", "    ")
    cells = build.set_cell(build.solution_cells(), "train", f"{head}\n{prelude}\n{build.TRAIN}")
    cells = build.drop_cells(cells, "md-selfcheck", "selfcheck", "md-demo", "demo")
    path = tmp_path / f"{name}.ipynb"
    build.write_notebook(build.to_notebook(name, cells), path)
    return path


NO_STEP = '''
if calls > {last}:
    return float(np.mean(softmax_crossentropy_with_logits(forward(network, X)[-1], y)))  # no backward: stops learning
'''


@pytest.mark.parametrize("guard, stopped, ran", [
    pytest.param(NO_STEP.format(last=2) + BURN.format(seconds=0.3), "too-slow",
                 r"ran 2 of 90 steps; stopped because the time budget of 1 s( of CPU)? would not last: at [\d.e-]+ s a step, the 90 steps need about [\d.e+-]+ s",
                 id="burns-in-its-first-steps-then-stops"),
    pytest.param(NO_STEP.format(last=80) + BURN.format(seconds=0.015), ("time-budget", "too-slow"),
                 r"ran (\d+) of 90 steps; stopped because the time budget of 1 s( of CPU)? (was spent|would not last)",
                 id="spends-the-budget-then-stops"),
])
def test_a_run_stopped_early_by_the_budget_does_not_pass(guard: str, stopped: str | tuple[str, ...], ran: str, assignment: Assignment, tmp_path: Path) -> None:
    """Right for its first steps, spending CPU so that the run stops before the steps where it stops learning."""
    result = learn(counting_train(tmp_path, "burn_then_stop", guard), assignment)
    learning = result.details["learning"]
    assert result.score == 0, result.output
    assert learning["stopped"] in (stopped if isinstance(stopped, tuple) else (stopped,)), learning
    assert learning["steps_done"] < 80 and learning["accuracy"] is None
    found = re.search(ran, result.output)
    assert found, result.output
    assert re.search(ran, learning["stop_reason"]), learning["stop_reason"]
    assert f"ran {learning['steps_done']} of 90 steps" in result.output
    assert "The steps taken were checked (they were right)" in result.output
    assert result.diagnoses == ("timeout",)  # no timing check in this run says python-loop


def test_a_run_that_stops_learning_without_spending_time_fails_at_that_step(assignment: Assignment, tmp_path: Path) -> None:
    result = learn(counting_train(tmp_path, "quiet_stop", NO_STEP.format(last=5)), assignment)
    learning = result.details["learning"]
    assert result.score == 0 and result.diagnoses == ("train-wrong",), result.output
    assert learning["stopped"] == "completed" and learning["steps_done"] == 90 and learning["stop_reason"] == "ran all 90 steps"
    assert "step 6 of 90 (epoch 1, batch 6)" in result.output
    assert "changed no layer's parameters at this step, after 5 right steps" in result.output
    assert "Training ran all 90 steps." in result.output


def test_a_train_that_never_steps_is_not_said_to_skip_one_layer(assignment: Assignment, tmp_path: Path) -> None:
    result = learn(counting_train(tmp_path, "never_steps", NO_STEP.format(last=0)), assignment)
    assert result.score == 0 and result.diagnoses == ("train-wrong",), result.output
    assert "at step 1 of 90 (epoch 1, batch 1): train(network, X, y) changed no layer's parameters at this step;" in result.output


def test_a_run_that_raises_after_some_steps_fails_and_says_where(assignment: Assignment, tmp_path: Path) -> None:
    result = learn(counting_train(tmp_path, "raises_later", 'if calls > 3:\n    raise RuntimeError("tired of training")'), assignment)
    learning = result.details["learning"]
    assert result.score == 0 and result.diagnoses == ("exception",), result.output
    assert learning["stopped"] == "raised" and learning["steps_done"] == 3 and learning["accuracy"] is None
    assert "[learning run: ran 3 of 90 steps; stopped because train raised RuntimeError at step 4; the steps before were right]" in result.output
    assert "RuntimeError: tired of training" in result.output


def test_a_run_that_raises_at_once_says_no_step_ran(assignment: Assignment) -> None:
    result = learn(SUBMISSIONS / "exception.ipynb", assignment)
    assert result.score == 0 and result.details["learning"]["steps_done"] == 0
    assert "[learning run: ran 0 of 90 steps; stopped because train raised IndexError at step 1]" in result.output


@pytest.mark.parametrize("name", ["reference", "python_loop"])
def test_honest_code_slow_or_not_takes_every_step_and_passes(name: str, assignment: Assignment) -> None:
    """A per-sample Python loop is slow but honest: it finishes well inside the budget and is judged on its accuracy."""
    result = learn(SUBMISSIONS / f"{name}.ipynb", assignment)
    learning = result.details["learning"]
    assert result.score == result.max_score, result.output
    assert learning["stopped"] == "completed" and learning["steps_done"] == 90 and learning["accuracy"] >= 0.85


def test_a_triple_loop_stops_after_its_first_request_and_fails(assignment: Assignment) -> None:
    """Honest but ~600x the reference: all 90 steps would cost ~10-20 s of CPU a notebook, so the run stops as soon as
    its cost per step shows it (2 steps), and fails: its accuracy is never judged."""
    result = learn(SUBMISSIONS / "python_triple_loop.ipynb", assignment)
    learning = result.details["learning"]
    assert result.score == 0 and learning["stopped"] == "too-slow" and learning["steps_done"] == 2, result.output
    assert "ran 2 of 90 steps; stopped because the time budget of 1 s" in result.output and "would not last" in result.output


def test_a_run_that_dies_later_names_the_request_it_died_in(assignment: Assignment, tmp_path: Path) -> None:
    """The process dies at step 20: the steps of that request are lost with it, so the report names the request's steps."""
    result = learn(counting_train(tmp_path, "dies_later", "if calls == 20:\n    import os\n    os._exit(3)"), assignment)
    learning = result.details["learning"]
    assert result.score == 0 and result.diagnoses == ("crash",), result.output
    found = re.search(r"ran (\d+) of 90 steps; stopped because the process running your code died during steps (\d+)-(\d+)", learning["stop_reason"])
    assert found, learning["stop_reason"]
    done, first, last = map(int, found.groups())
    assert done == learning["steps_done"] and first == done + 1 <= 20 <= last
    assert f"[learning run: {learning['stop_reason']}; the steps before were right]" in result.output
