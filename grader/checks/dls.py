"""deeplearning.ai "Step by Step": the network functions, each graded on its own.

While one function runs, the others it calls are the reference's (grader/interfaces/isolate),
so a mistake costs the function that makes it. The course's known mistakes are named:
`sigmoid_backward` applied to every layer, `dA` keys shifted by one layer, an update loop
that skips the last layer, a cost without its 1/m. `dls.chain` runs the student's whole chain.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import StudentFailure
from ..interfaces.isolate import call_chain, call_isolated, from_pairs
from ..oracle import ref
from . import register
from .base import CheckContext, Outcome, Recorder, require_function
from .layer import new_recorder

RTOL = 1e-6
LAYER_DIMS = (5, 4, 3, 1)


def _network(ctx: CheckContext, m: int = 7) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    dims = ctx.param("layer_dims", LAYER_DIMS)
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = ctx.rng.standard_normal((dims[l], dims[l - 1])) * 0.7
        params[f"b{l}"] = ctx.rng.standard_normal((dims[l], 1)) * 0.3
    X = ctx.rng.standard_normal((dims[0], m))
    Y = (ctx.rng.random((1, m)) > 0.5).astype(np.float64)
    return params, X, Y


def _pair(result: Any, function: str, what: str) -> list[Any]:
    if isinstance(result, list) and len(result) == 2:
        return result
    raise StudentFailure("interface-changed", f"{function} should return a pair ({what}).")


def _start(ctx: CheckContext, function: str) -> Recorder:
    require_function(ctx, function)
    return new_recorder(ctx)


@register("dls.linear_activation_forward")
def check_linear_activation_forward(ctx: CheckContext) -> Outcome:
    """A = g(W·A_prev + b) for sigmoid and relu (linear_forward is the reference's)."""
    rec = _start(ctx, "linear_activation_forward")
    for activation in ("sigmoid", "relu"):
        A_prev, W, b = ctx.rng.standard_normal((4, 7)), ctx.rng.standard_normal((3, 4)), ctx.rng.standard_normal((3, 1))
        try:
            A = _pair(call_isolated(ctx, "linear_activation_forward", A_prev, W, b, activation), "linear_activation_forward", "A, cache")[0]
        except StudentFailure as failure:
            rec.student_failure(failure, activation)
            continue
        other = "relu" if activation == "sigmoid" else "sigmoid"
        expected = ref.linear_activation_forward(A_prev, W, b, activation)[0]
        rec.compare(f"linear_activation_forward: A ({activation})", A, expected, RTOL, [("activation-swapped", ref.linear_activation_forward(A_prev, W, b, other)[0])], "forward-wrong")
    return rec.outcome


@register("dls.linear_activation_backward")
def check_linear_activation_backward(ctx: CheckContext) -> Outcome:
    """dA_prev, dW, db through sigmoid_backward or relu_backward (linear_backward is the reference's)."""
    rec = _start(ctx, "linear_activation_backward")
    for activation in ("sigmoid", "relu"):
        A_prev, W, b = ctx.rng.standard_normal((4, 7)), ctx.rng.standard_normal((3, 4)), ctx.rng.standard_normal((3, 1))
        Z, dA = W @ A_prev + b, ctx.rng.standard_normal((3, 7))
        cache = ((A_prev, W, b), Z)
        try:
            result = call_isolated(ctx, "linear_activation_backward", dA, cache, activation)
            if not isinstance(result, list) or len(result) != 3:
                raise StudentFailure("interface-changed", "linear_activation_backward should return (dA_prev, dW, db).")
        except StudentFailure as failure:
            rec.student_failure(failure, activation)
            continue
        other = "relu" if activation == "sigmoid" else "sigmoid"
        right, swapped = ref.linear_activation_backward(dA, cache, activation), ref.linear_activation_backward(dA, cache, other)
        for name, actual, expected, mutant in zip(("dA_prev", "dW", "db"), result, right, swapped):
            rec.compare(f"linear_activation_backward: {name} ({activation})", actual, expected, RTOL, [("activation-swapped", mutant)], "grad-input-wrong")
    return rec.outcome


@register("dls.initialize_parameters")
def check_initialize_parameters(ctx: CheckContext) -> Outcome:
    """initialize_parameters(n_x, n_h, n_y) and initialize_parameters_deep(layer_dims): shapes,
    zero biases and, since both seed inside, the course's exact values."""
    rec = new_recorder(ctx)
    rec.outcome.fixes["init-scale"] = "Initialise W{l} = np.random.randn(n_l, n_{l-1}) * 0.01 and b{l} = np.zeros((n_l, 1)), after the seed the function sets."
    calls = [("initialize_parameters", (5, 4, 1), ref.initialize_parameters(5, 4, 1)), ("initialize_parameters_deep", ([6, 5, 3, 1],), ref.initialize_parameters_deep([6, 5, 3, 1]))]
    for function, args, expected in calls:
        try:
            require_function(ctx, function)
            found = from_pairs(call_isolated(ctx, function, *args), f"{function}'s result")
        except StudentFailure as failure:
            rec.student_failure(failure, function)
            continue
        for key in sorted(expected):
            mutants = [("weights-shape", expected[key].T)] if key.startswith("W") else [("grad-bias-dims-dropped", expected[key].ravel())]
            rec.compare(f"{function}: parameters[{key!r}]", found.get(key), expected[key], RTOL, mutants, "init-scale")
    return rec.outcome


@register("dls.l_model_forward")
def check_l_model_forward(ctx: CheckContext) -> Outcome:
    """AL through [LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID, and one cache per layer."""
    rec = _start(ctx, "L_model_forward")
    params, X, _ = _network(ctx)
    try:
        AL, caches = _pair(call_isolated(ctx, "L_model_forward", X, params, dicts=(1,)), "L_model_forward", "AL, caches")
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    rec.outcome.fixes["network-forward-wrong"] = "L_model_forward should apply linear_activation_forward with \"relu\" for layers 1 to L-1 and \"sigmoid\" for layer L, appending each cache."
    rec.compare("L_model_forward: AL", AL, ref.L_model_forward(X, params)[0], RTOL, None, "network-forward-wrong")
    L = len(params) // 2
    if isinstance(caches, list) and len(caches) == L:
        rec.ok()
    else:
        rec.fail(f"L_model_forward: caches should hold one cache per layer ({L}), got {len(caches) if isinstance(caches, list) else type(caches).__name__}.", "network-forward-wrong")
    return rec.outcome


@register("dls.compute_cost")
def check_compute_cost(ctx: CheckContext) -> Outcome:
    """The mean binary cross-entropy over the m examples."""
    rec = _start(ctx, "compute_cost")
    for m in (7, 13):
        AL = ctx.rng.uniform(0.05, 0.95, (1, m))
        Y = (ctx.rng.random((1, m)) > 0.5).astype(np.float64)
        try:
            cost = call_isolated(ctx, "compute_cost", AL, Y)
        except StudentFailure as failure:
            rec.student_failure(failure, f"m={m}")
            continue
        cost = np.asarray(cost, dtype=np.float64).reshape(()) if isinstance(cost, (float, int, np.ndarray)) and np.size(cost) == 1 else cost
        expected = np.asarray(ref.compute_cost(AL, Y), dtype=np.float64)
        rec.compare(f"compute_cost (m={m})", cost, expected, RTOL, [("loss-not-averaged", expected * m)], "loss-wrong")
    return rec.outcome


def _reference_backward(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, hidden: str = "relu") -> tuple[dict[str, np.ndarray], list[np.ndarray], Any]:
    """The reference's grads, each layer's outgoing dA in order, and the caches; `hidden`: the
    activation whose backward the hidden layers use (a mutant when not relu)."""
    AL, caches = ref.L_model_forward(X, params)
    L = len(caches)
    dA = -(Y / AL - (1 - Y) / (1 - AL))
    grads, outgoing = {}, [None] * (L + 1)
    for l in range(L, 0, -1):
        dA, dW, db = ref.linear_activation_backward(dA, caches[l - 1], "sigmoid" if l == L else hidden)
        grads[f"dW{l}"], grads[f"db{l}"], outgoing[l] = dW, db, dA
    return grads, outgoing, (AL, caches)


@register("dls.l_model_backward")
def check_l_model_backward(ctx: CheckContext) -> Outcome:
    """dW{l} and db{l} of every layer; dA keys in either version's meaning, consistently."""
    rec = _start(ctx, "L_model_backward")
    params, X, Y = _network(ctx)
    right, outgoing, (AL, caches) = _reference_backward(params, X, Y)
    wrong, _, _ = _reference_backward(params, X, Y, hidden="sigmoid")
    try:
        grads = from_pairs(call_isolated(ctx, "L_model_backward", AL, Y, caches), "L_model_backward's grads")
    except StudentFailure as failure:
        if failure.error_type == "KeyError" and "'dA" in failure.message:
            failure.extra_codes.append("grad-keys-shifted")
        rec.student_failure(failure)
        return rec.outcome
    L = len(caches)
    for key in sorted(right):
        mutants = [("sigmoid-backward-every-layer", wrong[key])]
        rec.compare(f"L_model_backward: grads[{key!r}]", grads.get(key), right[key], RTOL, mutants, "grad-weights-wrong" if key[1] == "W" else "grad-bias-wrong-axis")
    # dA{l-1} (2021) or dA{l} (2017) is the gradient out of layer l: either numbering, used
    # throughout. The output layer's is compared (the hidden ones inherit any other mistake).
    found = {k for k in grads if k.startswith("dA")}
    versions = [({f"dA{l - 1}" for l in range(1, L + 1)}, f"dA{L - 1}"), ({f"dA{l}" for l in range(1, L + 1)}, f"dA{L}")]
    if any(found == keys and _close(grads[top], outgoing[L]) for keys, top in versions):
        rec.ok()
    else:
        rec.fail(f"L_model_backward: the dA keys ({', '.join(sorted(found)) or 'none'}) do not hold the gradient out of each layer under one numbering (dA{{l-1}} for layer l).", "grad-keys-shifted")
    return rec.outcome


def _close(actual: Any, expected: np.ndarray) -> bool:
    return isinstance(actual, np.ndarray) and actual.shape == expected.shape and np.allclose(actual, expected, rtol=1e-6, atol=1e-12)


@register("dls.update_parameters")
def check_update_parameters(ctx: CheckContext) -> Outcome:
    """W{l} − lr·dW{l} and b{l} − lr·db{l} for every layer, the last one included."""
    rec = _start(ctx, "update_parameters")
    params, X, Y = _network(ctx)
    grads = {k: ctx.rng.standard_normal(v.shape) for k, v in (("d" + k, v) for k, v in params.items())}
    lr = float(ctx.param("learning_rate", 0.37))
    try:
        new = from_pairs(call_isolated(ctx, "update_parameters", params, grads, lr, dicts=(0, 1)), "update_parameters' result")
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    expected = ref.update_parameters(params, grads, lr)
    L = len(params) // 2
    for key in sorted(expected):
        mutants = [("update-skips-last-layer", params[key])] if key[1:] == str(L) else [("no-update", params[key])]
        mutants.append(("update-sign", params[key] + lr * grads["d" + key]))
        rec.outcome.fixes["train-wrong"] = "update_parameters should return W{l} - learning_rate * dW{l} and b{l} - learning_rate * db{l} for every layer."
        rec.compare(f"update_parameters: parameters[{key!r}]", new.get(key), expected[key], RTOL, mutants, "train-wrong")
    return rec.outcome


CHAIN = '''
def __grader_chain(X, Y, params, learning_rate):
    parameters = dict((k, v) for k, v in params)
    AL, caches = L_model_forward(X, parameters)
    cost = compute_cost(AL, Y)
    grads = L_model_backward(AL, Y, caches)
    return [cost, update_parameters(parameters, grads, learning_rate)]
'''


@register("dls.chain")
def check_chain(ctx: CheckContext) -> Outcome:
    """The student's whole chain, none of it replaced: forward, cost, backward, update."""
    rec = new_recorder(ctx)
    rec.outcome.fixes["train-wrong"] = "One step is L_model_forward, compute_cost, L_model_backward, update_parameters: the checks of each function above say which one differs."
    for name in ("L_model_forward", "compute_cost", "L_model_backward", "update_parameters"):
        require_function(ctx, name)
    params, X, Y = _network(ctx)
    lr = float(ctx.param("learning_rate", 0.37))
    try:
        cost, new = call_chain(ctx, ["L_model_forward", "compute_cost", "L_model_backward", "update_parameters"], CHAIN, X, Y, [[k, v] for k, v in params.items()], lr)
        new = from_pairs(new, "update_parameters' result")
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    AL, caches = ref.L_model_forward(X, params)
    expected = ref.update_parameters(params, ref.L_model_backward(AL, Y, caches), lr)
    rec.compare("the chain's cost", np.asarray(cost, dtype=np.float64).reshape(()) if np.size(cost) == 1 and not isinstance(cost, list) else cost, np.asarray(ref.compute_cost(AL, Y), dtype=np.float64), RTOL, None, "train-wrong")
    for key in sorted(expected):
        rec.compare(f"one training step: parameters[{key!r}]", new.get(key), expected[key], RTOL, None, "train-wrong")
    return rec.outcome
