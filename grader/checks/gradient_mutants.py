"""Name a finite-difference disagreement without the reference: mutants of the numerical gradient.

The gradient check compares what backward applied with the slopes of the student's own
forward. When they disagree, the full numerical gradients of that forward (per parameter
entry, and per sample for the biases) give the outputs of the known mistakes: transposed,
negated, not reduced over the batch, reduced over the wrong axis. A code is given only when
the student's gradient matches one of them (grader/diagnose.py: `match_mutants`), so the
public checks name these mistakes from the student's own code, with no expected values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..diagnose import match_mutants
from .base import CheckContext, DenseCase
from .batched import forwards_at
from ..sandbox.session import Remote

__all__ = ["name_gradient_mistake", "MUTANT_WORDS"]

MUTANT_WORDS = {
    "grad-weights-transposed": "the finite-difference gradient transposed",
    "update-sign": "the finite-difference gradient with its sign flipped, so the step goes uphill",
    "grad-bias-not-summed": "the per-sample finite-difference gradients, not summed over the batch",
    "grad-bias-wrong-axis": "the per-sample finite-difference gradients, reduced over the wrong axis",
}
"""How the message says what the student's gradient equals, per code."""


def _forwards(ctx: CheckContext, layer: Remote, case: DenseCase, points: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[np.ndarray] | None:
    outputs, failure = forwards_at(ctx, layer, points)
    if failure is not None or not all(isinstance(Z, np.ndarray) and Z.shape == case.G.shape for Z in outputs):
        return None
    return [Z.astype(np.float64) for Z in outputs]


def _numeric_weights(ctx: CheckContext, layer: Remote, case: DenseCase, step: float) -> np.ndarray | None:
    """d⟨G, forward(X)⟩/dW, entry by entry (the layer is affine: the step has no truncation error)."""
    basis = np.eye(case.W.size).reshape(case.W.size, *case.W.shape)
    outputs = _forwards(ctx, layer, case, [(case.X, case.W + sign * step * e, case.b) for e in basis for sign in (1, -1)])
    if outputs is None:
        return None
    losses = [float(np.vdot(case.G, Z)) for Z in outputs]
    return np.array([(p - m) / (2 * step) for p, m in zip(losses[::2], losses[1::2])]).reshape(case.W.shape)


def _numeric_bias_rows(ctx: CheckContext, layer: Remote, case: DenseCase, step: float) -> np.ndarray | None:
    """Row n, column j: d⟨Gₙ, Zₙ⟩/db_j, sample by sample (their sum over n is the bias gradient)."""
    basis = np.eye(case.b.size)
    outputs = _forwards(ctx, layer, case, [(case.X, case.W, case.b + sign * step * e) for e in basis for sign in (1, -1)])
    if outputs is None:
        return None
    rows = [np.sum(case.G * Z, axis=1) for Z in outputs]
    return np.stack([(p - m) / (2 * step) for p, m in zip(rows[::2], rows[1::2])], axis=1)


def _mutants(name: str, numeric: np.ndarray) -> tuple[np.ndarray, list[tuple[str, np.ndarray]]]:
    """(the correct gradient, [(code, a mistake's gradient)]) from the numerical one."""
    if name == "weights":
        return numeric, [("grad-weights-transposed", numeric.T), ("grad-weights-transposed", numeric.T.reshape(numeric.shape)), ("update-sign", -numeric)]
    total = numeric.sum(axis=0)
    return total, [
        ("grad-bias-not-summed", numeric),
        ("grad-bias-not-summed", numeric[0]),
        ("grad-bias-wrong-axis", np.full_like(total, numeric.sum())),
        ("grad-bias-wrong-axis", np.asarray(numeric.sum())),
        ("grad-bias-wrong-axis", numeric.sum(axis=1)),
        ("grad-bias-wrong-axis", np.resize(numeric.sum(axis=1), total.shape)),  # resized to pass the shape assert
        ("update-sign", -total),
    ]


def name_gradient_mistake(ctx: CheckContext, layer: Remote, case: DenseCase, name: str, gradient: Any, scale: float, rtol: float, step: float) -> str | None:
    """The code of the mistake that explains `gradient` (what backward applied for the weights
    or the biases, × `scale` in the mean convention), or None when none does."""
    if name not in ("weights", "biases") or not isinstance(gradient, np.ndarray) or gradient.dtype.kind not in "biuf":
        return None
    numeric = (_numeric_weights if name == "weights" else _numeric_bias_rows)(ctx, layer, case, step)
    if numeric is None:
        return None
    correct, mutants = _mutants(name, numeric)
    tried = [gradient] if scale == 1 else [gradient, gradient / scale]
    for actual in tried:
        codes = match_mutants(actual, mutants, correct, max(rtol, 1e-6))
        if codes:
            return codes[0]
    return None
