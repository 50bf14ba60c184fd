"""Three curricula, one grader: CS231n's layers, deeplearning.ai's Step by Step, a variant
course's class and the classic Dense class, graded by the same layer checks through their
`[interface]` tables. Real-style submissions, graded by the `grade` command as a subprocess.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.errors import InputError
from grader.interfaces import interface_from_toml

from conftest import ROOT, run_grade

SUBMISSIONS = ROOT / "tests" / "submissions"
VARIANTS = ROOT / "tests" / "variants"


def grade_json(path: Path, *args: str) -> dict:
    run = run_grade(str(path), "--format", "json", *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def lost(report: dict) -> dict[str, list[str]]:
    """Check name -> its diagnoses, for the checks that lost points."""
    return {t["name"]: t["diagnoses"] for t in report["tests"] if t["score"] < t["max_score"]}


# -- CS231n ------------------------------------------------------------------------------------
CS231N = [
    pytest.param("correct_dot", {}, id="cs231n-correct-dot"),
    pytest.param("correct_matmul", {}, id="cs231n-correct-matmul-reshape"),
    pytest.param("db_kept_dims", {"affine-backward-values": ["grad-bias-kept-dims"]}, id="cs231n-db-kept-1xM"),
    pytest.param("dx_flattened", {"affine-backward-values": ["grad-input-flattened"]}, id="cs231n-dx-flattened"),
    pytest.param("db_mean", {"affine-backward-values": ["grad-bias-mean"], "affine-backward-gradcheck": ["grad-bias-mean"], "affine-backward-batch": ["grad-bias-mean"]}, id="cs231n-db-mean-dw-sum"),
    pytest.param("relu_in_place", {"relu-forward-values": ["relu-in-place"]}, id="cs231n-relu-in-place"),
    pytest.param("softmax_not_averaged", {"softmax-loss-values": ["loss-not-averaged"], "network-learns": ["train-wrong"]}, id="cs231n-softmax-not-divided-by-N"),
    pytest.param("python_loop", {"affine-backward-timing": ["python-loop"]}, id="cs231n-python-loop-timed"),
]


@pytest.mark.parametrize(("name", "expected"), CS231N)
def test_cs231n_layers(name: str, expected: dict[str, list[str]]) -> None:
    """Each mistake costs the function that makes it, named; recognised without --assignment."""
    report = grade_json(SUBMISSIONS / "cs231n" / f"{name}.py")
    assert report["assignment"] == "cs231n_layers"
    assert lost(report) == expected
    net = next(t for t in report["tests"] if t["name"] == "two-layer-net-loss")
    assert (net["max_score"], net["output"]) == (0, "TwoLayerNet is not in this submission, so it is not graded.")
    assert report["max_score"] == load_assignment("cs231n_layers").max_score - 2


@pytest.mark.parametrize(("folder", "expected"), [
    pytest.param("folder", {}, id="cs231n-folder-correct"),
    pytest.param("folder_reg_not_halved", {"two-layer-net-loss": ["regularization-wrong"]}, id="cs231n-folder-reg-not-halved"),
])
@pytest.mark.parametrize("as_zip", [pytest.param(False, id="folder"), pytest.param(True, id="zip")])
def test_cs231n_folder_or_zip(folder: str, expected: dict[str, list[str]], as_zip: bool, tmp_path: Path) -> None:
    """The assignment's folder (or its zip): cs231n/layers.py and cs231n/classifiers/fc_net.py found inside and graded, TwoLayerNet included."""
    path = SUBMISSIONS / "cs231n" / folder
    if as_zip:
        path = Path(shutil.make_archive(str(tmp_path / "assignment2"), "zip", path))
    report = grade_json(path)
    assert report["assignment"] == "cs231n_layers"
    assert lost(report) == expected
    assert report["max_score"] == load_assignment("cs231n_layers").max_score


def test_cs231n_fix_is_worded_in_the_course_names() -> None:
    report = grade_json(SUBMISSIONS / "cs231n" / "db_kept_dims.py")
    output = next(t["output"] for t in report["tests"] if t["name"] == "affine-backward-values")
    assert "db must have b's shape (out,): db = np.sum(dout, axis=0) (no keepdims)." in output
    assert "shape (1, 3), expected (3,)" in output


