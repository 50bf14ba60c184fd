"""The network code around the layer: ReLU, forward(network, X) and train(network, X, y).

Network checks are judged against the student's *own* layers (each layer's forward and
backward called one by one), so a bug in Dense is charged to the Dense checks, not again
to the network's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference import dense_layer as ref

from ..compare import relative_error
from ..errors import StudentFailure
from ..sandbox.session import Remote
from . import register
from .base import CheckContext, DenseCase, Outcome, Recorder, describe_names, get_params, require_class, require_function, set_params

RTOL = 1e-6


@register("relu.forward")
def check_relu(ctx: CheckContext) -> Outcome:
    rec = Recorder()
    for shape in ctx.param("shapes", [[7, 5], [3, 11]]):
        X = ctx.rng.standard_normal(shape)
        X[0, 0] = 0.0
        try:
            require_class(ctx, "ReLU")
            layer = ctx.session.new("ReLU")
            out = ctx.session.call(layer, X, method="forward", what="ReLU.forward")
        except StudentFailure as failure:
            rec.student_failure(failure)
            continue
        rec.compare(f"ReLU output {tuple(shape)}", out, ref.relu_forward(X), RTOL, [], "relu-wrong")
    return rec.outcome


def _build_network(ctx: CheckContext, sizes: list[int]) -> tuple[list[Remote], list[DenseCase]]:
    """Dense, ReLU, Dense, ... with known parameters (ReLU skipped if the student has none)."""
    has_relu = describe_names(ctx).get("ReLU", {}).get("kind") == "class"
    layers, params = [], []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        if i and has_relu:
            layers.append(ctx.session.new("ReLU"))
        layer = ctx.session.new("Dense", n_in, n_out, learning_rate=0.1)
        case = DenseCase.random(ctx.rng, 1, n_in, n_out)
        set_params(ctx, layer, case.W * 0.5, case.b)
        layers.append(layer)
        params.append(DenseCase(case.X, case.W * 0.5, case.b, case.G))
    return layers, params


def _layerwise_forward(ctx: CheckContext, layers: list[Remote], X: np.ndarray) -> list[Any]:
    activations, current = [], X
    for layer in layers:
        current = ctx.session.call(layer, current, method="forward", what="layer.forward")
        activations.append(current)
    return activations


@register("network.forward")
def check_network_forward(ctx: CheckContext) -> Outcome:
    """forward(network, X) returns every activation, in order, as the layers compute them."""
    rec = Recorder()
    sizes = ctx.param("sizes", [6, 5, 3])
    X = ctx.rng.standard_normal((ctx.param("batch", 7), sizes[0]))
    try:
        require_function(ctx, "forward")
        require_class(ctx, "Dense")
        layers, _ = _build_network(ctx, sizes)
        expected = _layerwise_forward(ctx, layers, X)
        network = ctx.session.make_list(layers)
        got = ctx.session.call("forward", network, X, what="forward(network, X)")
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    if not isinstance(got, list) or len(got) != len(expected):
        rec.fail(f"forward(network, X) returned {_kind(got)}; expected a list of {len(expected)} activations, one per layer, in order.", "network-forward-wrong")
        return rec.outcome
    for i, (a, e) in enumerate(zip(got, expected)):
        rec.compare(f"activation {i}", a, np.asarray(e, dtype=np.float64), RTOL, [], "network-forward-wrong")
    return rec.outcome


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a value of shape {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__


def _loss_grad(ctx: CheckContext, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The notebook's own loss gradient when it defines one (it is given code), else the reference's."""
    if describe_names(ctx).get("grad_softmax_crossentropy_with_logits", {}).get("kind") == "function":
        grad = ctx.session.call("grad_softmax_crossentropy_with_logits", logits, y, what="grad_softmax_crossentropy_with_logits")
        if isinstance(grad, np.ndarray) and grad.shape == logits.shape:
            return grad
    return ref.grad_softmax_crossentropy_with_logits(logits, y)


@register("train.step")
def check_train_step(ctx: CheckContext) -> Outcome:
    """One train(network, X, y) call updates every layer as a correct backward loop would."""
    rec = Recorder()
    sizes = ctx.param("sizes", [6, 5, 4])
    n = ctx.param("batch", 9)
    X = ctx.rng.standard_normal((n, sizes[0]))
    y = ctx.rng.integers(0, sizes[-1], n)
    try:
        require_function(ctx, "train")
        require_class(ctx, "Dense")
        state = ctx.rng.bit_generator.state
        layers, initial = _build_network(ctx, sizes)
        ctx.rng.bit_generator.state = state
        twins, _ = _build_network(ctx, sizes)
        _correct_step(ctx, twins, X, y)
        ctx.session.call("train", ctx.session.make_list(layers), X, y, what="train(network, X, y)")
        dense = [(i, layer) for i, layer in enumerate(layers) if not isinstance(_weights(ctx, layer), str)]
        for position, ((i, layer), start) in enumerate(zip(dense, initial)):
            W, b = get_params(ctx, layer)
            W_twin, b_twin = get_params(ctx, twins[i])
            if relative_error(W, W_twin) <= RTOL and relative_error(b, b_twin) <= RTOL:
                rec.ok()
            elif np.array_equal(W, start.W) and np.array_equal(b, start.b):
                rec.fail(f"train(network, X, y) never updated layer {i} (Dense #{position}): the backward loop must reach every layer, including layer 0.", "train-skips-layer")
            else:
                rec.fail(f"After train(network, X, y), the parameters of layer {i} (Dense #{position}) differ from one correct training step (relative error {relative_error(W, W_twin):.3g}).", "train-wrong")
    except StudentFailure as failure:
        rec.student_failure(failure)
    return rec.outcome


def _correct_step(ctx: CheckContext, layers: list[Remote], X: np.ndarray, y: np.ndarray) -> None:
    """Run one training step on `layers` the way the assignment describes, layer by layer."""
    activations = _layerwise_forward(ctx, layers, X)
    grad = _loss_grad(ctx, np.asarray(activations[-1], dtype=np.float64), y)
    inputs = [X] + activations
    for i in range(len(layers))[::-1]:
        grad = ctx.session.call(layers[i], inputs[i], grad, method="backward", what="layer.backward")


def _weights(ctx: CheckContext, layer: Remote) -> object:
    """The layer's weights, or "none" for a layer without them (ReLU)."""
    weights = ctx.session.get(layer, "weights")
    return weights if isinstance(weights, np.ndarray) else "none"
