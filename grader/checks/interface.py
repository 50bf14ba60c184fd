"""Interface and initialisation: the layer can be built and called as the assignment says."""

from __future__ import annotations

import numpy as np

from ..errors import StudentFailure
from ..sandbox.session import MISSING
from . import register
from .base import CheckContext, Outcome, Recorder, describe_names, new_dense, require_class
from .batched import each_run


def _required_positional(signature: str | None) -> int | None:
    """How many positional parameters a method needs after `self` (None if unknown)."""
    if not signature:
        return None
    inner = signature.strip()[1:].split(")")[0]
    params = [p.strip() for p in inner.split(",") if p.strip()]
    if any(p.startswith("*") and not p.startswith("**") and p != "*" for p in params):
        return None
    required = [p for p in params if "=" not in p and not p.startswith("*") and p not in ("/",)]
    return len(required) - (1 if required and required[0] == "self" else 0)


@register("dense.interface")
def check_interface(ctx: CheckContext) -> Outcome:
    """Dense(in, out[, learning_rate]) builds; weights (in, out); biases (out,); forward/backward arity."""
    rec = Recorder()
    try:
        require_class(ctx, "Dense")
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    methods = describe_names(ctx)["Dense"].get("methods", {})
    for method, wanted in (("forward", 1), ("backward", 2)):
        if method not in methods:
            rec.fail(f"Dense has no method `{method}`; the assignment asks for {method}({', '.join(['input', 'grad_output'][:wanted])}).", "missing-definition")
        elif _required_positional(methods[method]) not in (None, wanted):
            rec.fail(f"Dense.{method}{methods[method]} does not take ({', '.join(['input', 'grad_output'][:wanted])}) as the assignment asks.", "interface-changed")
        else:
            rec.ok()
    runs = [(n_in, n_out, kwargs) for n_in, n_out in ctx.param("sizes", [[5, 3], [4, 4]]) for kwargs in ({}, {"learning_rate": 0.05})]
    add = lambda batch, n_in, n_out, kwargs: batch.get(batch.new("Dense", n_in, n_out, **kwargs), "weights", "biases")  # noqa: E731
    for (n_in, n_out, kwargs), found in zip(runs, each_run(ctx, runs, add, 2, lambda values, *run: values[-1])):  # one round trip
        call = f"Dense({n_in}, {n_out}{', learning_rate=0.05' if kwargs else ''})"
        if isinstance(found, StudentFailure):
            code = "interface-changed" if found.error_type == "TypeError" else found.code
            rec.fail(f"{call} failed: {found.message}", code)
            continue
        weights, biases = found
        if weights is MISSING or biases is MISSING:
            rec.fail(f"{call} has no `{'weights' if weights is MISSING else 'biases'}` attribute; the assignment names them `weights` and `biases`.", "interface-changed")
            continue
        w_shape, b_shape = getattr(weights, "shape", None), getattr(biases, "shape", None)
        if w_shape != (n_in, n_out):
            rec.fail(f"{call}.weights has shape {w_shape}; expected (input_units, output_units) = {(n_in, n_out)}.", "weights-shape")
        elif b_shape != (n_out,):
            rec.fail(f"{call}.biases has shape {b_shape}; expected (output_units,) = {(n_out,)}.", "weights-shape")
        else:
            rec.ok()
    return rec.outcome


@register("dense.init")
def check_init(ctx: CheckContext) -> Outcome:
    """Fresh weights are small, centred random numbers; fresh biases are (close to) zero."""
    rec = Recorder()
    n_in, n_out = ctx.param("size", [200, 100])
    std_min, std_max = ctx.param("weight_std_range", [1e-3, 0.5])
    bias_max = ctx.param("bias_max_abs", 1e-8)
    try:
        layer = new_dense(ctx, n_in, n_out)
        weights, biases = ctx.session.get(layer, "weights", "biases")
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    if not isinstance(weights, np.ndarray) or weights.size != n_in * n_out or weights.dtype.kind not in "biuf":
        rec.fail(f"Dense({n_in}, {n_out}).weights is not a numeric array of {n_in}×{n_out} values.", "weights-shape")
    else:
        std, mean = float(np.std(weights)), float(np.mean(weights))
        if not std_min <= std <= std_max:
            rec.fail(f"Fresh weights have standard deviation {std:.3g}; expected between {std_min:g} and {std_max:g} (e.g. randn(in, out) * 0.01).", "init-scale")
        elif abs(mean) > 6 * std / np.sqrt(weights.size) + 1e-12:
            rec.fail(f"Fresh weights have mean {mean:.3g}; expected random numbers centred on 0.", "init-scale")
        else:
            rec.ok()
    if not isinstance(biases, np.ndarray) or biases.size != n_out or biases.dtype.kind not in "biuf":
        rec.fail(f"Dense({n_in}, {n_out}).biases is not a numeric array of {n_out} values.", "weights-shape")
    elif float(np.max(np.abs(biases))) > bias_max:
        rec.fail(f"Fresh biases are not zero (largest {float(np.max(np.abs(biases))):.3g}); start them at np.zeros(output_units).", "init-scale")
    else:
        rec.ok()
    return rec.outcome
