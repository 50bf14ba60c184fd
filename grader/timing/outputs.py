"""What a timed reply must show, and how the grader knows it without the outputs.

Each timed `bench` reply carries a summary of its last outputs (shape, sum, |sum| and
grader-chosen rows: `OutputSummary`); the reference's outputs after k steps have a closed
form (`expected_outputs`), kept per race without the full arrays (`ClosedForm`). Used by
the race (grader/timing/race.py) and its check (grader/checks/timing.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..sandbox.session import StudentSession

__all__ = ["expected_outputs", "ClosedForm", "relative_error", "OutputSummary"]


def expected_outputs(X: np.ndarray, W: np.ndarray, b: np.ndarray, G: np.ndarray, lr: float, k: int, convention: str = "sum") -> tuple[np.ndarray, np.ndarray]:
    """(Z, grad_input) of the k-th forward+backward from (W, b): the gradient does not depend
    on W, so step k runs with W − (k−1)·lr·XᵀG (closed form: two matmuls, whatever k is)."""
    n = X.shape[0] if convention == "mean" else 1
    Wk = W - (k - 1) * lr * (X.T @ G) / n
    bk = b - (k - 1) * lr * G.sum(axis=0) / n
    return X @ Wk + bk, G @ Wk.T


class ClosedForm:
    """What the timed replies must summarise, for one race's X and G, without keeping outputs.

    Per (W, b, k, convention) it keeps W_k and b_k and the totals (Σ, Σ|·|) of Z and
    grad_input, computed once from the full products; the rows a reply was asked for come
    from X[rows]·W_k + b_k on demand. The batch's XᵀG and ΣG do not depend on W: once per
    race. One instance serves every race on the same X and G (checks/timing.py keeps it for
    the next submission: with the same seed every grading draws the same data)."""

    def __init__(self, X: np.ndarray, G: np.ndarray, lr: float) -> None:
        self.X, self.G, self.lr = X, G, lr
        self.XtG, self.G_sum = X.T @ G, G.sum(axis=0)
        self.done: dict[tuple[int, int, int, str], tuple[np.ndarray, np.ndarray, tuple[float, float], tuple[float, float]]] = {}
        self.keep: list[np.ndarray] = []
        """The W and b keyed by id: held so no id is reused while this instance lives."""

    def summaries(self, W: np.ndarray, b: np.ndarray, k: int, convention: str, rows: list[int]) -> tuple[OutputSummary, OutputSummary]:
        """OutputSummary of the k-th step's Z and grad_input from (W, b), on `rows`."""
        key = (id(W), id(b), k, convention)
        if key not in self.done:
            n = self.X.shape[0] if convention == "mean" else 1
            Wk = W - (k - 1) * self.lr * self.XtG / n
            bk = b - (k - 1) * self.lr * self.G_sum / n
            Z, grad_input = self.X @ Wk + bk, self.G @ Wk.T
            self.done[key] = (Wk, bk, (float(Z.sum()), float(np.abs(Z).sum())), (float(grad_input.sum()), float(np.abs(grad_input).sum())))
            self.keep += [W, b]
        Wk, bk, z_sums, gi_sums = self.done[key]
        picked = [r for r in rows if r < self.X.shape[0]]
        n_rows, n_in, n_out = self.X.shape[0], self.X.shape[1], Wk.shape[1]
        return (OutputSummary((n_rows, n_out), *z_sums, self.X[picked] @ Wk + bk),
                OutputSummary((n_rows, n_in), *gi_sums, self.G[picked] @ Wk.T))


def relative_error(actual: Any, desired: np.ndarray) -> float:
    """‖a − r‖/‖r‖; NaNs count as equal only where both have them; inf for a wrong shape/type."""
    if not isinstance(actual, np.ndarray) or actual.shape != desired.shape or actual.dtype.kind not in "biuf":
        return math.inf
    a, r = actual.astype(np.float64), desired.astype(np.float64)
    bad_a, bad_r = ~np.isfinite(a), ~np.isfinite(r)
    if (bad_a != bad_r).any() or not np.array_equal(a[bad_a], r[bad_r], equal_nan=True):
        return math.inf
    a, r = a[~bad_a], r[~bad_r]
    return float(np.linalg.norm(a - r) / max(float(np.linalg.norm(r)), 1e-300))


@dataclass(frozen=True)
class OutputSummary:
    """What a timed reply carries about one output: shape, sum, |sum| and chosen rows."""

    shape: tuple[int, ...] | None
    total: float = math.nan
    abs_total: float = math.nan
    rows: Any = None

    @classmethod
    def of(cls, value: Any, row_ids: list[int]) -> OutputSummary:
        """The same summary, computed in the grader from a full array."""
        if not isinstance(value, np.ndarray) or value.ndim < 1 or value.dtype.kind not in "biuf":
            return cls(None)
        picked = value[[r for r in row_ids if r < value.shape[0]]]
        return cls(tuple(value.shape), float(value.sum()), float(np.abs(value).sum()), picked)

    @classmethod
    def decode(cls, encoded: dict[str, Any], session: StudentSession, arrays: list[np.ndarray]) -> OutputSummary:
        if not isinstance(encoded, dict) or encoded.get("shape") is None:
            return cls(None)
        rows = session._decode(encoded.get("rows"), arrays)  # noqa: SLF001 - the session's reply decoder
        shape, total, abs_total = encoded.get("shape"), encoded.get("sum", math.nan), encoded.get("abs", math.nan)
        if not isinstance(shape, list) or not all(type(n) is int for n in shape) or not all(type(v) in (int, float) for v in (total, abs_total)):
            return cls(None)  # forged: unverifiable, so it matches nothing
        return cls(tuple(shape), float(total), float(abs_total), rows)

    def matches(self, desired: OutputSummary, rtol: float) -> bool:
        """Same shape, chosen rows within rtol (norm-wise), sums within rtol of Σ|desired|."""
        if self.shape is None or self.shape != desired.shape:
            return False
        if relative_error(self.rows, desired.rows) > rtol:
            return False
        if math.isnan(desired.total) or math.isnan(self.total):
            return math.isnan(desired.total) and math.isnan(self.total)
        return abs(self.total - desired.total) <= rtol * max(desired.abs_total, 1e-300)
