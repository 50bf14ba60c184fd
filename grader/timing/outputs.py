"""What a timed run returned, and what it should have: the race's input pool and closed form.

Each timed request runs one step per entry of its `order`, each step on another pair of the
race's pool of inputs (the rows of X and of G shuffled by the pair's own orders). The worker
copies every call's output into the grader's slots at the call; once the steps are done the
grader names steps drawn by a secret generator and fetches their full outputs, before it
stops its clock (`TimedRun.checked`).
The reference's outputs at any step have a closed form (`ClosedForm`): the gradient does not
depend on W, so W at step j is W₀ − lr·Σᵢ₍ᵢ₌₀…ⱼ₋₁₎ XᵢᵀGᵢ. Used by the race
(grader/timing/race.py), its verification (verify.py) and its check (grader/checks/timing.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["expected_outputs", "ClosedForm", "relative_error", "TimedRun"]


def expected_outputs(X: np.ndarray, W: np.ndarray, b: np.ndarray, G: np.ndarray, lr: float, k: int, convention: str = "sum") -> tuple[np.ndarray, np.ndarray]:
    """(Z, grad_input) of the k-th forward+backward from (W, b) on the same X and G every step."""
    n = X.shape[0] if convention == "mean" else 1
    Wk = W - (k - 1) * lr * (X.T @ G) / n
    bk = b - (k - 1) * lr * G.sum(axis=0) / n
    return X @ Wk + bk, G @ Wk.T


class ClosedForm:
    """One race's pool of inputs and the reference's outputs at any step of a timed run.

    The pool's pairs are made on demand from X, G and their row orders (a GPU-sized pool would
    be gigabytes); each pair's XᵀG and ΣG are kept once computed. One instance serves every
    race on the same data (checks/timing.py keeps it for the next submission)."""

    KEPT_BYTES = 64 * 2**20
    """Pools up to this size are kept whole once made (a CPU race's is ~12 MB; a GPU race's is not kept)."""

    def __init__(self, X: np.ndarray, G: np.ndarray, orders: np.ndarray, lr: float) -> None:
        self.X, self.G, self.orders, self.lr = X, G, orders, lr
        self.gradients: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.pairs: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if len(orders) * (X.nbytes + G.nbytes) <= self.KEPT_BYTES else None

    def pair(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """The pool's p-th (X, G), as the worker holds it."""
        if self.pairs is not None and p in self.pairs:
            return self.pairs[p]
        made = self.X[self.orders[p, 0]], self.G[self.orders[p, 1]]
        if self.pairs is not None:
            self.pairs[p] = made
        return made

    def _gradient(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        if p not in self.gradients:
            X, G = self.pair(p)
            self.gradients[p] = (X.T @ G, G.sum(axis=0))
        return self.gradients[p]

    def outputs(self, W: np.ndarray, b: np.ndarray, order: list[int], convention: str) -> tuple[np.ndarray, np.ndarray]:
        """(Z, grad_input) of the reference at the last step of `order`, from (W, b) before its first."""
        n = self.X.shape[0] if convention == "mean" else 1
        Wj, bj = W, b
        if len(order) > 1:
            Wj = W - self.lr * sum(self._gradient(p)[0] for p in order[:-1]) / n
            bj = b - self.lr * sum(self._gradient(p)[1] for p in order[:-1]) / n
        X, G = self.pair(order[-1])
        return X @ Wj + bj, G @ Wj.T


def relative_error(actual: Any, desired: np.ndarray) -> float:
    """‖a − r‖/‖r‖; NaNs count as equal only where both have them; inf for a wrong shape/type."""
    if not isinstance(actual, np.ndarray) or actual.shape != desired.shape or actual.dtype.kind not in "biuf":
        return math.inf
    if actual.dtype.kind == "f" and desired.dtype.kind == "f":  # the common case: no copies, no masks
        error, scale = float(np.linalg.norm(actual - desired)), float(np.linalg.norm(desired))
        if math.isfinite(error) and math.isfinite(scale):  # so both are finite everywhere
            return error / max(scale, 1e-300)
    a, r = actual.astype(np.float64), desired.astype(np.float64)
    bad_a, bad_r = ~np.isfinite(a), ~np.isfinite(r)
    if (bad_a != bad_r).any() or not np.array_equal(a[bad_a], r[bad_r], equal_nan=True):
        return math.inf
    a, r = a[~bad_a], r[~bad_r]
    return float(np.linalg.norm(a - r) / max(float(np.linalg.norm(r)), 1e-300))


@dataclass(frozen=True)
class TimedRun:
    """One timed request on a fresh layer, as the grader saw it."""

    W: np.ndarray
    """The layer's weights before the first step, in the assignment's (in, out) convention."""
    b: np.ndarray
    """The layer's biases before the first step."""
    order: tuple[int, ...]
    """The pool pair each step took."""
    checked: tuple[tuple[int, Any, Any], ...] = ()
    """(step, Z, grad_input) of the steps named after the request, as copied at their calls."""
    stand_in: str = ""
    """What a call returned instead of a plain array of the expected dtype and shape ('' if none)."""
    mutated: bool = False
    """The layer wrote into the inputs it was given (they were the pool's own arrays)."""