# -- deeplearning.ai Step by Step --------------------------------------------------------------
DLS = [
    pytest.param("correct", {}, id="dls-correct-np-dot"),
    pytest.param("correct_matmul", {}, id="dls-correct-matmul"),
    pytest.param("correct_2017_imports", {}, id="dls-correct-versioned-given-modules"),
    pytest.param("correct_2017_dA_keys", {}, id="dls-correct-2017-dA-numbering"),
    pytest.param("db_no_keepdims", {"linear-backward-values": ["grad-bias-dims-dropped"], "l-model-training-step": ["train-wrong"], "l-model-learns": ["exception"]}, id="dls-db-no-keepdims"),
    pytest.param("db_squeezed", {"linear-backward-values": ["grad-bias-dims-dropped"], "l-model-training-step": ["train-wrong"], "l-model-learns": ["exception"]}, id="dls-db-squeezed"),
    pytest.param("missing_one_over_m", {"linear-backward-values": ["grad-weights-sum", "grad-bias-sum"], "linear-backward-gradcheck": ["grad-weights-sum", "grad-bias-sum"], "linear-backward-batch": ["grad-weights-sum", "grad-bias-sum"], "l-model-training-step": ["train-wrong"], "l-model-learns": ["train-wrong"]}, id="dls-missing-1-over-m"),
    pytest.param("dw_transposed", {"linear-backward-values": ["grad-weights-transposed"], "l-model-training-step": ["exception"], "linear-backward-timing": ["exception"], "l-model-learns": ["exception"]}, id="dls-dW-transposed"),
    pytest.param("sigmoid_backward_every_layer", {"l-model-backward-values": ["sigmoid-backward-every-layer"], "l-model-training-step": ["train-wrong"]}, id="dls-sigmoid-backward-every-layer"),
    pytest.param("dA_keys_shifted", {"l-model-backward-values": ["grad-keys-shifted"], "l-model-training-step": ["exception"], "l-model-learns": ["exception"]}, id="dls-dA-keys-shifted"),
    pytest.param("update_skips_last_layer", {"update-parameters-values": ["update-skips-last-layer"], "l-model-training-step": ["train-wrong"]}, id="dls-update-skips-last-layer"),
    pytest.param("relu_backward_swapped", {"linear-activation-backward-values": ["activation-swapped"], "l-model-training-step": ["train-wrong"], "l-model-learns": ["train-wrong"]}, id="dls-activation-backward-swapped"),
    pytest.param("init_weights_transposed", {"initialize-parameters-values": ["init-scale", "weights-shape"]}, id="dls-init-weights-transposed"),
    pytest.param("update_ascends", {"update-parameters-values": ["update-sign"], "l-model-training-step": ["train-wrong"], "l-model-learns": ["train-wrong"]}, id="dls-update-ascends-does-not-learn"),
    pytest.param("linear_forward_missing_bias", {"linear-forward-values": ["forward-missing-bias"], "linear-backward-gradcheck": ["forward-missing-bias"], "l-model-training-step": ["train-wrong"]}, id="dls-linear-forward-costs-only-itself"),
]


@pytest.mark.parametrize(("name", "expected"), DLS)
def test_dls_step_by_step(name: str, expected: dict[str, list[str]]) -> None:
    """Each function graded on its own (a wrong linear_forward leaves L_model_forward's points); the chain check runs the student's own."""
    report = grade_json(SUBMISSIONS / "dls" / f"{name}.py")
    assert report["assignment"] == "dls_step_by_step"
    assert lost(report) == expected


def test_dls_notebook_with_given_modules() -> None:
    """The notebook imports dnn_utils, testCases and public_tests, which the grader supplies."""
    report = grade_json(SUBMISSIONS / "dls" / "correct_notebook.ipynb")
    assert report["assignment"] == "dls_step_by_step"
    assert report["score"] == report["max_score"] == load_assignment("dls_step_by_step").max_score


def test_dls_fix_is_worded_in_the_course_names() -> None:
    report = grade_json(SUBMISSIONS / "dls" / "db_no_keepdims.py")
    output = next(t["output"] for t in report["tests"] if t["name"] == "linear-backward-values")
    assert "db must keep b's shape (out, 1): db = np.sum(dZ, axis=1, keepdims=True) / m." in output


