"""Side effects: inputs untouched, forward repeatable and fresh, layers independent."""

from __future__ import annotations

import numpy as np

from ..compare import relative_error
from ..errors import StudentFailure
from . import register
from .base import CheckContext, DenseCase, Outcome, Recorder, call_method, make_dense
from .batched import DenseBatch

RTOL = 1e-9


def _same(a: object, b: np.ndarray) -> bool:
    return isinstance(a, np.ndarray) and a.shape == b.shape and bool(np.array_equal(a, b))


@register("dense.side_effects")
def check_side_effects(ctx: CheckContext) -> Outcome:
    rec = Recorder()
    case = DenseCase.random(ctx.rng, *ctx.param("size", [6, 4, 3]))
    try:
        batch = DenseBatch(ctx)  # every call below in one round trip (the twin only when needed)
        forward = batch.method(batch.layer(case, 0.05), "forward", case.X, return_args=True)
        backward = batch.method(batch.layer(case, 0.05), "backward", case.X, case.G, return_args=True)
        layer = batch.layer(case, 0.05)
        other = ctx.rng.standard_normal(case.X.shape)
        repeats = [batch.method(layer, "forward", X) for X in (case.X, other, case.X)]
        a, b = batch.layer(case, 0.05), batch.layer(case, 0.05)
        a_step, b_params = batch.method(a, "backward", case.X, case.G), batch.params(b)
        sent = batch.run()

        _, (X_after,) = sent[forward]
        rec.ok() if _same(X_after, case.X) else rec.fail("forward changed the caller's input array.", "mutates-input")

        _, (X_after, G_after) = sent[backward]
        rec.ok() if _same(X_after, case.X) else rec.fail("backward changed the caller's input array.", "mutates-input")
        rec.ok() if _same(G_after, case.G) else rec.fail("backward changed the caller's grad_output array.", "mutates-grad-output")

        first, fresh, again = (sent[i] for i in repeats)
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

        sent[a_step]  # backward's failure, if any, is raised before the read-back
        W_b, b_b = sent[b_params]
        if _same(W_b, case.W) and _same(b_b, case.b):
            rec.ok()
        else:
            rec.fail("Updating one Dense layer changed another one: keep weights and biases per instance (self.weights), not shared.", "stateful-forward")
    except StudentFailure as failure:
        rec.student_failure(failure, case.label)
    return rec.outcome
