"""The checks' loops of independent calls, sent as batches (grader/sandbox/batching.py).

Why: gradcheck evaluates the student's forward ~50 times and batch semantics runs ~10
backward passes, each 2-4 round trips when sent one by one. Here each loop is one request
(or one per failure), and the results, failures and their order are those of the
one-by-one calls (`run_backward`, `call_method`): the same translations name the mistake,
a failure is charged to the case it happened in, and later cases still run.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ..errors import StudentFailure
from ..sandbox.batching import BatchRef, CallBatch
from ..sandbox.session import Remote
from .base import BackwardResult, CheckContext, DenseCase, backward_result, call_method, constructor_failure, make_dense, method_failure, read_params, require_class, run_backward, stopped_backward, stored_params

__all__ = ["backward_each", "backward_in_order", "outputs_each", "each_run", "forwards_at", "DenseBatch", "Sent"]

def backward_each(ctx: CheckContext, runs: list[tuple[DenseCase, float]], stop: bool = False) -> list[BackwardResult | StudentFailure]:
    """`run_backward` for each (case, learning rate): its result or the failure it raised.
    `stop`: end at the first failure (the callers that give up there never ran the rest)."""

    def add(batch: DenseBatch, case: DenseCase, lr: float) -> None:
        layer = batch.layer(case, lr)
        batch.method(layer, "backward", case.X, case.G, return_args=True)
        batch.params(layer)

    def finish(values: list[Any], case: DenseCase, lr: float) -> BackwardResult:
        _, _, (grad_input, (X_after, G_after)), (W, b) = values
        return backward_result(case, lr, grad_input, X_after, G_after, W, b)

    def failed(failure: StudentFailure, step: int) -> BackwardResult:
        if step in (1, 2):  # the assignment or backward: a shape assert still tells the gradients
            return stopped_backward(failure)
        raise failure

    return each_run(ctx, runs, add, 4, finish, failed, lambda *run: run_backward(ctx, *run), stop)


def outputs_each(ctx: CheckContext, runs: list[tuple[DenseCase, float, np.ndarray]]) -> list[Any]:
    """Dense.forward(X) of a fresh layer holding (case.W, case.b) for each (case, learning rate,
    X): its output or the failure `make_dense` + `call_method` raised."""

    def add(batch: DenseBatch, case: DenseCase, lr: float, X: np.ndarray) -> None:
        batch.method(batch.layer(case, lr), "forward", X)

    return each_run(ctx, runs, add, 3, lambda values, *run: values[-1], alone=lambda case, lr, X: call_method(ctx, make_dense(ctx, case, lr), "forward", X))


def each_run(
    ctx: CheckContext,
    runs: list[tuple[Any, ...]],
    add: Callable[..., None],
    per_run: int,
    finish: Callable[..., Any],
    failed: Callable[[StudentFailure, int], Any] | None = None,
    alone: Callable[..., Any] | None = None,
    stop: bool = False,
) -> list[Any]:
    """Each run's result (`add` puts `per_run` calls in a batch, `finish` reads them) or its
    failure (`failed`, given it and the step it happened at, may still make a result); after a
    failure the later runs go in a new batch. With `alone` (how a run is made one call at a
    time), the first run goes alone while the weights' storage is not yet probed, so the probe
    happens where it did. `stop`: end at the first failure."""
    done: list[Any] = []
    pending = list(runs)
    while pending and not (stop and done and isinstance(done[-1], StudentFailure)):
        if alone is not None and "weights_transposed" not in ctx.cache:
            done.append(_attempt(lambda: alone(*pending[0])))
            pending.pop(0)
            continue
        batch = DenseBatch(ctx)
        try:
            for run in pending:
                add(batch, *run)
        except StudentFailure as failure:  # Dense is missing: every run fails the same way
            done.append(failure)
            pending.pop(0)
            continue
        sent = batch.run()
        finished = len(sent.values) // per_run
        for index, run in enumerate(pending[:finished]):
            done.append(finish(sent.values[index * per_run : (index + 1) * per_run], *run))
        if sent.failure is None:
            break
        failure = sent.failure
        done.append(_attempt(lambda: failed(failure, len(sent.values) % per_run)) if failed else failure)
        pending = pending[finished + 1 :]
    return done


def backward_in_order(ctx: CheckContext, runs: list[tuple[DenseCase, float]]) -> Iterator[BackwardResult]:
    """`run_backward` for each (case, learning rate), sent together; a failure is raised when
    its turn comes, so what the caller does with the results before it still happens."""
    for result in backward_each(ctx, runs, stop=True):
        if isinstance(result, StudentFailure):
            raise result
        yield result


def _attempt(run: Callable[[], Any]) -> Any:
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


class Sent:
    """A batch's results as the one-by-one calls would give them: `sent[i]` is call i's value,
    or raises the failure that stopped the batch at or before call i (read them in order)."""

    def __init__(self, values: list[Any], failure: StudentFailure | None) -> None:
        self.values, self.failure = values, failure

    def __getitem__(self, index: int) -> Any:
        if index < len(self.values):
            return self.values[index]
        assert self.failure is not None, "a batch returned fewer results than it was sent, without a failure"
        raise self.failure


class DenseBatch:
    """Fresh layers and their method calls for one round trip, with the failures the one-by-one
    helpers (`make_dense`, `call_method`, `get_params`) would raise."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self.batch = CallBatch(ctx.session)
        self._translate: list[Callable[[StudentFailure], StudentFailure] | None] = []
        self._read: dict[int, Callable[[Any], Any]] = {}

    def layer(self, case: DenseCase, learning_rate: float) -> BatchRef:
        """`make_dense`: a new Dense holding case.W and case.b."""
        require_class(self.ctx, "Dense")
        ref = self.batch.new("Dense", *case.W.shape, learning_rate=learning_rate)
        self._added(constructor_failure)
        self.batch.set(ref, **stored_params(self.ctx, case.W, case.b))
        self._translate.append(None)  # sent alone, it travels with the next request: that one's names apply
        return ref

    def method(self, layer: BatchRef, method: str, *args: Any, return_args: bool = False) -> int:
        """`call_method`: the index of its result."""
        index = self.batch.call(layer, *args, method=method, what=f"Dense.{method}", return_args=return_args)
        self._added(lambda failure: method_failure(failure, method, len(args)))
        return index

    def new(self, class_name: str, *args: Any, **kwargs: Any) -> BatchRef:
        """`StudentSession.new` (its failures as they come)."""
        ref = self.batch.new(class_name, *args, **kwargs)
        self._added(lambda failure: failure)
        return ref

    def call(self, target: BatchRef, *args: Any, method: str, what: str) -> int:
        """`StudentSession.call` (its failures as they come)."""
        index = self.batch.call(target, *args, method=method, what=what)
        self._added(lambda failure: failure)
        return index

    def get(self, obj: BatchRef, *attrs: str) -> int:
        """`StudentSession.get` (its failures as they come)."""
        index = self.batch.get(obj, *attrs)
        self._added(lambda failure: failure)
        return index

    def params(self, layer: BatchRef) -> int:
        """`get_params`: the index of its (W, b)."""
        index = self.get(layer, "weights", "biases")
        self._read[index] = lambda stored: read_params(self.ctx, stored)
        return index

    def _added(self, translate: Callable[[StudentFailure], StudentFailure]) -> None:
        for index in range(len(self._translate) - 1, -1, -1):  # assignments waiting for this request
            if self._translate[index] is not None:
                break
            self._translate[index] = translate
        self._translate.append(translate)

    def run(self) -> Sent:
        values, failure = self.batch.run_partial()
        values = [self._read[i](v) if i in self._read else v for i, v in enumerate(values)]
        if failure is not None:
            failure = (self._translate[len(values)] or (lambda f: f))(failure) if len(values) < len(self._translate) else failure
        return Sent(values, failure)
