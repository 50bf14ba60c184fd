"""CS231n's `TwoLayerNet.loss` (cs231n/classifiers/fc_net.py), graded when it is handed in.

The network is the student's, its layers the reference's (the given `layer_utils` composes
them), so a mistake in `affine_backward` is not charged again here; `loss(X, y)` must return
the softmax loss plus 0.5·reg·ΣW² and every parameter's gradient. A student who hands in
`layers.py` alone is not graded on it: the check is then left out of the score.
"""

from __future__ import annotations

import numpy as np

from ..errors import StudentFailure
from ..interfaces.isolate import call_chain, from_pairs
from ..oracle import ref
from . import register
from .base import CheckContext, Outcome, describe_names, require_class
from .layer import new_recorder

RTOL = 1e-6

CHAIN = '''
def __grader_chain(dims, reg, params, X, y):
    model = TwoLayerNet(input_dim=dims[0], hidden_dim=dims[1], num_classes=dims[2], weight_scale=1e-3, reg=reg)
    model.params.update(dict((k, v) for k, v in params))
    return model.loss(X, y)
'''


@register("cs231n.two_layer_net")
def check_two_layer_net(ctx: CheckContext) -> Outcome:
    """loss and grads of TwoLayerNet.loss(X, y) with regularisation, against the reference."""
    name = ctx.param("class", "TwoLayerNet")
    if ctx.param("optional", False) and describe_names(ctx).get(name, {}).get("kind") == "missing":
        return Outcome(details={"not_applicable": f"{name} is not in this submission, so it is not graded."})
    require_class(ctx, name)
    rec = new_recorder(ctx)
    rec.outcome.fixes["train-wrong"] = "TwoLayerNet.loss: affine_relu_forward, affine_forward, softmax_loss plus 0.5 * reg * (ΣW1² + ΣW2²); the gradients back through affine_backward and affine_relu_backward, plus reg * W."
    n, dims, reg = 7, (6, 5, 4), float(ctx.param("reg", 0.3))
    params = {"W1": ctx.rng.standard_normal(dims[:2]), "b1": ctx.rng.standard_normal(dims[1]),
              "W2": ctx.rng.standard_normal(dims[1:]), "b2": ctx.rng.standard_normal(dims[2])}
    X, y = ctx.rng.standard_normal((n, dims[0])), ctx.rng.integers(0, dims[2], size=n)
    try:
        result = call_chain(ctx, [f"{name}.loss"], CHAIN, list(dims), reg, [[k, v] for k, v in params.items()], X, y, isolate=True)
        if not isinstance(result, list) or len(result) != 2:
            raise StudentFailure("interface-changed", f"{name}.loss(X, y) should return a pair (loss, grads).")
        loss, grads = result[0], from_pairs(result[1], f"{name}.loss's grads")
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    model = ref.TwoLayerNet(input_dim=dims[0], hidden_dim=dims[1], num_classes=dims[2], reg=reg)
    model.params.update(params)
    loss_right, grads_right = model.loss(X, y)
    penalty = 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    loss_value = np.asarray(loss, dtype=np.float64).reshape(()) if isinstance(loss, (int, float, np.ndarray)) and np.size(loss) == 1 else loss
    rec.compare(f"{name}.loss: loss (reg={reg:g})", loss_value, np.asarray(loss_right), RTOL, [("regularization-wrong", np.asarray(loss_right + penalty)), ("regularization-wrong", np.asarray(loss_right - penalty))], "train-wrong")
    for key in sorted(grads_right):
        mutants = [("regularization-wrong", grads_right[key] + reg * params[key]), ("regularization-wrong", grads_right[key] - reg * params[key])] if key.startswith("W") else []
        rec.compare(f"{name}.loss: grads[{key!r}]", grads.get(key), grads_right[key], RTOL, mutants, "train-wrong")
    return rec.outcome
