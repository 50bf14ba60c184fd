"""Reference-free checks of an affine layer in any form: gradients, batch semantics, side effects.

They run in the students' own self-check as well: finite differences of the student's own
forward against their backward, the form's batch convention (a layer that sums doubles its
parameter gradients when the batch is duplicated; one that takes the mean keeps them), and
the caller's arrays left as they were.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import StudentFailure
from ..interfaces import LayerAdapter, StudentCase
from ..sandbox.session import MISSING
from . import register
from .base import CheckContext, DenseCase, Outcome, Recorder
from .layer import layer_adapter, new_recorder

GRADCHECK_RTOL = 1e-4


def _loss(adapter: LayerAdapter, ctx: CheckContext, case: StudentCase) -> float:
    """⟨dout, out⟩ through the student's forward; the layer is affine, so differences are exact."""
    out, _ = adapter.forward(ctx.session, case)
    if not isinstance(out, np.ndarray) or out.shape != case.dout.shape:
        shape = getattr(out, "shape", None)
        raise StudentFailure("forward-wrong", f"{adapter.call_name('forward')} gave {adapter.names.out} of shape {shape}, expected {case.dout.shape}, so its finite differences cannot be taken.")
    return float(np.vdot(case.dout, out.astype(np.float64)))


@register("layer.gradcheck")
def check_gradcheck(ctx: CheckContext) -> Outcome:
    """Directional finite differences of the student's forward against their backward."""
    rec = new_recorder(ctx)
    adapter = layer_adapter(ctx)
    names, rtol = adapter.names, ctx.param("rtol", GRADCHECK_RTOL)
    case = DenseCase.random(ctx.rng, *ctx.param("size", (7, 6, 3)))
    sc = adapter.student_case(case.X, case.W, case.b, case.G)
    try:
        grads = adapter.backward(ctx.session, sc)
    except StudentFailure as failure:
        rec.student_failure(failure, sc.label)
        return rec.outcome
    unscale = 1.0 / adapter.scale(sc.n)  # the mean convention puts 1/N on dw and db
    for role, grad, factor in (("x", grads.dx, 1.0), ("w", grads.dw, unscale), ("b", grads.db, unscale)):
        point: np.ndarray = getattr(sc, role)
        label = f"{getattr(names, 'd' + role)} ({sc.label})"
        if not isinstance(grad, np.ndarray) or grad.dtype.kind not in "biuf" or grad.size != point.size:
            rec.fail(f"{label}: shape {getattr(grad, 'shape', None)}, expected {point.shape} (the shape of {getattr(names, role)}).", _wrong_code(role))
            continue
        # A wrong shape costs the values check, not this one: a transposed or flattened
        # gradient is read in the parameter's shape.
        grad = (grad.T if grad.ndim == 2 and grad.shape == point.shape[::-1] else grad.reshape(point.shape)).astype(np.float64)
        pairs: list[tuple[float, float]] = []
        try:
            for _ in range(ctx.param("directions", 3)):
                v = ctx.rng.standard_normal(point.shape)
                v /= np.linalg.norm(v)
                h = 0.5
                up = _loss(adapter, ctx, replace(sc, **{role: point + h * v}))
                down = _loss(adapter, ctx, replace(sc, **{role: point - h * v}))
                pairs.append(((up - down) / (2 * h), factor * float(np.vdot(grad, v))))
        except StudentFailure as failure:
            rec.student_failure(failure, label)
            continue
        scale = max(max(abs(n) for n, _ in pairs), factor * float(np.linalg.norm(grad)), 1e-12)
        worst = max(abs(n - a) / scale for n, a in pairs)
        if worst <= rtol:
            rec.ok()
            continue
        rec.fail(f"{label}: your backward disagrees with finite differences of your forward (relative difference {worst:.3g} > {rtol:g}); derive {getattr(names, 'd' + role)} from the same formula forward uses.", _reduction_code(role, pairs, sc.n, adapter))
    return rec.outcome


def _reduction_code(role: str, pairs: list[tuple[float, float]], n: int, adapter: LayerAdapter) -> str:
    """The reduction mistake when backward is off from the differences by exactly N (or 1/N)."""
    numeric = np.array([p[0] for p in pairs])
    analytic = np.array([p[1] for p in pairs])
    if role == "b" and np.allclose(numeric, 0.0, atol=1e-12) and np.any(analytic != 0):
        return "forward-missing-bias"  # the forward does not depend on b at all
    if role != "x" and np.vdot(numeric, numeric) > 0:
        ratio = float(np.vdot(analytic, numeric) / np.vdot(numeric, numeric))
        kind = "weights" if role == "w" else "bias"
        if np.linalg.norm(analytic - ratio * numeric) <= 1e-6 * np.linalg.norm(numeric):
            if np.isclose(ratio, 1.0 / n):
                return f"grad-{kind}-mean"
            if np.isclose(ratio, float(n)):
                return f"grad-{kind}-sum"
            if np.isclose(ratio, -1.0) and adapter.interface.gradients == "sgd_step":
                return "update-sign"
    return _wrong_code(role)


