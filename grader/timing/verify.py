"""Verifying a race's timed outputs, entirely and by value, on steps picked after the fact.

Every timed call's outputs were copied into the grader's slots at the call; after each
request the grader fetched those of `checked` steps it picked then (outputs.TimedRun). Here
they are compared whole with the reference's closed form: all of them match, 'reference'.
Otherwise the code may be wrong but honest (its values cost points in other checks, not
here): a majority of the runs, drawn at random, is replayed through ordinary calls of the
same layer on the same inputs, one verified step each, and must give the same full outputs,
and the same rows on a small batch of just those rows ('own-code'). Anything else: 'failed'.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .outputs import ClosedForm, TimedRun, relative_error

__all__ = ["Replay", "verify_runs", "SMALL_BATCH_GRAD_RTOL", "REPLAYED_ROWS"]

Replay = Callable[[np.ndarray, np.ndarray, list[int], list[int]], tuple[Any, Any, Any]]
"""replay(W, b, order, rows) -> (Z, grad_input, small) of the last step of `order`, run
through ordinary calls; small: (Z rows, grad_input rows) of a batch of just `rows`,
"coupled" when the layer's rows depend on each other at every size, None if unverifiable."""

SMALL_BATCH_GRAD_RTOL = 0.1
"""grad_input rows from a small batch against the timed batch: loose, because code that
updates W before computing grad_input (a real mistake) sees a batch-dependent W (~1%)."""
REPLAYED_ROWS = 16
"""Rows of the small batch a replay also runs (drawn after the race)."""


def _agree(actual: tuple[Any, Any], desired: tuple[Any, Any], rtol: float) -> bool:
    """Both outputs plain float arrays of the desired shape, within rtol norm-wise, entirely."""
    return all(isinstance(d, np.ndarray) and relative_error(a, d) <= rtol for a, d in zip(actual, desired))


def verify_runs(runs: list[TimedRun], closed_form: ClosedForm, convention: str, rtol: float, replay: Replay | None, picker: np.random.Generator) -> str:
    """'reference', 'own-code' or 'failed' for one side's timed runs (see the module docstring).

    A majority of the runs is replayed: to move the median, work must be skipped in a majority
    of the rounds too, so at least one replayed round would show it."""
    if not runs or any(run.stand_in or run.mutated or not run.checked for run in runs):
        return "failed"
    if all(_agree((z, gi), closed_form.outputs(run.W, run.b, list(run.order[: j + 1]), convention), rtol) for run in runs for j, z, gi in run.checked):
        return "reference"
    if replay is None:
        return "failed"
    n_rows = closed_form.X.shape[0]
    for index in sorted(int(i) for i in picker.choice(len(runs), len(runs) // 2 + 1, replace=False)):
        run = runs[index]
        j, z, gi = run.checked[int(picker.integers(len(run.checked)))]
        rows = sorted(int(r) for r in picker.choice(n_rows, min(REPLAYED_ROWS, n_rows), replace=False))
        Z, grad_input, small = replay(run.W, run.b, list(run.order[: j + 1]), rows)
        if not (isinstance(Z, np.ndarray) and isinstance(grad_input, np.ndarray) and _agree((z, gi), (Z, grad_input), rtol)):
            return "failed"
        if small == "coupled":  # rows depend on other rows at every size: no row check possible
            continue
        if not (isinstance(small, tuple) and all(isinstance(a, np.ndarray) for a in small)):
            return "failed"
        if relative_error(z[rows], small[0]) > rtol or relative_error(gi[rows], small[1]) > SMALL_BATCH_GRAD_RTOL:
            return "failed"
    return "own-code"
