"""Mini-batch semantics: the batch gradient is the sum of per-sample gradients.

Checked through the layer's own updates, independent of the reference values: the batch
update equals the sum (or mean) of per-sample updates, a duplicated batch doubles the
update (sum) or keeps it (mean), each row of grad_input depends only on its own sample,
and a zero grad_output changes nothing.
"""

from __future__ import annotations

import numpy as np

from ..compare import kept_eps, relative_error, widened_rtol
from ..errors import StudentFailure
from . import register
from ..convention import convention_words
from .base import BackwardResult, CheckContext, DenseCase, Outcome, Recorder
from .batched import DenseBatch, backward_in_order

RTOL = 1e-6


class _Unusable(Exception):
    """backward gave no usable parameter steps: the check fails, and names no mistake here
    (the update checks, which see the values, name it)."""


def _steps(result: BackwardResult, case: DenseCase) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The weight and bias steps and their rounding bounds; a wrong shape is kept (a transposed
    dW is still a sum over the batch, a bias step of shape (N, out) is not): `_rel` compares
    shapes first."""
    for value in (result.grad_W, result.grad_b):
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise _Unusable("backward did not update weights and biases with float arrays, so batch semantics cannot be checked.")
    return result.grad_W, result.grad_b, result.noise_W, result.noise_b


def _agrees(actual: np.ndarray, desired: np.ndarray, rtol: float, noise: float) -> bool:
    """Within `rtol`, widened by the rounding the layer's precision explains (float32 layers)."""
    return _rel(actual, desired) <= widened_rtol(rtol, noise, float(np.linalg.norm(desired)))


def _sub(case: DenseCase, rows: slice | np.ndarray) -> DenseCase:
    return DenseCase(case.X[rows], case.W, case.b, case.G[rows])


def _rel(actual: np.ndarray, desired: np.ndarray) -> float:
    """Relative error, infinite when the shapes differ (a gradient of the wrong shape, read
    from the frame where the shape assert stopped backward, must fail, not crash the grader)."""
    if np.shape(actual) != np.shape(desired):
        return float("inf")
    return relative_error(actual, desired)


@register("dense.batch_semantics")
def check_batch_semantics(ctx: CheckContext) -> Outcome:
    rec = Recorder()
    lr = ctx.param("learning_rate", 0.05)
    rtol = ctx.param("rtol", RTOL)
    case = DenseCase.random(ctx.rng, *ctx.param("size", [5, 4, 3]))
    n = case.X.shape[0]
    mean = ctx.convention == "mean"
    try:
        doubled = DenseCase(np.vstack([case.X, case.X]), case.W, case.b, np.vstack([case.G, case.G]))
        results = backward_in_order(ctx, [(case, lr), *[(_sub(case, slice(i, i + 1)), lr) for i in range(n)], (doubled, lr)])
        dW, db, nW, nb = _steps(next(results), case)
        per_sample = [_steps(next(results), case) for _ in range(n)]
        combine = np.mean if mean else np.sum
        words = convention_words(ctx.convention)
        averaged: dict[str, bool] = {}  # the batch update is exactly the mean of per-sample updates
        for label, batch, noise, k, code in (("weights", dW, nW, 0, "grad-weights-mean"), ("biases", db, nb, 1, "grad-bias-mean")):
            single = [p[k] for p in per_sample]
            noise += sum(p[k + 2] for p in per_sample)
            try:
                expected = combine(single, axis=0)
            except ValueError:  # per-sample steps of different shapes
                raise _Unusable(f"backward's {label} steps for single samples do not all have one shape.") from None
            averaged[label] = not mean and batch.shape == expected.shape and _agrees(batch, expected / n, rtol, noise)
            if _agrees(batch, expected, rtol, noise):
                rec.ok()
            else:
                found = [code] if averaged[label] else []
                rec.fail(f"The {label} update for a batch of {n} is not the {words.combine} of the {n} per-sample updates (relative error {_rel(batch, expected):.3g}). {words.why}", *found)
        dW2, db2, nW2, nb2 = _steps(next(results), case)
        factor = 1.0 if mean else 2.0
        for label, twice, once, noise, code in (("weights", dW2, dW, nW2 + 2 * nW, "grad-weights-mean"), ("biases", db2, db, nb2 + 2 * nb, "grad-bias-mean")):
            if _agrees(twice, factor * once, rtol, noise):
                rec.ok()
            else:
                # Only a mean explains "duplicating keeps the update" when the batch update is
                # also the mean of the per-sample ones (G[0] alone keeps it too, for another reason).
                found = [code] if averaged[label] and _agrees(twice, once, rtol, noise) else []
                rec.fail(f"Duplicating the batch should {'keep' if mean else 'double'} the {label} update ({words.combine} over the batch); yours changed it by a factor {float(np.linalg.norm(twice) / max(np.linalg.norm(once), 1e-300)):.3g}.", *found)
        _check_row_independence(ctx, rec, case, lr)
        zero = next(backward_in_order(ctx, [(DenseCase(case.X, case.W, case.b, np.zeros_like(case.G)), lr)]))
        zW, zb, znW, znb = _steps(zero, case)
        # The step is measured from the parameters as the layer keeps them (float32 included),
        # so a layer that does not move reads exactly zero; the bound only covers rounding.
        if np.linalg.norm(zW) <= 1e-12 + znW and np.linalg.norm(zb) <= 1e-12 + znb:
            rec.ok()
        else:
            rec.fail("With grad_output all zeros the parameters must not change (no loss, no step); yours moved.")
    except StudentFailure as failure:
        rec.student_failure(failure, case.label)
    except _Unusable as unusable:
        rec.fail(f"[{case.label}] {unusable}")
    return rec.outcome


