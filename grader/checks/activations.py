"""Checks of the functions around the affine layer in functional forms: ReLU and the loss.

Each function is called on its own with grader data (ReLU's backward gets the cache the
grader builds), compared with the reference, and the course's known mistakes are named:
ReLU applied in place on its input, a loss or gradient that is not divided by N.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import StudentFailure
from ..oracle import ref
from . import register
from .base import CheckContext, Outcome, Recorder, require_function
from .layer import new_recorder

RTOL = 1e-5
DEFAULT_SHAPES = ((7, 5), (4, 3, 2))


def _first(result: Any, function: str, pair: str) -> Any:
    if isinstance(result, list) and len(result) == 2:
        return result[0]
    raise StudentFailure("interface-changed", f"{function} should return a pair ({pair}).")


def _in_place(rec: Recorder, function: str, what: str, after: Any, before: np.ndarray, code: str) -> None:
    if isinstance(after, np.ndarray) and after.shape == before.shape and np.array_equal(after, before):
        rec.ok()
    else:
        rec.fail(f"{function} changed the caller's {what} in place.", code)


@register("relu.forward_function")
def check_relu_forward(ctx: CheckContext) -> Outcome:
    """relu_forward(x) -> (out, cache): out = max(x, 0), x left as it was."""
    function = ctx.param("function", "relu_forward")
    require_function(ctx, function)
    rec = new_recorder(ctx)
    for shape in ctx.param("shapes", DEFAULT_SHAPES):
        x = ctx.rng.standard_normal(shape)
        try:
            result, (x_after,) = ctx.session.call(function, x, what=function, return_args=True)
            out = _first(result, function, "out, cache")
        except StudentFailure as failure:
            rec.student_failure(failure, str(shape))
            continue
        mutants = [("relu-wrong", np.maximum(x, 1)), ("relu-wrong", np.abs(x)), ("relu-wrong", np.minimum(x, 0))]
        rec.compare(f"{function}: out (x {shape})", out, ref.relu(x), RTOL, mutants, "relu-wrong")
        _in_place(rec, function, "x", x_after, x, "relu-in-place")
    return rec.outcome


@register("relu.backward_function")
def check_relu_backward(ctx: CheckContext) -> Outcome:
    """relu_backward(dout, cache) = dout where x > 0, else 0; dout left as it was."""
    function = ctx.param("function", "relu_backward")
    require_function(ctx, function)
    rec = new_recorder(ctx)
    for shape in ctx.param("shapes", DEFAULT_SHAPES):
        x, dout = ctx.rng.standard_normal(shape), ctx.rng.standard_normal(shape)
        try:
            dx, (dout_after, _) = ctx.session.call(function, dout, x, what=function, return_args=True)
        except StudentFailure as failure:
            rec.student_failure(failure, str(shape))
            continue
        mutants = [("relu-wrong", dout * (x < 0)), ("relu-wrong", np.maximum(dout, 0)), ("relu-wrong", dout)]
        rec.compare(f"{function}: dx (x {shape})", dx, ref.relu_grad(dout, x), RTOL, mutants, "relu-wrong")
        _in_place(rec, function, "dout", dout_after, dout, "mutates-grad-output")
    return rec.outcome


def _scalar(value: Any) -> Any:
    """A loss as a 0-d array (a numpy scalar travels as a one-element array); other values as they are."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(float(value))
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "biuf":
        return value.reshape(())
    return value


@register("loss.softmax")
def check_softmax_loss(ctx: CheckContext) -> Outcome:
    """softmax_loss(x, y) -> (loss, dx): the mean cross-entropy over N and its gradient."""
    function = ctx.param("function", "softmax_loss")
    require_function(ctx, function)
    rec = new_recorder(ctx)
    for n, classes in ctx.param("sizes", [[7, 5], [13, 4]]):
        x = ctx.rng.standard_normal((n, classes)) * 3
        y = ctx.rng.integers(0, classes, size=n)
        try:
            result, (x_after, _) = ctx.session.call(function, x, y, what=function, return_args=True)
            if not isinstance(result, list) or len(result) != 2:
                raise StudentFailure("interface-changed", f"{function} should return a pair (loss, dx).")
            loss, dx = result
        except StudentFailure as failure:
            rec.student_failure(failure, f"N={n}")
            continue
        loss_right, dx_right = ref.softmax_loss_value(x, y), ref.softmax_loss_grad(x, y)
        loss_arr = _scalar(loss)
        rec.compare(f"{function}: loss (N={n})", loss_arr, np.asarray(loss_right), RTOL, [("loss-not-averaged", np.asarray(loss_right * n))], "loss-wrong")
        rec.compare(f"{function}: dx (N={n})", dx, dx_right, RTOL, [("loss-not-averaged", dx_right * n)], "loss-wrong")
        _in_place(rec, function, "x", x_after, x, "mutates-input")
    return rec.outcome
