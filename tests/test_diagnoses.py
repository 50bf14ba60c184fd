"""Naming mistakes: the sentences, mutant matching, resolution of codes, combined mistakes.

Unit level (no sandbox) except one end-to-end test on a notebook with two mistakes; the
corpus test (test_submissions.py) grades every notebook and holds each to its exact set
of codes, which is where "no false diagnosis on the correct notebooks" is enforced.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from grader.checks import get_check

get_check("dense.forward")  # load every check module first: the registry fills itself only when empty
from grader.checks.base import DenseCase  # noqa: E402
from grader.checks.values import _bias_mutants, _weight_mutants  # noqa: E402
from grader.compare import compare  # noqa: E402
from grader.diagnose import ADVICE, GENERIC_CODES, match_mutants, resolve_codes  # noqa: E402
from grader.report.text import text_report  # noqa: E402
from grader.results import CheckResult, GradeReport  # noqa: E402
from reference import dense_layer as ref  # noqa: E402


@pytest.fixture(autouse=True)
def _reference_oracle():  # type: ignore[no-untyped-def]
    """The mutant builders ask `grader.oracle.ref`, which a grading run activates; here, the reference."""
    from grader.assignment import load_assignment
    from grader.oracle import ReferenceOracle, active_oracle

    with active_oracle(ReferenceOracle(load_assignment())):
        yield

MISTAKES = Path("/work/shared/MISTAKES.md")
CODES = [
    "forward-missing-bias", "forward-transposed-weights", "forward-wrong", "weights-shape", "init-scale",
    "grad-input-transposed", "grad-input-wrong", "update-before-grad-input", "grad-weights-mean",
    "grad-weights-transposed", "grad-weights-wrong", "grad-weights-sum", "grad-bias-mean", "grad-bias-sum", "grad-bias-not-summed",
    "grad-bias-wrong-axis", "update-sign", "learning-rate-ignored", "no-update", "mutates-input",
    "mutates-grad-output", "stateful-forward", "batch-coupling", "nondeterministic", "float32-downcast",
    "nan-or-inf", "python-loop", "relu-wrong", "network-forward-wrong", "train-skips-layer", "train-wrong",
    "syntax-error", "not-implemented", "missing-definition", "interface-changed", "exception", "timeout",
    "crash", "memory-limit", "output-flood",
]
"""The stable codes of MISTAKES.md (copied, so that a renamed code fails here loudly)."""


@pytest.mark.skipif(not MISTAKES.exists(), reason="the shared MISTAKES.md is not on this machine")
def test_codes_match_mistakes_md() -> None:
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", MISTAKES.read_text(), flags=re.MULTILINE)
    assert documented == CODES


@pytest.mark.parametrize("code", [pytest.param(c, id=c) for c in CODES])
def test_every_code_has_one_plain_sentence_with_the_fix(code: str) -> None:
    sentence = ADVICE[code]
    assert sentence.endswith(".") and 30 < len(sentence) < 240
    assert sentence.count(". ") <= 1, "one sentence (a colon may introduce the fix)"


def test_weight_update_divided_by_batch_size_has_the_issue_sentence() -> None:
    assert "grad_output already carries the 1/N" in ADVICE["grad-weights-mean"]
    assert "sum over the batch" in ADVICE["grad-weights-mean"]


@pytest.mark.parametrize(
    "codes, expected",
    [
        pytest.param(["forward-wrong", "forward-missing-bias"], ["forward-missing-bias"], id="specific-beats-generic"),
        pytest.param(["forward-wrong", "forward-wrong"], ["forward-wrong"], id="dedup"),
        pytest.param(["exception", "forward-transposed-weights"], ["forward-transposed-weights"], id="shape-mistake-explains-exception"),
        pytest.param(["exception", "grad-weights-mean"], ["exception", "grad-weights-mean"], id="unrelated-exception-kept"),
        pytest.param(["grad-weights-mean", "grad-bias-wrong-axis", "grad-weights-wrong"], ["grad-weights-mean", "grad-bias-wrong-axis"], id="combined"),
        pytest.param([], [], id="nothing"),
    ],
)
def test_resolve_codes(codes: list[str], expected: list[str]) -> None:
    assert resolve_codes(codes) == expected


def test_generic_codes_are_known() -> None:
    assert GENERIC_CODES <= set(CODES)


@pytest.fixture
def cases() -> list[DenseCase]:
    rng = np.random.default_rng(7)
    return [DenseCase.random(rng, *size) for size in ((7, 5, 3), (13, 4, 4), (2, 3, 6))]


def test_every_mutant_differs_from_the_right_answer(cases: list[DenseCase]) -> None:
    """A mutant equal to the correct output could never explain a wrong one."""
    for case in cases:
        right_W = ref.dense_grad_weights(case.X, case.G, "sum")
        right_b = ref.dense_grad_biases(case.G, "sum")
        for code, mutant in _weight_mutants(case, "sum"):
            assert mutant.shape != right_W.shape or not np.allclose(mutant, right_W), code
        for code, mutant in _bias_mutants(case, "sum"):
            assert mutant.shape != right_b.shape or not np.allclose(mutant, right_b), code


@pytest.mark.parametrize(
    "student, code",
    [
        pytest.param(lambda c: c.X.T @ c.G / len(c.X), "grad-weights-mean", id="mean"),
        pytest.param(lambda c: -(c.X.T @ c.G), "update-sign", id="sign"),
        pytest.param(lambda c: (c.G.T @ c.X).reshape(c.W.shape), "grad-weights-transposed", id="reshaped"),
        pytest.param(lambda c: c.G.T @ c.X, "grad-weights-transposed", id="transposed-shape"),
        pytest.param(lambda c: np.zeros_like(c.W), "no-update", id="none"),
    ],
)
def test_weight_mistakes_are_matched(cases: list[DenseCase], student, code: str) -> None:
    for case in cases:
        right = ref.dense_grad_weights(case.X, case.G, "sum")
        assert match_mutants(student(case), _weight_mutants(case, "sum"), right, 1e-5) == [code]


@pytest.mark.parametrize(
    "student, code",
    [
        pytest.param(lambda G: G.mean(axis=0), "grad-bias-mean", id="mean"),
        pytest.param(lambda G: G, "grad-bias-not-summed", id="no-reduction"),
        pytest.param(lambda G: G[0], "grad-bias-not-summed", id="first-row"),
        pytest.param(lambda G: G.sum(axis=1), "grad-bias-wrong-axis", id="axis-1"),
        pytest.param(lambda G: np.full(G.shape[1], G.sum()), "grad-bias-wrong-axis", id="total"),
    ],
)
def test_bias_mistakes_are_matched(cases: list[DenseCase], student, code: str) -> None:
    for case in cases:
        right = ref.dense_grad_biases(case.G, "sum")
        assert match_mutants(student(case.G), _bias_mutants(case, "sum"), right, 1e-5) == [code]


def test_a_right_answer_matches_no_mutant(cases: list[DenseCase]) -> None:
    for case in cases:
        right = ref.dense_grad_weights(case.X, case.G, "sum")
        assert match_mutants(right, _weight_mutants(case, "sum"), right, 1e-5) == []


def test_no_guess_when_the_mutant_equals_the_answer() -> None:
    """With N = 1 the mean and the sum agree, so "mean" explains nothing."""
    case = DenseCase.random(np.random.default_rng(3), 1, 3, 2)
    right = ref.dense_grad_weights(case.X, case.G, "sum")
    assert match_mutants(right.copy(), _weight_mutants(case, "sum"), right, 1e-5) == []


def test_mismatch_message_says_where_in_numpy_testing_style() -> None:
    desired = np.arange(12.0).reshape(3, 4) + 1
    actual = desired.copy()
    actual[2, 1] += 5
    message = compare("weight gradient", actual, desired, 1e-5).message
    assert "Mismatched elements: 1 / 12" in message
    assert "Max absolute difference: 5" in message
    assert "Worst at index (2, 1): yours 15, expected 10" in message


def test_text_report_shows_the_sentence_for_each_code() -> None:
    codes = ("grad-weights-mean", "grad-bias-wrong-axis")
    test = CheckResult("dense-update-weights", 0, 2, "failed", "x", "visible", diagnoses=codes)
    report = GradeReport("s.ipynb", "dense_layer", 0, 2, (test,), codes, 1, "t", 0.1)
    text = text_report(report)
    for code in codes:
        assert code in text and ADVICE[code][:40] in text.replace("\n", " ")


def test_every_code_with_advice_is_in_the_documented_catalogue() -> None:
    catalogue = (Path(__file__).resolve().parent.parent / "docs" / "mistakes.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", catalogue, flags=re.MULTILINE))
    assert set(ADVICE) <= documented, sorted(set(ADVICE) - documented)