def _check_row_independence(ctx: CheckContext, rec: Recorder, case: DenseCase, lr: float) -> None:
    """Changing other samples must not change sample 0's output or grad_input.

    Judged only where the method runs and repeats itself exactly: a forward that raises,
    returns NaN or adds noise is charged by the forward and side-effect checks instead.
    """
    other_X, other_G = case.X.copy(), case.G.copy()
    other_X[1:] = ctx.rng.standard_normal(other_X[1:].shape)
    other_G[1:] = ctx.rng.standard_normal(other_G[1:].shape)
    changed = DenseCase(other_X, case.W, case.b, other_G)
    try:
        batch = DenseBatch(ctx)
        layer = batch.layer(case, lr)
        calls = [batch.method(layer, "forward", case.X), batch.method(layer, "forward", case.X)]
        calls.append(batch.method(batch.layer(changed, lr), "forward", changed.X))
        sent = batch.run()
        first, repeat, second = (sent[i] for i in calls)
        pairs = [("forward output", first, second, repeat)]
    except StudentFailure:
        pairs = []
    first_result, second_result, again_result = backward_in_order(ctx, [(case, lr), (changed, lr), (case, lr)])
    pairs.append(("grad_input", first_result.grad_input, second_result.grad_input, again_result.grad_input))
    for label, a, b, again in pairs:
        arrays = (a, b, again)
        if not all(isinstance(x, np.ndarray) and x.ndim == 2 and x.shape == a.shape and np.all(np.isfinite(x)) for x in arrays):
            continue
        if _rel(again, a) > 1e-12:
            continue  # not repeatable: nondeterministic, charged elsewhere
        if _rel(b[0], a[0]) <= max(RTOL, 16 * kept_eps(a, b)):  # float32 kernels may round a row differently per batch
            rec.ok()
        elif label == "grad_input" and _uses_updated_weights(case, first_result):
            rec.fail("Row 0 of grad_input changed when only the other samples changed, because grad_input is computed "
                     "with the weights after the SGD step (which depend on the whole batch).", "update-before-grad-input")
        else:
            rec.fail(f"Row 0 of the {label} changed when only the other samples of the batch changed: each sample must be computed on its own.", "batch-coupling")


def _uses_updated_weights(case: DenseCase, result: BackwardResult) -> bool:
    """Whether grad_input equals G·W'ᵀ with W' the student's own updated weights.

    Then rows of grad_input depend on other samples only through the step that came too
    early: the mistake is the order (update-before-grad-input), not coupled samples.
    """
    gi, step = result.grad_input, result.step_W
    if not isinstance(gi, np.ndarray) or not isinstance(step, np.ndarray) or step.shape != case.W.shape or gi.shape != case.X.shape:
        return False
    if np.abs(step).max() <= 0:
        return False
    updated = case.G @ (case.W - step).T
    return _rel(gi, updated) <= RTOL and _rel(gi, case.G @ case.W.T) > 100 * RTOL