# -- a variant course, and the classic form, through assignment.toml alone --------------------
@pytest.mark.parametrize(("name", "expected"), [
    pytest.param("correct", {}, id="variant-correct"),
    pytest.param("dw_transposed", {"linear-backward-values": ["grad-weights-transposed"]}, id="variant-dW-stored-in-out"),
    pytest.param("db_mean", {"linear-backward-values": ["grad-bias-mean"], "linear-backward-gradcheck": ["grad-bias-mean"], "linear-backward-batch": ["grad-bias-mean"]}, id="variant-db-mean"),
])
def test_variant_linear_class_through_toml(name: str, expected: dict[str, list[str]]) -> None:
    """class Linear, W (out, in), gradients as self.dW/self.db: no Python of the grader's written for it."""
    report = grade_json(VARIANTS / "linear_class" / f"{name}.py", "--assignment", str(VARIANTS / "linear_class"))
    assert lost(report) == expected


@pytest.mark.parametrize(("name", "expected"), [
    pytest.param("correct_np_dot", {}, id="hse-correct"),
    pytest.param("grad_weights_mean", {"dense-backward-values": ["grad-weights-mean"], "dense-backward-gradcheck": ["grad-weights-mean"], "dense-backward-batch": ["grad-weights-mean"]}, id="hse-grad-weights-mean"),
    pytest.param("update_sign", {"dense-backward-values": ["update-sign"], "dense-backward-gradcheck": ["update-sign"]}, id="hse-update-sign"),
])
def test_classic_dense_through_the_adapter(name: str, expected: dict[str, list[str]]) -> None:
    """The HSE Dense class (gradients read through its SGD step) through the same layer checks."""
    report = grade_json(SUBMISSIONS / f"{name}.ipynb", "--assignment", str(VARIANTS / "hse_dense"))
    assert lost(report) == expected


