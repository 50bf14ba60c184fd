"""The checks' loops of independent calls, sent as batches (grader/sandbox/batching.py).

Why: gradcheck evaluates the student's forward ~50 times and batch semantics runs ~10
backward passes, each 2-4 round trips when sent one by one. Here each loop is one request
(or one per failure), and the results, failures and their order are those of the
one-by-one calls (`run_backward`, `call_method`): the same translations name the mistake,
a failure is charged to the case it happened in, and later cases still run.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..errors import StudentFailure
from ..sandbox.batching import CallBatch
from ..sandbox.session import Remote
from .base import BackwardResult, CheckContext, DenseCase, backward_result, constructor_failure, method_failure, read_params, require_class, run_backward, stopped_backward, stored_params

__all__ = ["backward_each", "backward_in_order", "forwards_at"]

_SUBS_PER_BACKWARD = 4
"""new Dense, set its parameters, backward, read the parameters back."""


def backward_each(ctx: CheckContext, runs: list[tuple[DenseCase, float]], stop: bool = False) -> list[BackwardResult | StudentFailure]:
    """`run_backward` for each (case, learning rate): its result or the failure it raised.
    `stop`: end at the first failure (the callers that give up there never ran the rest)."""
    done: list[BackwardResult | StudentFailure] = []
    pending = list(runs)
    while pending and not (stop and done and isinstance(done[-1], StudentFailure)):
        if "weights_transposed" not in ctx.cache:  # the storage probe runs inside the first one, as before
            done.append(_attempt(lambda: run_backward(ctx, *pending[0])))
            pending.pop(0)
            continue
        try:
            require_class(ctx, "Dense")
        except StudentFailure as failure:
            done.append(failure)
            pending.pop(0)
            continue
        batch = CallBatch(ctx.session)
        for case, lr in pending:
            layer = batch.new("Dense", *case.W.shape, learning_rate=lr)
            batch.set(layer, **stored_params(ctx, case.W, case.b))
            batch.call(layer, case.X, case.G, method="backward", what="Dense.backward", return_args=True)
            batch.get(layer, "weights", "biases")
        values, failure = batch.run_partial()
        finished = len(values) // _SUBS_PER_BACKWARD
        for index, (case, lr) in enumerate(pending[:finished]):
            _, _, (grad_input, (X_after, G_after)), stored = values[index * _SUBS_PER_BACKWARD : (index + 1) * _SUBS_PER_BACKWARD]
            done.append(backward_result(case, lr, grad_input, X_after, G_after, *read_params(ctx, stored)))
        if failure is None:
            break
        done.append(_attempt(lambda: _failed_backward(failure, len(values) % _SUBS_PER_BACKWARD)))
        pending = pending[finished + 1 :]
    return done


def backward_in_order(ctx: CheckContext, runs: list[tuple[DenseCase, float]]) -> Iterator[BackwardResult]:
    """`run_backward` for each (case, learning rate), sent together; a failure is raised when
    its turn comes, so what the caller does with the results before it still happens."""
    for result in backward_each(ctx, runs, stop=True):
        if isinstance(result, StudentFailure):
            raise result
        yield result


def _failed_backward(failure: StudentFailure, step: int) -> BackwardResult:
    """What `run_backward` makes of a failure at `step` of its four requests."""
    if step == 0:
        raise constructor_failure(failure)
    if step in (1, 2):  # the parameters' assignment travels with backward when sent alone
        return stopped_backward(method_failure(failure, "backward", 2))
    raise failure


def _attempt(run: Any) -> BackwardResult | StudentFailure:
    try:
        return run()
    except StudentFailure as failure:
        return failure


def forwards_at(ctx: CheckContext, layer: Remote, points: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[list[Any], StudentFailure | None]:
    """Dense.forward(X) of `layer` given each (X, W, b): the outputs before the first failure
    and that failure, as `set_params` + `call_method` one by one would raise it."""
    batch = CallBatch(ctx.session)
    for X, W, b in points:
        batch.set(layer, **stored_params(ctx, W, b))
        batch.call(layer, X, method="forward", what="Dense.forward")
    values, failure = batch.run_partial()
    return values[1::2], (method_failure(failure, "forward", 1) if failure is not None else None)
