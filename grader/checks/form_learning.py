"""Does the network each form builds learn? Real handwritten digits, the student's own code.

CS231n: affine - relu - affine - softmax built from the student's `affine_*`, `relu_*` and
`softmax_loss`, minibatch SGD over ten classes. deeplearning.ai: the student's
`L_model_forward`, `L_model_backward` and `update_parameters` on a binary task (even or odd
digit), full-batch gradient descent as the course trains. The loop runs in the student's
process (grader code calling the student's functions); the grader starts it from fixed
weights and scores held-out accuracy with the reference's forward, so nothing the student's
code prints or returns about its own accuracy is trusted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import StudentFailure
from ..interfaces.isolate import call_chain, from_pairs
from ..oracle import ref
from . import register
from .base import CheckContext, Outcome, require_function
from .layer import new_recorder
from .learning.data import digits

CS231N_LOOP = '''
def __grader_chain(X, y, params, lr, epochs, batch, order):
    import numpy as _np
    W1, b1, W2, b2 = (p.copy() for p in params)
    for e in range(epochs):
        for start in range(0, len(order[e]), batch):
            rows = order[e][start:start + batch]
            h, c1 = affine_forward(X[rows], W1, b1)
            a, c2 = relu_forward(h)
            s, c3 = affine_forward(a, W2, b2)
            loss, ds = softmax_loss(s, y[rows])
            da, dW2, db2 = affine_backward(ds, c3)
            dh = relu_backward(da, c2)
            _, dW1, db1 = affine_backward(dh, c1)
            W1, b1, W2, b2 = W1 - lr * dW1, b1 - lr * db1, W2 - lr * dW2, b2 - lr * db2
    return [W1, b1, W2, b2]
'''

DLS_LOOP = '''
def __grader_chain(X, Y, params, lr, iterations):
    parameters = dict((k, v) for k, v in params)
    for i in range(iterations):
        AL, caches = L_model_forward(X, parameters)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, lr)
    return parameters
'''


def _split(ctx: CheckContext) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    images, labels = digits()
    X = images / 16.0
    order = np.random.default_rng(ctx.param("seed", 0)).permutation(len(X))
    n_val = int(round(0.2 * len(X)))
    return X[order[n_val:]], labels[order[n_val:]], X[order[:n_val]], labels[order[:n_val]]


def _accuracy_outcome(ctx: CheckContext, accuracy: float, what: str) -> Outcome:
    rec = new_recorder(ctx)
    rec.outcome.fixes["train-wrong"] = "Your network does not learn well enough: the checks of each function above say which one differs from the reference."
    wanted = float(ctx.param("min_accuracy", 0.85))
    if accuracy >= wanted:
        rec.ok()
    else:
        rec.fail(f"{what} reached {accuracy:.1%} held-out accuracy on the digits; a correct one reaches at least {wanted:.0%} with the same start and settings.", "train-wrong")
    rec.outcome.details["summary"] = f"held-out accuracy {accuracy:.3f}"
    return rec.outcome


@register("cs231n.learns")
def check_cs231n_learns(ctx: CheckContext) -> Outcome:
    """Two-layer network of the student's layers, trained on digits by minibatch SGD."""
    names = ["affine_forward", "relu_forward", "softmax_loss", "affine_backward", "relu_backward"]
    for name in names:
        require_function(ctx, name)
    X, y, X_val, y_val = _split(ctx)
    hidden, lr, epochs, batch = int(ctx.param("hidden", 32)), float(ctx.param("learning_rate", 0.5)), int(ctx.param("epochs", 2)), int(ctx.param("batch_size", 32))
    rng = np.random.default_rng(ctx.param("seed", 0))
    params = [rng.standard_normal((64, hidden)) * 0.1, np.zeros(hidden), rng.standard_normal((hidden, 10)) * 0.1, np.zeros(10)]
    order = [rng.permutation(len(X)) for _ in range(epochs)]
    try:
        W1, b1, W2, b2 = _four(call_chain(ctx, names, CS231N_LOOP, X, y, params, lr, epochs, batch, order))
    except StudentFailure as failure:
        rec = new_recorder(ctx)
        rec.student_failure(failure)
        return rec.outcome
    scores = ref.affine_forward(ref.relu_forward(ref.affine_forward(X_val, W1, b1)[0])[0], W2, b2)[0]
    return _accuracy_outcome(ctx, float(np.mean(scores.argmax(axis=1) == y_val)), "Your affine - relu - affine - softmax network")


def _four(value: Any) -> list[np.ndarray]:
    if isinstance(value, list) and len(value) == 4 and all(isinstance(v, np.ndarray) for v in value):
        return value
    raise StudentFailure("train-wrong", "training with your layers did not give back four parameter arrays (W1, b1, W2, b2).")


@register("dls.learns")
def check_dls_learns(ctx: CheckContext) -> Outcome:
    """An L-layer network of the student's functions, trained to tell even digits from odd."""
    names = ["L_model_forward", "L_model_backward", "update_parameters"]
    for name in names:
        require_function(ctx, name)
    X, y, X_val, y_val = _split(ctx)
    dims = [64, *ctx.param("hidden", [16]), 1]
    rng = np.random.default_rng(ctx.param("seed", 0))
    params = []
    for l in range(1, len(dims)):
        params += [[f"W{l}", rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])], [f"b{l}", np.zeros((dims[l], 1))]]
    Y = (y % 2 == 0).astype(np.float64).reshape(1, -1)
    try:
        found = from_pairs(call_chain(ctx, names, DLS_LOOP, np.ascontiguousarray(X.T), Y, params, float(ctx.param("learning_rate", 1.0)), int(ctx.param("iterations", 100))), "update_parameters' result")
        AL = ref.L_model_forward(np.ascontiguousarray(X_val.T), found)[0]
    except StudentFailure as failure:
        rec = new_recorder(ctx)
        rec.student_failure(failure)
        return rec.outcome
    except (KeyError, ValueError, TypeError):
        rec = new_recorder(ctx)
        rec.fail("training with your functions did not give back parameters W1, b1, ... of the network's shapes.", "train-wrong")
        return rec.outcome
    return _accuracy_outcome(ctx, float(np.mean((AL.ravel() > 0.5) == (y_val % 2 == 0))), "Your L-layer network")
