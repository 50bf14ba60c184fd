"""Compare a student's array with the expected one, numpy.testing style.

The verdict uses the norm-wise relative error ‖a − r‖/‖r‖ (float64 code lands near 1e-15,
float32 code near 1e-7); the message adds what a student needs to find the bug: the
mismatch count, the largest differences and the worst index with both values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Comparison", "compare", "relative_error", "FLOAT32_NOTE_THRESHOLD", "kept_eps", "widened_rtol", "MAX_ROUNDING_RTOL"]

FLOAT32_NOTE_THRESHOLD = 1e-11
"""A passing result less exact than this computed in lower precision (float32-downcast)."""


MAX_ROUNDING_RTOL = 1e-3
"""The most a tolerance is widened for the student's precision: float32 read through a small
learning rate needs ~1e-4; anything coarser (float16) is not the same layer any more."""


def kept_eps(*values: Any) -> float:
    """Machine epsilon of the precision the student's arrays are kept in (the coarsest of them).

    Read from the values, not only the dtype: float64 arrays whose every entry round-trips
    through float32 were computed in float32 and cast back (`.astype(np.float64)`).
    """
    eps = float(np.finfo(np.float64).eps)
    for value in values:
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
            continue
        eps = max(eps, float(np.finfo(value.dtype).eps))
        finite = value[np.isfinite(value)]
        for low in (np.float16, np.float32):
            if np.finfo(low).eps > eps and finite.size and np.array_equal(finite.astype(low).astype(finite.dtype), finite) and np.any(finite != np.round(finite)):
                eps = float(np.finfo(low).eps)
                break
    return eps


def widened_rtol(rtol: float, noise: float, scale: float) -> float:
    """`rtol`, widened to the rounding noise the student's precision explains (‖noise‖/‖scale‖), capped."""
    if noise <= 0 or scale <= 0 or not np.isfinite(noise):
        return rtol
    return max(rtol, min(MAX_ROUNDING_RTOL, noise / scale))


def relative_error(actual: np.ndarray, desired: np.ndarray) -> float:
    """‖actual − desired‖ / ‖desired‖ (absolute error when desired is all zeros)."""
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    scale = float(np.linalg.norm(desired))
    diff = float(np.linalg.norm(actual - desired))
    return diff / scale if scale > 0 else diff


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing one output with its expected value."""

    name: str
    """What was compared, e.g. "Dense.forward output"."""
    ok: bool
    """Shape equal and relative error within tolerance."""
    message: str
    """Empty when ok; otherwise the numpy.testing-style explanation."""
    rel_error: float
    """Norm-wise relative error (inf on shape or type mismatch)."""
    shape_ok: bool
    """Whether the shapes were equal."""
    low_precision: bool
    """Passed, but only to float32-like precision."""
    nonfinite: bool
    """The student's array holds NaN or infinity."""


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def describe_mismatch(actual: np.ndarray, desired: np.ndarray, rtol: float) -> str:
    """Mismatch count, max abs/rel difference and the worst index, like numpy.testing."""
    diff = np.abs(actual - desired)
    scale = np.abs(desired)
    elementwise_tol = rtol * max(float(np.max(scale)) if scale.size else 0.0, 1e-300)
    mismatched = int(np.count_nonzero(~(diff <= elementwise_tol)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, diff / scale, np.where(diff > 0, np.inf, 0.0))
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(diff), np.inf, diff))), diff.shape) if diff.size else ()
    index = tuple(int(i) for i in worst)
    return (
        f"Mismatched elements: {mismatched} / {diff.size} ({100 * mismatched / max(diff.size, 1):.3g}%)\n"
        f"Max absolute difference: {_fmt(float(np.nanmax(diff)) if diff.size else 0.0)}\n"
        f"Max relative difference: {_fmt(float(np.nanmax(rel)) if rel.size else 0.0)}\n"
        f"Worst at index {index}: yours {_fmt(float(actual[index]))}, expected {_fmt(float(desired[index]))}"
    )


def compare(name: str, actual: Any, desired: np.ndarray, rtol: float) -> Comparison:
    """Check shape first, then values; never raises on student data."""
    desired = np.asarray(desired, dtype=np.float64)
    if actual is None:
        return Comparison(name, False, f"{name}: got None; expected an array of shape {desired.shape}. Did you forget `return`?", float("inf"), False, False, False)
    if not isinstance(actual, np.ndarray):
        return Comparison(name, False, f"{name}: got {actual!r}, not a numeric array; expected shape {desired.shape}.", float("inf"), False, False, False)
    if actual.shape != desired.shape:
        return Comparison(name, False, f"{name}: shape {tuple(actual.shape)}, expected {desired.shape}.", float("inf"), False, False, False)
    if actual.dtype.kind == "c":
        return Comparison(name, False, f"{name}: complex values; expected real numbers.", float("inf"), True, False, False)
    values = actual.astype(np.float64)
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        return Comparison(name, False, f"{name}: {bad} of {values.size} values are NaN or infinite for finite input.", float("inf"), True, False, True)
    error = relative_error(values, desired)
    if error <= rtol:
        low = error > FLOAT32_NOTE_THRESHOLD or actual.dtype in (np.float32, np.float16)
        return Comparison(name, True, "", error, True, low, False)
    header = f"{name}: not equal to the reference (relative error {_fmt(error)} > tolerance {rtol:g})\n"
    return Comparison(name, False, header + describe_mismatch(values, desired, rtol), error, True, False, False)
