"""Side effects: inputs untouched, forward repeatable and fresh, layers independent."""

from __future__ import annotations

import numpy as np

from ..compare import relative_error
from ..errors import StudentFailure
from . import register
from .base import CheckContext, DenseCase, Outcome, Recorder, call_method, get_params, make_dense

RTOL = 1e-9


def _same(a: object, b: np.ndarray) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b))


@register("dense.side_effects")
def check_side_effects(ctx: CheckContext) -> Outcome:
    rec = Recorder()
    case = DenseCase.random(ctx.rng, *ctx.param("size", [6, 4, 3]))
    try:
        layer = make_dense(ctx, case, 0.05)
        _, (X_after,) = call_method(ctx, layer, "forward", case.X, return_args=True)
        rec.ok() if _same(X_after, case.X) else rec.fail("forward changed the caller's input array.", "mutates-input")

        layer = make_dense(ctx, case, 0.05)
        _, (X_after, G_after) = call_method(ctx, layer, "backward", case.X, case.G, return_args=True)
        rec.ok() if _same(X_after, case.X) else rec.fail("backward changed the caller's input array.", "mutates-input")
        rec.ok() if _same(G_after, case.G) else rec.fail("backward changed the caller's grad_output array.", "mutates-grad-output")

        layer = make_dense(ctx, case, 0.05)
        other = ctx.rng.standard_normal(case.X.shape)
        first = call_method(ctx, layer, "forward", case.X)
        fresh = call_method(ctx, layer, "forward", other)
        again = call_method(ctx, layer, "forward", case.X)
        if first is None or fresh is None or again is None:
            rec.fail("forward returned None: it cannot be checked for repeatability. Did you forget `return`?", "not-implemented")
        elif not isinstance(first, np.ndarray) or not isinstance(again, np.ndarray) or not isinstance(fresh, np.ndarray) or first.shape != again.shape or first.shape != fresh.shape:
            rec.fail("forward does not return arrays of one shape for inputs of one shape.", "stateful-forward")
        elif relative_error(fresh, first) <= RTOL:
            rec.fail("forward returned the same output for a different input: it reuses an earlier result.", "stateful-forward")
        elif relative_error(again, first) > RTOL:
            # Randomness makes two fresh, identical layers disagree on their first call;
            # state (counters, caches) makes only a layer's *later* calls differ.
            twin_first = call_method(ctx, make_dense(ctx, case, 0.05), "forward", case.X)
            random = not _same(twin_first, first)
            code, why = ("nondeterministic", "two fresh layers with the same parameters already disagree") if random else (
                "stateful-forward", "fresh layers agree, so an earlier call changed the layer")
            rec.fail(f"Calling forward twice with the same input gave different outputs (relative difference {relative_error(again, first):.3g}); {why}.", code)
        else:
            rec.ok()

        a, b = make_dense(ctx, case, 0.05), make_dense(ctx, case, 0.05)
        call_method(ctx, a, "backward", case.X, case.G)
        W_b, b_b = get_params(ctx, b)
        if _same(W_b, case.W) and _same(b_b, case.b):
            rec.ok()
        else:
            rec.fail("Updating one Dense layer changed another one: keep weights and biases per instance (self.weights), not shared.", "stateful-forward")
    except StudentFailure as failure:
        rec.student_failure(failure, case.label)
    return rec.outcome
