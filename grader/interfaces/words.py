"""How a form says its layer's maths: formulas, shapes and the one-line fixes in its own names.

The mistake codes are shared by every form (MISTAKES.md); the sentence a student reads
is worded here from the `[interface]` table, so a deeplearning.ai student reads
`db = np.sum(dZ, axis=1, keepdims=True) / m` and a CS231n student `db = np.sum(dout, axis=0)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import Interface

__all__ = ["FormWords", "form_words", "form_fixes"]


@dataclass(frozen=True)
class FormWords:
    """The layer's formulas and shapes as code in the form's names."""

    out: str
    dx: str
    dw: str
    db: str
    w_shape: str
    b_shape: str
    x_shape: str


def form_words(iface: Interface) -> FormWords:
    n = iface.names
    rows = iface.examples == "rows"
    x = f"{n.x}.reshape({n.x}.shape[0], -1)" if iface.nd_input and rows else n.x
    wT = iface.weights == "out_in"
    mean = f" / {n.m}" if iface.reduction == "mean" else ""
    if rows:
        out = f"{x} @ {n.w}{'.T' if wT else ''} + {n.b}"
        dx = f"{n.dout} @ {n.w}{'' if wT else '.T'}" + (f", reshaped to {n.x}.shape" if iface.nd_input else "")
        dw = (f"{n.dout}.T @ {x}" if wT else f"{x}.T @ {n.dout}") + mean
        axis = 0
    else:
        out = f"{n.w}{'' if wT else '.T'} @ {n.x} + {n.b}"
        dx = f"{n.w}{'.T' if wT else ''} @ {n.dout}"
        dw = (f"{n.dout} @ {n.x}.T" if wT else f"{n.x} @ {n.dout}.T") + mean
        axis = 1
    keep = ", keepdims=True" if iface.bias != "flat" else ""
    db = f"np.sum({n.dout}, axis={axis}{keep}){mean}"
    w_shape = "(out, in)" if wT else "(in, out)"
    b_shape = {"flat": "(out,)", "column": "(out, 1)", "row": "(1, out)"}[iface.bias]
    x_shape = f"(N, d1, ..., dk)" if iface.nd_input and rows else "(N, in)" if rows else "(in, m)"
    return FormWords(out, dx, dw, db, w_shape, b_shape, x_shape)


def form_fixes(iface: Interface) -> dict[str, str]:
    """Mistake code -> the one-line fix in the form's names (codes not listed keep the catalogue's)."""
    n, w = iface.names, form_words(iface)
    f, b = iface.forward, iface.backward
    return {
        "forward-missing-bias": f"{f} leaves out the bias: {n.out} = {w.out}.",
        "forward-transposed-weights": f"{f} uses the transposed weights: {n.w} has shape {w.w_shape}, so {n.out} = {w.out}.",
        "forward-wrong": f"{f} should compute {n.out} = {w.out} (a matrix product, not *).",
        "grad-input-transposed": f"{n.dx} in {b} should be {w.dx}.",
        "grad-input-wrong": f"{n.dx} in {b} should be {w.dx}.",
        "grad-input-flattened": f"{n.dx} must have {n.x}'s own shape {w.x_shape}: {n.dx} = {w.dx}.",
        "grad-weights-mean": f"{n.dw} is divided by the batch size: {n.dout} already carries the 1/{n.m} of the mean loss, so {n.dw} = {w.dw}.",
        "grad-weights-sum": f"{n.dw} is missing the 1/{n.m}: {n.dw} = {w.dw}.",
        "grad-weights-transposed": f"{n.dw} must have {n.w}'s shape {w.w_shape}: {n.dw} = {w.dw}.",
        "grad-weights-wrong": f"{n.dw} should be {w.dw}, shape {w.w_shape}.",
        "grad-bias-mean": f"{n.db} is divided by the batch size while {n.dw} is summed: {n.db} = {w.db}.",
        "grad-bias-sum": f"{n.db} is missing the 1/{n.m}: {n.db} = {w.db}.",
        "grad-bias-not-summed": f"{n.db} must be reduced over the examples: {n.db} = {w.db}, shape {w.b_shape}.",
        "grad-bias-wrong-axis": f"{n.db} is reduced over the wrong axis: {n.db} = {w.db}.",
        "grad-bias-kept-dims": f"{n.db} must have {n.b}'s shape {w.b_shape}: {n.db} = {w.db} (no keepdims).",
        "grad-bias-dims-dropped": f"{n.db} must keep {n.b}'s shape {w.b_shape}: {n.db} = {w.db}.",
        "mutates-input": f"{f}/{b} write into the caller's arrays ({n.x}, {n.w}, {n.b} or the cache): compute new arrays instead of modifying them in place.",
        "mutates-grad-output": f"{b} writes into {n.dout}: compute new arrays instead of modifying it in place.",
        "init-scale": f"Initialise {n.w} as small random numbers of shape {w.w_shape} (np.random.randn(...) * 0.01) and {n.b} as zeros of shape {w.b_shape}.",
        "weights-shape": f"Store {n.w} with shape {w.w_shape}, so that {n.out} = {w.out} works.",
        "update-sign": f"The update goes uphill: gradient descent subtracts, {n.w} = {n.w} - learning_rate * {n.dw}.",
        "no-update": f"The parameters never change: apply {n.w} = {n.w} - learning_rate * {n.dw} (and the same for {n.b}).",
        "train-wrong": "Training with your functions differs from the reference's: the checks of each function say which one is wrong.",
        "network-forward-wrong": "Your network's forward pass differs from the reference's: the checks of each layer function say which one is wrong.",
    }


def assignment_fixes(assignment: object) -> dict[str, str]:
    """The fixes of an assignment's form; {} for the classic Dense class (the catalogue words it)."""
    iface = getattr(assignment, "interface", None)
    return form_fixes(iface) if iface is not None else {}
