"""Finite differences of the student's own forward against the student's own backward.

Independent of the reference: it catches a backward that disagrees with its forward.
With L = ⟨G, Z⟩ the exact gradients are what backward should return (grad_input) or
apply (ΔW/lr, Δb/lr). The layer is affine, so a large step has no truncation error.
Directional checks (torch's fast gradcheck) on a normal layer, then the full per-element
Jacobian of a tiny layer, which names the exact entry that disagrees.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..compare import kept_eps, relative_error, widened_rtol
from ..convention import convention_words
from ..errors import StudentFailure
from . import register
from .base import CheckContext, DenseCase, Outcome, Recorder, make_dense
from .batched import backward_in_order, forwards_at
from .gradient_mutants import MUTANT_WORDS, name_gradient_mistake

STEP = 0.5
RTOL = 1e-4


def _losses(ctx: CheckContext, layer: Any, case: DenseCase, points: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[float]:
    """⟨G, forward(X)⟩ of `layer` given each (X, W, b), in one round trip; the first failure
    (a call that raised, or an output that cannot be used) is raised, in order."""
    outputs, failure = forwards_at(ctx, layer, points)
    losses = [_loss(case, Z) for Z in outputs]
    if failure is not None:
        raise failure
    return losses


def _loss(case: DenseCase, Z: Any) -> float:
    if Z is None:
        raise StudentFailure("not-implemented", "forward returned None (no `return`?), so its derivative cannot be checked.")
    if not isinstance(Z, np.ndarray) or Z.shape != case.G.shape:
        raise StudentFailure("forward-wrong", f"forward returned {getattr(Z, 'shape', type(Z).__name__)}, expected shape {case.G.shape}, so its derivative cannot be checked.")
    return float(np.vdot(case.G, Z.astype(np.float64)))


def _directions(rng: np.random.Generator, shape: tuple[int, ...], count: int, full: bool) -> list[np.ndarray]:
    if full:
        return [np.eye(int(np.prod(shape)))[i].reshape(shape) for i in range(int(np.prod(shape)))]
    vectors = [rng.standard_normal(shape) for _ in range(count)]
    return [v / np.linalg.norm(v) for v in vectors]


def _check_case(ctx: CheckContext, rec: Recorder, case: DenseCase, full: bool) -> None:
    lr = ctx.param("learning_rate", 0.05)
    base_rtol = ctx.param("rtol", RTOL)
    count = ctx.param("directions", 3)
    result = next(backward_in_order(ctx, [(case, lr)]))
    scale = case.X.shape[0] if ctx.convention == "mean" else 1
    analytic = {
        "grad_input": result.grad_input,
        "weights": result.grad_W * scale if isinstance(result.grad_W, np.ndarray) else result.grad_W,
        "biases": result.grad_b * scale if isinstance(result.grad_b, np.ndarray) else result.grad_b,
    }
    noise = {"grad_input": 0.0, "weights": result.noise_W * scale, "biases": result.noise_b * scale}
    computed = kept_eps(result.grad_input)
    layer = make_dense(ctx, case, lr)
    shifted: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
        "grad_input": lambda d: (case.X + d, case.W, case.b),
        "weights": lambda d: (case.X, case.W + d, case.b),
        "biases": lambda d: (case.X, case.W, case.b + d),
    }
    shapes = {"grad_input": case.X.shape, "weights": case.W.shape, "biases": case.b.shape}
    for name, shift in shifted.items():
        grad = analytic[name]
        if not isinstance(grad, np.ndarray) or grad.shape != shapes[name]:
            code = name_gradient_mistake(ctx, layer, case, name, grad, scale, base_rtol, STEP)
            named = f" It equals {MUTANT_WORDS[code]}." if code else ""
            rec.fail(f"[{case.label}] {name}: backward gave shape {getattr(grad, 'shape', None)}, expected {shapes[name]}, so it cannot match the derivative of forward.{named}", *([code] if code else []))
            continue
        directions = _directions(ctx.rng, shapes[name], count, full)
        losses = _losses(ctx, layer, case, [shift(sign * STEP * d) for d in directions for sign in (1, -1)])
        numeric = np.array([(plus - minus) / (2 * STEP) for plus, minus in zip(losses[::2], losses[1::2])])
        predicted = np.array([float(np.vdot(d, grad)) for d in directions])
        error = relative_error(predicted, numeric)
        # A float32 layer: its step read through 1/lr and its forward's slope both carry rounding.
        rounding = np.sqrt(len(directions)) * (noise[name] + _slope_noise(case, computed))
        rtol = widened_rtol(base_rtol, rounding, float(np.linalg.norm(numeric)))
        rec.outcome.details.setdefault("gradcheck", []).append(
            {"case": ("full Jacobian " if full else "") + case.label, "parameter": name, "rel_error": float(error) if np.isfinite(error) else None, "rtol": float(rtol)})
        if error <= rtol:
            rec.ok()
            continue
        worst = int(np.argmax(np.abs(predicted - numeric)))
        where = f"entry {tuple(int(i) for i in np.unravel_index(worst, shapes[name]))}" if full else f"direction {worst}"
        code = name_gradient_mistake(ctx, layer, case, name, grad, scale, rtol, STEP)
        rec.fail(
            f"[{case.label}] the {name} gradient from backward disagrees with finite differences of your forward "
            f"(relative error {error:.3g} > {rtol:g}); worst at {where}: backward gives {predicted[worst]:.6g}{' (its step × N)' if scale != 1 and name != 'grad_input' else ''}, forward's slope is {numeric[worst]:.6g}"
            + (f": your gradient equals {MUTANT_WORDS[code]}." if code else _next_step(ctx.convention, name, case.X.shape[0], predicted, numeric, rtol)),
            *([code] if code else []),
        )


def _next_step(convention: str, name: str, n: int, predicted: np.ndarray, numeric: np.ndarray, rtol: float) -> str:
    """The end of the message: the batch convention when the step is the other reduction, else consistency."""
    other = "mean" if convention == "sum" else "sum"
    if name != "grad_input" and _proportional(predicted, numeric, 1 / n if other == "mean" else n, rtol):
        words = convention_words(convention)
        return (f", {n}× {'smaller' if other == 'mean' else 'larger'}: your step is the {other} over the batch of {n}, "
                f"this assignment's is the {convention}. {words.why} Use {words.dW if name == 'weights' else words.db}.")
    return ". Make forward and backward describe the same function."


def _proportional(predicted: np.ndarray, numeric: np.ndarray, factor: float, rtol: float) -> bool:
    """Whether predicted = factor · numeric (the other batch convention), within rtol."""
    scale = float(np.linalg.norm(factor * numeric))
    return scale > 0 and float(np.linalg.norm(predicted - factor * numeric)) <= max(rtol, 1e-6) * scale


def _slope_noise(case: DenseCase, eps: float) -> float:
    """Rounding in one finite-difference slope of ⟨G, Z⟩ when forward computes in precision eps."""
    if eps <= np.finfo(np.float64).eps:
        return 0.0
    Z_size = (np.abs(case.X) + STEP) @ np.abs(case.W) + np.abs(case.b) + STEP
    return 4.0 * eps * float(np.sum(np.abs(case.G) * Z_size)) / STEP


@register("dense.gradcheck")
def check_gradcheck(ctx: CheckContext) -> Outcome:
    """Directional derivatives on a normal layer plus the full Jacobian of a tiny one."""
    rec = Recorder()
    for size, full in ((ctx.param("size", [7, 5, 3]), False), (ctx.param("tiny_size", [2, 3, 2]), True)):
        case = DenseCase.random(ctx.rng, *size)
        try:
            _check_case(ctx, rec, case, full)
        except StudentFailure as failure:
            rec.student_failure(failure, case.label)
    return rec.outcome
