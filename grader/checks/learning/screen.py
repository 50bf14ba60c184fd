"""A fast screen of a learning run: every teacher-forced reference step at once.

`find_parting` compares each of the student's steps with a correct step from the student's own
parameters before it. Those reference steps do not depend on each other, so they can be taken
together: the steps' parameters and batches stacked, one numpy call per operation for all steps
instead of one per operation per step (the per-step loop cost ~0.35 ms a step, nearly all Python
and call overhead on 32×64 arrays).

The screen only clears steps. A step whose screened error exceeds half the tolerance (or is not
a number) is decided by the exact comparison with the reference solution (`reference_step`), so
every verdict and message still comes from the reference. The screen's steps differ from the
reference's by rounding (~1e-16 of the step's size, the sizes include |softmax + one-hot| so
they never vanish), far inside that margin; `verify_screen` checks this on the reference's own
run once per process and stops loudly if a rubric's reference solution computes otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import GraderBug
from .data import LearningData
from .plan import Params, Plan

__all__ = ["Batches", "stack_batches", "pack", "Screened", "screen", "flagged", "verify_screen", "MARGIN"]

MARGIN = 0.5
"""A step is re-checked exactly when its screened error exceeds MARGIN × the tolerance."""
CHUNK_BYTES = 8 << 20
"""Steps are screened in chunks whose stacked parameters take about this much: bounded memory for large networks."""
AGREEMENT = 1e-2
"""On the reference's own run the screen must agree within AGREEMENT × MARGIN × the tolerance."""


@dataclass(frozen=True)
class Batches:
    """Every step's batch, stacked and padded to the largest batch with zero rows (fixed per plan: computed once).

    Padded rows get a zero loss gradient, so they add exact zeros to every update and size; one stack for
    all steps keeps a run's rows contiguous (the screen takes views, not copies)."""

    X: np.ndarray
    """(steps, n, inputs), zero rows past each batch's end."""
    abs_X: np.ndarray
    """|X|: the first layer's input in its update's size (X itself for non-negative data such as pixels)."""
    y: np.ndarray
    """(steps, n), 0 in padded rows."""
    onehot: np.ndarray
    """(steps, n, classes), 1 at each sample's class, 0 in padded rows."""
    size_term: np.ndarray
    """2·one-hot·per_batch/n: turns the loss gradient (softmax − one-hot) into its terms' size (softmax + one-hot)."""
    valid: np.ndarray
    """(steps, n, 1) True for the batch's own rows."""
    count: np.ndarray
    """(steps, 1, 1) the batch's size n, as float."""


def stack_batches(plan: Plan, data: LearningData) -> Batches:
    """The plan's batches stacked: what the screen needs besides the parameters."""
    lengths = np.diff(plan.bounds)
    steps, n_max = len(lengths), int(lengths.max())
    valid = np.arange(n_max) < lengths[:, None]
    index = np.zeros((steps, n_max), dtype=np.int64)
    index[valid] = plan.order[plan.bounds[0]:plan.bounds[-1]]
    X = np.where(valid[..., None], data.X_train[index], 0.0)
    y = np.where(valid, data.y_train[index], 0)
    mask = (np.arange(data.classes) == y[..., None]) & valid[..., None]
    per_batch = lengths[:, None, None] if plan.convention == "mean" else 1
    return Batches(X, X if np.all(X >= 0) else np.abs(X), y, mask.astype(np.float64), 2 * mask * per_batch / lengths[:, None, None], valid[..., None],
                   lengths.astype(np.float64)[:, None, None])


@dataclass(frozen=True)
class Screened:
    """Per screened step: the errors the exact comparison would find, up to rounding."""

    loss: np.ndarray
    """(steps,) the batch's mean loss before the step."""
    loss_scale: np.ndarray
    """(steps,) mean of |picked logit| + |log-sum-exp|."""
    errors: np.ndarray
    """(steps, 2 × Dense layers): per layer, the weight then the bias update's error relative to its terms' size."""


def pack(params: Params, transposed: bool = False) -> np.ndarray:
    """Parameters as one snapshot row, W stored (out, in) where the student stores it so (what `learning_student.unpack` reads)."""
    return np.concatenate([part for W, b in params for part in ((W.T if transposed else W).ravel(), b.ravel())]).astype(np.float64)