def _wrong_code(role: str) -> str:
    return {"x": "grad-input-wrong", "w": "grad-weights-wrong", "b": "grad-bias-wrong-axis"}[role]


def _param_grads(adapter: LayerAdapter, ctx: CheckContext, case: DenseCase) -> tuple[Any, Any]:
    grads = adapter.backward(ctx.session, adapter.student_case(case.X, case.W, case.b, case.G))
    return grads.dw, grads.db


@register("layer.batch_semantics")
def check_batch_semantics(ctx: CheckContext) -> Outcome:
    """The form's reduction: a duplicated batch doubles (sum) or keeps (mean) dw and db; a
    batch's gradient is the sum (or mean) of its examples' gradients."""
    rec = new_recorder(ctx)
    adapter = layer_adapter(ctx)
    mean = adapter.interface.reduction == "mean"
    case = DenseCase.random(ctx.rng, *ctx.param("size", (5, 4, 3)))
    twice = DenseCase(np.vstack([case.X, case.X]), case.W, case.b, np.vstack([case.G, case.G]))
    try:
        one, two = _param_grads(adapter, ctx, case), _param_grads(adapter, ctx, twice)
        each = [_param_grads(adapter, ctx, DenseCase(case.X[i:i + 1], case.W, case.b, case.G[i:i + 1])) for i in range(case.X.shape[0])]
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    for k, key in enumerate(("dw", "db")):
        name = getattr(adapter.names, key)
        kind = "weights" if key == "dw" else "bias"
        a, b = one[k], two[k]
        parts = [e[k] for e in each]
        if not all(isinstance(p, np.ndarray) and p.dtype.kind in "biuf" and p.shape == np.shape(a) for p in [b, *parts]) or not isinstance(a, np.ndarray):
            rec.fail(f"{name}: the shapes of the gradients change with the batch size ({np.shape(a)} for N={case.X.shape[0]}); {name} must have the parameter's shape.")
            continue
        wanted, other = (1.0, 2.0) if mean else (2.0, 1.0)
        scale = max(float(np.linalg.norm(a)), 1e-12)
        combined = np.mean(parts, axis=0) if mean else np.sum(parts, axis=0)
        if np.linalg.norm(b - wanted * a) <= 1e-6 * scale and np.linalg.norm(combined - a) <= 1e-6 * scale:
            rec.ok()
        elif np.linalg.norm(b - other * a) <= 1e-6 * scale:
            code = f"grad-{kind}-{'sum' if mean else 'mean'}"
            rec.fail(f"{name}: duplicating the batch {'doubled' if mean else 'did not change'} {name}; this course's layer takes the {'mean' if mean else 'sum'} over the batch.", code)
        else:
            rec.fail(f"{name}: the batch's gradient is not the {'mean' if mean else 'sum'} of the examples' gradients; each example must contribute through its own row only.", "batch-coupling")
    return rec.outcome


@register("layer.side_effects")
def check_side_effects(ctx: CheckContext) -> Outcome:
    """forward and backward leave the caller's arrays (and the cache) as they were."""
    rec: Recorder = new_recorder(ctx)
    adapter = layer_adapter(ctx)
    which = ctx.param("calls", ["forward", "backward"])
    case = DenseCase.random(ctx.rng, *ctx.param("size", (6, 4, 3)))
    sc = adapter.student_case(case.X, case.W, case.b, case.G)
    for call in which:
        try:
            after = adapter.forward(ctx.session, sc)[1] if call == "forward" else adapter.backward(ctx.session, sc).args_after
        except StudentFailure as failure:
            rec.student_failure(failure, call)
            continue
        changed = [role for role, value in after.items() if value is not MISSING and not _same(value, getattr(sc, role))]
        function = adapter.call_name(call)
        if not changed:
            rec.ok()
            continue
        words = ", ".join(getattr(adapter.names, role) for role in changed)
        codes = ["mutates-grad-output"] if changed == ["dout"] else ["mutates-input"] + (["mutates-grad-output"] if "dout" in changed else [])
        rec.fail(f"{function} changed the caller's {words} in place.", *codes)
    return rec.outcome


def _same(after: Any, before: np.ndarray) -> bool:
    return isinstance(after, np.ndarray) and after.shape == before.shape and np.array_equal(after, before)
