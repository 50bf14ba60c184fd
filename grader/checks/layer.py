"""Value checks of an affine layer in any form: forward and backward against the reference.

Written once against the canonical layer (rows as examples, W (in, out), the batch summed);
the assignment's adapter (grader/interfaces) presents each case, each expected value and
each mutant in the student's form, so the student's arrays are compared as they are and a
wrong shape is named the way the course writes it. Backward gets a cache the grader builds
from the case, so a wrong forward never costs backward's points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GraderBug, StudentFailure
from ..interfaces import LayerAdapter, StudentCase, form_fixes
from ..oracle import ref
from . import register
from .base import CheckContext, DenseCase, Outcome, Recorder, require_class, require_function

__all__ = ["layer_adapter", "layer_cases", "new_recorder"]

RTOL = 1e-5
DEFAULT_SIZES = ((7, 6, 3), (13, 4, 4), (2, 10, 5))
"""(N, in, out): N > 1, in ≠ out, a prime N, a square layer; even widths give CS231n an N-D x."""


def layer_adapter(ctx: CheckContext) -> LayerAdapter:
    """The assignment's adapter, its student names checked to exist first."""
    iface = ctx.assignment.interface
    if iface is None:
        raise GraderBug(f"check {ctx.spec.name} needs an [interface] table in {ctx.assignment.name}'s assignment.toml")
    if iface.form == "class":
        require_class(ctx, iface.class_name)
    else:
        for name in iface.functions:
            require_function(ctx, name)
    return LayerAdapter(iface)


def layer_cases(ctx: CheckContext, adapter: LayerAdapter) -> list[tuple[DenseCase, StudentCase]]:
    out = []
    for size in ctx.param("sizes", DEFAULT_SIZES):
        case = DenseCase.random(ctx.rng, *size)
        out.append((case, adapter.student_case(case.X, case.W, case.b, case.G)))
    return out


def new_recorder(ctx: CheckContext) -> Recorder:
    rec = Recorder()
    if ctx.assignment.interface is not None:
        rec.outcome.fixes = form_fixes(ctx.assignment.interface)
    return rec


@register("layer.forward")
def check_forward(ctx: CheckContext) -> Outcome:
    """out = x·W + b in the form's layout, on several shapes including a square layer."""
    rec = new_recorder(ctx)
    adapter = layer_adapter(ctx)
    name = adapter.names.out
    for case, sc in layer_cases(ctx, adapter):
        try:
            out, _ = adapter.forward(ctx.session, sc)
        except StudentFailure as failure:
            rec.student_failure(failure, sc.label)
            continue
        X, W, b = case.X, case.W, case.b
        mutants = [("forward-missing-bias", adapter.rows_of(X @ W))]
        if W.shape[0] == W.shape[1]:
            mutants += [("forward-transposed-weights", adapter.rows_of(X @ W.T + b)), ("forward-transposed-weights", adapter.rows_of(X @ W.T))]
        expected = adapter.rows_of(ref.layer_forward(X, W, b))
        rec.compare(f"{adapter.call_name('forward')}: {name} ({sc.label})", out, expected, ctx.param("rtol", RTOL), mutants, "forward-wrong")
    return rec.outcome


def backward_mutants(adapter: LayerAdapter, case: DenseCase, expected: dict[str, np.ndarray]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Each known mistake's output, in the student's form, per gradient."""
    X, W, G, n = case.X, case.W, case.G, case.X.shape[0]
    mean = adapter.interface.reduction == "mean"
    dW, db = X.T @ G, G.sum(axis=0)
    other = n if mean else 1.0 / n  # the other reduction, relative to the right one
    dx = [("grad-input-flattened", adapter.rows_of(G @ W.T))] if adapter.interface.nd_input else []
    if W.shape[0] == W.shape[1]:
        dx.append(("grad-input-transposed", adapter.dx_of(G @ W)))
    dw = [
        ("grad-weights-sum" if mean else "grad-weights-mean", expected["dw"] * other),
        ("grad-weights-transposed", expected["dw"].T),
        ("grad-weights-transposed", adapter.dw_of((G.T @ X).reshape(dW.shape), n)),
    ]
    flat = db * adapter.scale(n)
    db_mutants = [
        ("grad-bias-sum" if mean else "grad-bias-mean", expected["db"] * other),
        ("grad-bias-not-summed", adapter.rows_of(G) * adapter.scale(n)),
        ("grad-bias-wrong-axis", np.asarray(G.sum() * adapter.scale(n))),
    ]
    if adapter.interface.bias == "flat":
        db_mutants += [("grad-bias-kept-dims", flat.reshape(1, -1)), ("grad-bias-kept-dims", flat.reshape(-1, 1))]
    else:
        db_mutants += [("grad-bias-dims-dropped", flat), ("grad-bias-dims-dropped", flat.reshape(expected["db"].shape[::-1]))]
    if adapter.interface.gradients == "sgd_step":  # read through the step: its sign and its absence show
        dw += [("update-sign", -expected["dw"]), ("no-update", np.zeros_like(expected["dw"]))]
        db_mutants += [("update-sign", -expected["db"]), ("no-update", np.zeros_like(expected["db"]))]
    return {"dx": dx, "dw": dw, "db": db_mutants}


def expected_grads(adapter: LayerAdapter, case: DenseCase) -> dict[str, np.ndarray]:
    n = case.X.shape[0]
    return {
        "dx": adapter.dx_of(ref.layer_grad_input(case.G, case.W)),
        "dw": adapter.dw_of(ref.layer_grad_weights(case.X, case.G), n),
        "db": adapter.db_of(ref.layer_grad_bias(case.G), n),
    }


@register("layer.backward")
def check_backward(ctx: CheckContext) -> Outcome:
    """dx, dw and db against the reference, each with the mistakes of its kind named."""
    rec = new_recorder(ctx)
    adapter = layer_adapter(ctx)
    rtol = ctx.param("rtol", RTOL)
    outputs = ctx.param("outputs", ["dx", "dw", "db"])
    for case, sc in layer_cases(ctx, adapter):
        try:
            grads = adapter.backward(ctx.session, sc)
        except StudentFailure as failure:
            rec.student_failure(failure, sc.label)
            continue
        expected = expected_grads(adapter, case)
        mutants = backward_mutants(adapter, case, expected)
        generic = {"dx": "grad-input-wrong", "dw": "grad-weights-wrong", "db": "grad-bias-wrong-axis"}
        for key in outputs:
            actual: Any = getattr(grads, key)
            rec.compare(f"{adapter.call_name('backward')}: {getattr(adapter.names, key)} ({sc.label})", actual, expected[key], rtol, mutants[key], generic[key])
    return rec.outcome