def unpack_stacked(plan: Plan, rows: np.ndarray, transposed: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Snapshot rows (steps, width) into stacked (W (steps, in, out), b (steps, out)) per Dense layer."""
    params, at, count = [], 0, len(rows)
    for n_in, n_out in zip(plan.sizes, plan.sizes[1:]):
        W = rows[:, at:at + n_in * n_out]
        W = W.reshape(count, n_out, n_in).swapaxes(1, 2) if transposed else W.reshape(count, n_in, n_out)
        at += n_in * n_out
        params.append((W, rows[:, at:at + n_out]))
        at += n_out
    return params


def _norms(a: np.ndarray) -> np.ndarray:
    """The Frobenius norm of each step's array (axis 0 is the step)."""
    flat = a.reshape(len(a), -1)
    return np.sqrt(np.einsum("ij,ij->i", flat, flat))


def _screen_steps(plan: Plan, batches: Batches, steps: slice, before: np.ndarray, after: np.ndarray, transposed: bool) -> Screened:
    """The reference steps `steps` from the `before` rows, against the `after` rows.

    Written for few passes over the first layer's (steps, in, out) arrays, which dominate: the error
    is ‖(W_after − W) + lr·XᵀG/per_batch‖ with lr/per_batch folded into the small G."""
    lr, mean = plan.learning_rate, plan.convention == "mean"
    X, y, valid, count = batches.X[steps], batches.y[steps], batches.valid[steps], batches.count[steps]
    params = unpack_stacked(plan, before, transposed)
    inputs, a, dense = [X], X, iter(params)
    for kind in plan.kinds:
        if kind == "dense":
            W, b = next(dense)
            a = np.matmul(a, W)
            a += b[:, None, :]
        else:
            a = np.maximum(a, 0)
        inputs.append(a)
    # classes first: numpy reduces a short last axis slowly
    logits = np.ascontiguousarray(np.moveaxis(inputs[-1], -1, 0))
    top = logits.max(axis=0)
    exps = np.exp(logits - top)
    total = exps.sum(axis=0)
    picked = np.take_along_axis(logits, y[None], axis=0)[0]
    log_sum_exp = top + np.log(total)
    rows = valid[..., 0]
    loss = np.where(rows, log_sum_exp - picked, 0.0).sum(axis=-1) / count[:, 0, 0]
    loss_scale = np.where(rows, np.abs(picked) + np.abs(log_sum_exp), 0.0).sum(axis=-1) / count[:, 0, 0]
    exps /= total
    grad = np.moveaxis(exps, 0, -1) - batches.onehot[steps]
    if not mean:  # the mean version's gradient is softmax − one-hot itself
        grad /= count
    grad *= valid  # padded rows: no gradient
    size = grad + batches.size_term[steps]
    expected = unpack_stacked(plan, after, transposed)
    errors, d = [], len(params)
    for position in range(len(plan.kinds))[::-1]:
        if plan.kinds[position] == "relu":
            mask = inputs[position] > 0
            grad *= mask
            size *= mask
            continue
        d -= 1
        (W, b), (W_after, b_after), X_in = params[d], expected[d], inputs[position]
        step = lr / count if mean else lr  # the update is −lr·dW, dW = XᵀG (÷ n in the mean version)
        # |input|: the data's, precomputed; a ReLU's output is its own absolute value
        abs_in = batches.abs_X[steps] if position == 0 else X_in if plan.kinds[position - 1] == "relu" else np.abs(X_in)
        scale_W = _norms(np.matmul(abs_in.swapaxes(1, 2), size * step))
        scale_b = _norms(size.sum(axis=1) * (step[:, 0] if mean else step))
        off_W = W_after - W
        off_W += np.matmul(X_in.swapaxes(1, 2), grad * step)
        off_b = b_after - b + grad.sum(axis=1) * (step[:, 0] if mean else step)
        if d > 0:
            size = np.matmul(size, np.abs(W).swapaxes(1, 2))
            grad = np.matmul(grad, W.swapaxes(1, 2))
        errors.append(np.stack([_norms(off_W) / np.maximum(scale_W, 1e-300), _norms(off_b) / np.maximum(scale_b, 1e-300)], axis=1))
    return Screened(loss, loss_scale, np.concatenate(errors[::-1], axis=1))


def screen(plan: Plan, batches: Batches, before: np.ndarray, after: np.ndarray, first: int, transposed: bool) -> Screened:
    """Steps first..first+len(after)-1: step first+k from row k of `before` to row k of `after` (snapshot rows)."""
    chunk = max(1, CHUNK_BYTES // (8 * after.shape[1]))
    parts = []
    with np.errstate(all="ignore"):  # a diverging student's run overflows; its steps are then checked exactly
        for start in range(0, len(after), chunk):
            rows = slice(start, start + chunk)
            steps = slice(first + start, first + min(start + chunk, len(after)))
            parts.append(_screen_steps(plan, batches, steps, before[rows], after[rows], transposed))
    if not parts:
        return Screened(np.zeros(0), np.zeros(0), np.zeros((0, 2 * len(plan.dense_positions))))
    return Screened(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("loss", "loss_scale", "errors")))


def flagged(screened: Screened, losses: np.ndarray, reported: np.ndarray, rtol: float) -> np.ndarray:
    """Positions (into the screened steps) that the exact comparison must decide."""
    with np.errstate(all="ignore"):
        loss_off = (reported != 0) & ~(np.abs(losses - screened.loss) <= MARGIN * rtol * screened.loss_scale)
        errors_off = ~(screened.errors <= MARGIN * rtol).all(axis=1)
    return np.flatnonzero(loss_off | errors_off)


def verify_screen(plan: Plan, batches: Batches, trajectory: np.ndarray, losses: np.ndarray, rtol: float) -> None:
    """The screen reproduces the reference solution's own run (rows: initial, then after every step), or the grader stops."""
    screened = screen(plan, batches, trajectory[:-1], trajectory[1:], 0, False)
    worst = max(float(np.max(screened.errors, initial=0.0)), float(np.max(np.abs(screened.loss - losses) / screened.loss_scale, initial=0.0)))
    if len(screened.loss) != plan.steps or not worst <= AGREEMENT * MARGIN * rtol:
        raise GraderBug(f"the learning check's batched screen disagrees with the reference solution's own steps (relative error {worst:.3g}): "
                        f"the reference computes a step differently from plain SGD on softmax cross-entropy")
