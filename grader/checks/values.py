"""Value checks against the reference: forward, grad_input and the SGD update.

Each check gives the student's layer known parameters, so a bug in one method never
spoils another method's check, and reads parameter gradients through the SGD step with a
non-default learning rate. Wrong outputs are matched against mutants of the reference
to name the mistake.
"""

from __future__ import annotations

import numpy as np

from ..compare import widened_rtol
from ..errors import StudentFailure
from ..oracle import ref
from . import register
from .base import CheckContext, DenseCase, Outcome, Recorder, call_method, cases, make_dense
from .batched import backward_each, outputs_each

RTOL = 1e-5
DEFAULT_LEARNING_RATES = (0.037, 0.29, 0.0061)


def _learning_rates(ctx: CheckContext) -> list[float]:
    return list(ctx.param("learning_rates", DEFAULT_LEARNING_RATES))


@register("dense.forward")
def check_forward(ctx: CheckContext) -> Outcome:
    """Z = XW + b on several shapes, including a square layer."""
    rec = Recorder()
    rtol = ctx.param("rtol", RTOL)
    runs = [(case, 0.1, case.X.copy()) for case in cases(ctx)]
    for (case, _, _), Z in zip(runs, outputs_each(ctx, runs)):
        X, W, b = case.X, case.W, case.b
        mutants = [("forward-missing-bias", X @ W)]
        if W.shape[0] == W.shape[1]:
            mutants += [("forward-transposed-weights", X @ W.T + b), ("forward-transposed-weights", X @ W.T)]
        if isinstance(Z, StudentFailure):
            rec.student_failure(Z, case.label)
            continue
        result = rec.compare(f"forward output ({case.label})", Z, ref.dense_forward(X, W, b), rtol, mutants, "forward-wrong")
        if not result.ok and rec.outcome.diagnoses[-1:] == ["forward-wrong"] and _differs_between_fresh_layers(ctx, case, Z):
            rec.outcome.diagnoses[-1] = "nondeterministic"
            rec.outcome.messages[-1] += "\nTwo fresh layers with the same parameters gave different outputs for the same input."
    return rec.outcome


def _differs_between_fresh_layers(ctx: CheckContext, case: DenseCase, first: object) -> bool:
    """Whether a second fresh layer disagrees with the first on the same input (randomness).

    Then "forward-wrong" would not explain the output: it is right up to noise, and the
    fix is to remove the noise, not to change the formula.
    """
    if not isinstance(first, np.ndarray) or first.dtype.kind not in "biuf":
        return False
    try:
        again = call_method(ctx, make_dense(ctx, case, 0.1), "forward", case.X.copy())
    except StudentFailure:
        return False
    return isinstance(again, np.ndarray) and again.shape == first.shape and not np.array_equal(again, first)


@register("dense.grad_input")
def check_grad_input(ctx: CheckContext) -> Outcome:
    """grad_input = G Wᵀ with W as it was before the SGD step."""
    rec = Recorder()
    rtol = ctx.param("rtol", RTOL)
    runs = list(zip(cases(ctx), _learning_rates(ctx) * 3))
    for (case, lr), result in zip(runs, backward_each(ctx, runs)):
        X, W, G = case.X, case.W, case.G
        mutants = [("update-before-grad-input", G @ (W - lr * ref.dense_grad_weights(X, G, c)).T) for c in ("sum", "mean")]
        if W.shape[0] == W.shape[1]:
            mutants.append(("grad-input-transposed", G @ W))
        if isinstance(result, StudentFailure):
            rec.student_failure(result, case.label)
            continue
        rec.compare(f"grad_input ({case.label})", result.grad_input, ref.dense_grad_input(G, W), rtol, mutants, "grad-input-wrong")
    return rec.outcome


def _weight_mutants(case: DenseCase, convention: str) -> list[tuple[str, np.ndarray]]:
    X, G = case.X, case.G
    n_in, n_out = case.W.shape
    right = ref.dense_grad_weights(X, G, convention)
    other = ref.dense_grad_weights(X, G, "mean" if convention == "sum" else "sum")
    mutants = [
        ("grad-weights-mean" if convention == "sum" else "grad-weights-sum", other),
        ("grad-weights-transposed", (G.T @ X).reshape(n_in, n_out)),
        ("grad-weights-transposed", G.T @ X),
        ("update-sign", -right),
        ("no-update", np.zeros_like(right)),
    ]
    if n_in == n_out:
        mutants.append(("grad-weights-transposed", right.T))
    return mutants