# -- recognition -------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "name"), [
    pytest.param(SUBMISSIONS / "cs231n" / "correct_dot.py", "cs231n_layers", id="cs231n-layers-py"),
    pytest.param(SUBMISSIONS / "dls" / "correct_notebook.ipynb", "dls_step_by_step", id="dls-notebook"),
    pytest.param(SUBMISSIONS / "correct_np_dot.ipynb", "dense_layer", id="hse-notebook"),
    pytest.param(SUBMISSIONS / "classic_mean_convention.ipynb", "dense_layer", id="hse-older-version-default-wins-tie"),
])
def test_grade_recognises_the_assignment(path: Path, name: str) -> None:
    run = run_grade(str(path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith(f"{path}: assignment {name}, grading with")


def test_ambiguous_submission_lists_candidates(tmp_path: Path) -> None:
    path = tmp_path / "both.py"
    path.write_text("import numpy as np\n\ndef affine_forward(x, w, b):\n    return x @ w + b, (x, w, b)\n\ndef linear_forward(A, W, b):\n    return W @ A + b, (A, W, b)\n")
    run = run_grade(str(path))
    assert run.returncode == 2
    assert re.search(r"pass --assignment NAME, one of: cs231n_layers \(.*\), dls_step_by_step \(", run.stderr)
    assert run_grade(str(path), "--assignment", "cs231n_layers").returncode == 0  # the flag still overrides


# -- the [interface] table ---------------------------------------------------------------------
def test_interface_table_rejects_unknown_keys_and_values() -> None:
    with pytest.raises(InputError, match=re.escape("x.toml [interface]: unknown key(s) layout; allowed:")):
        interface_from_toml({"layout": "rows"}, "x.toml")
    with pytest.raises(InputError, match=re.escape("x.toml [interface]: examples must be one of rows, columns, not 'cols'.")):
        interface_from_toml({"examples": "cols"}, "x.toml")
    with pytest.raises(InputError, match=re.escape("x.toml [interface]: a class form needs class_name.")):
        interface_from_toml({"form": "class"}, "x.toml")


# -- the student side and Gradescope for the new forms -----------------------------------------
@pytest.mark.parametrize(("assignment", "submission", "starter", "code"), [
    pytest.param("cs231n_layers", SUBMISSIONS / "cs231n" / "db_kept_dims.py", "layers.py", "grad-bias-kept-dims", id="cs231n"),
    pytest.param("dls_step_by_step", SUBMISSIONS / "dls" / "missing_one_over_m.py", "step_by_step.ipynb", "grad-weights-sum", id="dls"),
])
def test_release_and_grade_check(assignment: str, submission: Path, starter: str, code: str, tmp_path: Path) -> None:
    """`grade release` writes the starting file, the given modules and the public checks; `grade
    check` runs them on a student's file beside them, without the reference."""
    out = tmp_path / "bundle"
    assert run_grade("release", "--assignment", assignment, "--out", str(out)).returncode == 0
    given = load_assignment(assignment).given
    assert {starter, "public_checks.json", f"{assignment}.zip", *given} <= {p.name for p in out.iterdir()}
    mine = out / submission.name
    shutil.copy(submission, mine)
    run = run_grade("check", str(mine))
    assert run.returncode == 1, run.stderr
    assert code in run.stdout and "Not checked here:" in run.stdout


def test_gradescope_autograder_grades_a_cs231n_folder(tmp_path: Path) -> None:
    """Inside the autograder, a CS231n upload (the assignment's folder) is graded for its files."""
    import subprocess
    import sys

    root = tmp_path / "autograder"
    shutil.copytree(SUBMISSIONS / "cs231n" / "folder_reg_not_halved", root / "submission")
    run = subprocess.run([sys.executable, "-m", "grader.platforms.gradescope", "--run", str(root), "--assignment", str(ROOT / "assignments" / "cs231n_layers")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    net = next(t for t in results["tests"] if t["name"] == "two-layer-net-loss")
    assert net["score"] < net["max_score"] == 2 and "The L2 term is 0.5 * reg" in net["output"]


def test_batch_recognises_the_class_and_grades_every_student(tmp_path: Path) -> None:
    """A class of CS231n files is graded against cs231n_layers without --assignment; a student
    whose file matches nothing is graded against it too (scores 0), never refused."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("correct_dot", "db_mean"):
        shutil.copy(SUBMISSIONS / "cs231n" / f"{name}.py", folder / f"{name}.py")
    (folder / "lost.py").write_text("print('I did not do the homework')\n")
    run = run_grade("batch", str(folder), "--out", str(tmp_path / "results"), "--jobs", "2", "--no-html", timeout=300)
    assert run.returncode == 0, run.stderr
    assert "assignment: cs231n_layers (recognised from the class; --assignment overrides)" in run.stdout
    reports = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "results").glob("*.json")}
    assert {r["assignment"] for r in reports.values()} == {"cs231n_layers"}
    assert reports["correct_dot"]["score"] == reports["correct_dot"]["max_score"] and reports["lost"]["score"] == 0


def test_adapter_presents_canonical_arrays_in_each_form() -> None:
    """The translation is plain array work in the grader: columns, (out, in) weights, (out, 1)
    biases and the mean for deeplearning.ai; an N-D x for CS231n; the fixes in each form's words."""
    import numpy as np

    from grader.interfaces import LayerAdapter, form_words

    rng = np.random.default_rng(0)
    X, W, b, G = rng.standard_normal((6, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((6, 3))
    dls = LayerAdapter(load_assignment("dls_step_by_step").interface)
    case = dls.student_case(X, W, b, G)
    assert (case.x.shape, case.w.shape, case.b.shape, case.dout.shape) == ((4, 6), (3, 4), (3, 1), (3, 6))
    np.testing.assert_allclose(dls.rows_of(X @ W + b), case.w @ case.x + case.b)
    np.testing.assert_allclose(dls.dw_of(X.T @ G, 6), case.dout @ case.x.T / 6)
    cs = LayerAdapter(load_assignment("cs231n_layers").interface)
    assert cs.student_case(X, W, b, G).x.shape == (6, 2, 2)
    assert form_words(dls.interface).db == "np.sum(dZ, axis=1, keepdims=True) / m"
    assert form_words(cs.interface).dw == "x.reshape(x.shape[0], -1).T @ dout"