def _bias_mutants(case: DenseCase, convention: str) -> list[tuple[str, np.ndarray]]:
    G = case.G
    right = ref.dense_grad_biases(G, convention)
    other = ref.dense_grad_biases(G, "mean" if convention == "sum" else "sum")
    return [
        ("grad-bias-mean" if convention == "sum" else "grad-bias-sum", other),
        ("grad-bias-not-summed", G),
        ("grad-bias-not-summed", G[0]),
        ("grad-bias-wrong-axis", np.full_like(right, G.sum())),
        ("grad-bias-wrong-axis", np.asarray(G.sum())),
        ("grad-bias-wrong-axis", G.sum(axis=1)),
        ("update-sign", -right),
        ("no-update", np.zeros_like(right)),
    ]


def _update_check(ctx: CheckContext, which: str) -> Outcome:
    """Shared logic of the weights and biases update checks."""
    rec = Recorder()
    base_rtol = ctx.param("rtol", RTOL)
    implied_steps: list[tuple[float, float]] = []  # (lr, fixed step) when the update ignores lr
    runs = list(zip(cases(ctx), _learning_rates(ctx) * 3))
    for (case, lr), result in zip(runs, backward_each(ctx, runs)):
        if which == "weights":
            expected = ref.dense_grad_weights(case.X, case.G, ctx.convention)
            mutants = _weight_mutants(case, ctx.convention)
            name, generic = "weight gradient (W − W')/lr", "grad-weights-wrong"
        else:
            expected = ref.dense_grad_biases(case.G, ctx.convention)
            mutants = _bias_mutants(case, ctx.convention)
            name, generic = "bias gradient (b − b')/lr", "grad-bias-wrong-axis"
        if isinstance(result, StudentFailure):
            rec.student_failure(result, case.label)
            continue
        actual = result.grad_W if which == "weights" else result.grad_b
        # float32 parameters read through (p − p')/lr: the tolerance follows their rounding.
        rtol = widened_rtol(base_rtol, result.noise_W if which == "weights" else result.noise_b, float(np.linalg.norm(expected)))
        if result.assert_failure is not None:
            name = "grad_weights" if which == "weights" else "grad_biases"
        comparison = rec.compare(f"{name} ({case.label}, lr={lr:g})", actual, expected, rtol, mutants, generic)
        _keep_heatmap(rec, f"{which}_heatmap", case, lr, actual, expected, comparison.rel_error, rtol)
        if not comparison.ok and isinstance(actual, np.ndarray) and actual.shape == expected.shape:
            ratio = float(np.vdot(actual, expected) / np.vdot(expected, expected))
            # A step proportional to the right one but off by a constant factor; a zero step
            # (no-update) and the batch-size factor (grad-*-mean) are explained elsewhere.
            if np.linalg.norm(actual - ratio * expected) <= rtol * np.linalg.norm(expected) and not np.isclose(ratio, 1.0) and abs(ratio) > 1e-6:
                implied_steps.append((lr, ratio * lr))
        if result.assert_failure is not None and not comparison.ok:
            rec.outcome.messages[-1] += f"\n(backward stopped at the shape assert: {result.assert_failure.message})"
    if len({lr for lr, _ in implied_steps}) >= 2 and np.ptp([step for _, step in implied_steps]) <= 1e-6 * abs(implied_steps[0][1]):
        rec.outcome.diagnoses = [c for c in rec.outcome.diagnoses if c != generic] + ["learning-rate-ignored"]
        rec.outcome.messages.append(f"The step does not change with the learning rate: it is always {implied_steps[0][1]:g} × the gradient.")
    return rec.outcome


def _keep_heatmap(rec: Recorder, key: str, case: DenseCase, lr: float, actual: object, expected: np.ndarray, error: float, rtol: float) -> None:
    """Keep the worst failing case's update (student and reference, as lists) for the HTML heatmap.

    Stored only on failure and only when the shapes agree: a picture of |student − reference|
    shows a transposition or a per-row error at a glance, but a correct update is all zeros.
    """
    if not np.isfinite(error) or error <= rtol or not isinstance(actual, np.ndarray) or actual.shape != expected.shape:
        return
    # Prefer the square case (a transposition keeps its shape there), then the largest error.
    rank = (case.W.shape[0] == case.W.shape[1], float(error))
    previous = rec.outcome.details.get(key)
    if previous is None or rank > (previous["square"], previous["rel_error"]):
        rec.outcome.details[key] = {
            "label": f"{case.label}, lr={lr:g}",
            "student": np.asarray(actual, dtype=np.float64).round(10).tolist(),
            "expected": expected.round(10).tolist(),
            "rel_error": float(error),
            "square": case.W.shape[0] == case.W.shape[1],
        }


@register("dense.update_weights")
def check_update_weights(ctx: CheckContext) -> Outcome:
    """W' = W − lr · XᵀG (sum over the batch; mean if the assignment says so)."""
    return _update_check(ctx, "weights")


@register("dense.update_biases")
def check_update_biases(ctx: CheckContext) -> Outcome:
    """b' = b − lr · Σₙ Gₙ (sum over the batch; mean if the assignment says so)."""
    return _update_check(ctx, "biases")
