"""The network code around the layer: ReLU, forward(network, X) and train(network, X, y).

`forward` and `train` are judged on networks of the grader's own *probe layers* (a
diagonal affine layer with weights/biases and a leaky activation), injected into the
worker next to the submission. So a bug in the student's Dense is charged to the Dense
checks only, and the expected results are computed here in numpy. The probes are not the
assignment's solution: nothing of the reference enters the worker.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..compare import relative_error
from ..convention import notebook_convention
from ..errors import StudentFailure
from ..oracle import ref
from ..sandbox.batching import BatchRef, CallBatch
from . import register
from .base import CheckContext, Outcome, Recorder, require_class, require_function
from .batched import DenseBatch, Sent, each_run
from .learning.student import DRIVER_LABEL

RTOL = 1e-6
NETWORK_RTOL = 1e-5
PROBE_SOURCE = '''
import numpy as _np


class _GraderProbeAffine:
    """Elementwise affine probe layer: out = input * weights + biases (SGD step in backward)."""

    def __init__(self, weights, biases, learning_rate):
        self.weights, self.biases, self.learning_rate = weights, biases, learning_rate

    def forward(self, input):
        return input * self.weights + self.biases

    def backward(self, input, grad_output):
        grad_input = grad_output * self.weights
        self.weights = self.weights - self.learning_rate * (input * grad_output).sum(axis=0)
        self.biases = self.biases - self.learning_rate * grad_output.sum(axis=0)
        return grad_input


class _GraderProbeLeaky:
    """Leaky activation probe: out = input where positive, 0.25 * input elsewhere."""

    def forward(self, input):
        return _np.where(input > 0, input, 0.25 * input)

    def backward(self, input, grad_output):
        return grad_output * _np.where(input > 0, 1.0, 0.25)
'''


@register("relu.forward")
def check_relu(ctx: CheckContext) -> Outcome:
    rec = Recorder()
    runs = []
    for shape in ctx.param("shapes", [[7, 5], [3, 11]]):
        X = ctx.rng.standard_normal(shape)
        X[0, 0] = 0.0
        runs.append((shape, X))

    def add(batch: DenseBatch, shape: Any, X: np.ndarray) -> None:
        require_class(ctx, "ReLU")
        batch.call(batch.new("ReLU"), X, method="forward", what="ReLU.forward")

    for (shape, X), out in zip(runs, each_run(ctx, runs, add, 2, lambda values, *run: values[-1])):  # one round trip
        if isinstance(out, StudentFailure):
            rec.student_failure(out)
            continue
        rec.compare(f"ReLU output {tuple(shape)}", out, ref.relu_forward(X), RTOL, [], "relu-wrong")
    return rec.outcome


class _Probe:
    """The grader-side twin of a probe layer: computes what the worker's copy should do."""

    def __init__(self, weights: np.ndarray | None = None, biases: np.ndarray | None = None, learning_rate: float = 0.0) -> None:
        self.weights, self.biases, self.learning_rate = weights, biases, learning_rate

    @property
    def affine(self) -> bool:
        return self.weights is not None

    def forward(self, X: np.ndarray) -> np.ndarray:
        return X * self.weights + self.biases if self.affine else np.where(X > 0, X, 0.25 * X)

    def backward(self, X: np.ndarray, G: np.ndarray) -> np.ndarray:
        if not self.affine:
            return G * np.where(X > 0, 1.0, 0.25)
        grad_input = G * self.weights
        self.weights = self.weights - self.learning_rate * (X * G).sum(axis=0)
        self.biases = self.biases - self.learning_rate * G.sum(axis=0)
        return grad_input


def _probe_network(ctx: CheckContext, width: int, depth: int) -> tuple[CallBatch, BatchRef, list[BatchRef], list[_Probe]]:
    """Affine, leaky, affine, ... in the worker (made by the batch it returns, with the network
    list: the caller adds its calls and sends it), and their twins here."""
    ctx.session.define(PROBE_SOURCE, "grader probe layers")
    batch = CallBatch(ctx.session)
    remotes, twins = [], []
    for i in range(depth):
        if i:
            remotes.append(batch.new("_GraderProbeLeaky"))
            twins.append(_Probe())
        weights, biases = 1.0 + 0.5 * ctx.rng.standard_normal(width), 0.3 * ctx.rng.standard_normal(width)
        remotes.append(batch.new("_GraderProbeAffine", weights, biases, 0.1))
        twins.append(_Probe(weights, biases, 0.1))
    return batch, batch.make_list(remotes), remotes, twins


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__


@register("network.forward")
def check_network_forward(ctx: CheckContext) -> Outcome:
    """forward(network, X) returns every activation, in order."""
    rec = Recorder()
    width = ctx.param("width", 5)
    X = ctx.rng.standard_normal((ctx.param("batch", 7), width))
    try:
        require_function(ctx, "forward")
        batch, network, _, twins = _probe_network(ctx, width, ctx.param("depth", 3))
        call = batch.call("forward", network, X, what="forward(network, X)")
        got = batch.run()[call]
    except StudentFailure as failure:
        rec.student_failure(failure)
        return rec.outcome
    expected, current = [], X
    for twin in twins:
        current = twin.forward(current)
        expected.append(current)
    if not isinstance(got, list) or len(got) != len(expected):
        rec.fail(f"forward(network, X) returned {_kind(got)}; expected a list of {len(expected)} activations, one per layer, in order.", "network-forward-wrong")
        return rec.outcome
    for i, (a, e) in enumerate(zip(got, expected)):
        rec.compare(f"activation {i}", a, e, NETWORK_RTOL, [], "network-forward-wrong")
    return rec.outcome


def given_version(ctx: CheckContext) -> str:
    """The version whose given loss gradient `train` is judged with: the notebook's own, as its
    gradient (run in the sandbox) shows, divided by the batch size ("sum") or not ("mean"); the
    rubric's where that gradient is absent, raises or is neither (edited given code)."""
    return notebook_convention(ctx.session, ctx.seed, ctx.cache) or ctx.convention


def _loss_grad(version: str, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The given loss gradient of that version, from the reference, never from the submission
    (a submission that redefines it to return zeros must not make a no-op `train` look right)."""
    grad = ref.grad_softmax_crossentropy_with_logits(logits, y)
    return grad * logits.shape[0] if version == "mean" else grad


_VERSION_WORDS = {"sum": "divided by the batch size", "mean": "not divided by the batch size"}


def _comparable(actual: Any, desired: np.ndarray) -> bool:
    """Whether a value read back from the worker (any type) is a numeric array of the expected shape."""
    return isinstance(actual, np.ndarray) and actual.shape == desired.shape and actual.dtype.kind in "biuf"


def _close(actual: Any, desired: np.ndarray) -> bool:
    return _comparable(actual, desired) and relative_error(actual, desired) <= NETWORK_RTOL


def _unchanged(actual: Any, start: np.ndarray) -> bool:
    return isinstance(actual, np.ndarray) and np.array_equal(actual, start)


@register("train.step")
def check_train_step(ctx: CheckContext) -> Outcome:
    """One train(network, X, y) call updates every layer as a correct backward loop would.

    Only train's own logic is graded: it runs with the notebook's *given* loss and loss gradient
    of the notebook's own version (both versions are legitimate given code), put in its namespace
    by the learning driver for the call, and the expected step uses the same gradient. An edit to
    the given functions is neither rewarded nor charged here (network-learns runs them as given too)."""
    rec = Recorder()
    width = ctx.param("width", 4)
    n = ctx.param("batch", 9)
    X = ctx.rng.standard_normal((n, width))
    y = ctx.rng.integers(0, width, n)
    try:
        require_function(ctx, "train")
        batch, network, remotes, twins = _probe_network(ctx, width, ctx.param("depth", 3))
        initial = [(t.weights, t.biases) for t in twins]
        activations, current = [], X
        for twin in twins:
            current = twin.forward(current)
            activations.append(current)
        version = given_version(ctx)
        grad = _loss_grad(version, activations[-1], y)
        inputs = [X] + activations
        for i in range(len(twins))[::-1]:
            grad = twins[i].backward(inputs[i], grad)
        ctx.session.install("learning_driver", DRIVER_LABEL)
        trained = batch.call("_grader_train_given", network, X, y, version == "sum", what="train(network, X, y)")
        params = {i: batch.get(remote, "weights", "biases") for i, (remote, twin) in enumerate(zip(remotes, twins)) if twin.affine}
        sent = Sent(*batch.run_partial())
        sent[trained]  # train's failure, if any, is raised before any layer is read
        for i, (twin, start) in enumerate(zip(twins, initial)):
            if not twin.affine:
                continue
            W, b = sent[params[i]]
            if _close(W, twin.weights) and _close(b, twin.biases):
                rec.ok()
            elif _unchanged(W, start[0]) and _unchanged(b, start[1]):
                rec.fail(f"train(network, X, y) never updated layer {i}: the backward loop must reach every layer, including layer 0.", "train-skips-layer")
            else:
                error = f" (relative error {relative_error(W, twin.weights):.3g})" if _comparable(W, twin.weights) else ""
                given = "your notebook's given loss gradient" if ctx.cache["notebook_convention"] else \
                    "the assignment's given loss gradient (your notebook's own is missing or edited)"
                rec.fail(f"After train(network, X, y), the parameters of layer {i} differ from one correct training step{error}, "
                         f"with {given}, {_VERSION_WORDS[version]}; pass that gradient to the last layer's backward and each "
                         f"backward's result to the layer below it.", "train-wrong")
    except StudentFailure as failure:
        rec.student_failure(_train_failure(ctx, failure, width, n))
    return rec.outcome


def _train_failure(ctx: CheckContext, failure: StudentFailure, width: int, n: int) -> StudentFailure:
    """train's failure, named network-forward-wrong when the student's forward caused it."""
    if failure.code == "exception" and _network_forward_broken(ctx, width, n):
        return StudentFailure("network-forward-wrong", failure.message + " Your train calls forward(network, X), which does not return one activation per layer, so the backward loop runs out of inputs.", failure.traceback)
    return failure


def _network_forward_broken(ctx: CheckContext, width: int, n: int) -> bool:
    """Whether the student's forward(network, X) returns the wrong number of activations.

    When train raises because of it, network-forward-wrong explains train's failure and a
    bare "exception" would send the student to the wrong function.
    """
    try:
        batch, network, remotes, _ = _probe_network(ctx, width, ctx.param("depth", 3))
        call = batch.call("forward", network, ctx.rng.standard_normal((n, width)), what="forward(network, X)")
        got = batch.run()[call]
    except StudentFailure:
        return False
    return not isinstance(got, list) or len(got) != len(remotes)


def _is_number(value: Any) -> bool:
    """A finite real number: a Python or numpy scalar, or an array holding one value."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return bool(np.isfinite(value))
    return isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf" and bool(np.isfinite(value).all())


@register("train.runs")
def check_train_runs(ctx: CheckContext) -> Outcome:
    """train(network, X, y) runs on a small network and returns the mean loss, a number.

    Public and reference-free: its values (train-step, network-learns) are graded after the
    deadline, but a placeholder, a `pass` or a wrong kind of result is named here."""
    rec = Recorder()
    width, n = ctx.param("width", 4), ctx.param("batch", 6)
    X = ctx.rng.standard_normal((n, width))
    y = ctx.rng.integers(0, width, n)
    try:
        require_function(ctx, "train")
        batch, network, _, _ = _probe_network(ctx, width, ctx.param("depth", 3))
        call = batch.call("train", network, X, y, what="train(network, X, y)")
        got = batch.run()[call]
    except StudentFailure as failure:
        rec.student_failure(_train_failure(ctx, failure, width, n))
        return rec.outcome
    if _is_number(got):
        rec.ok()
    elif got is None:
        rec.fail("train(network, X, y) returned None; it should return the batch's mean loss (a number): is the `return` missing, or is `pass` still there?", "not-implemented")
    else:
        rec.fail(f"train(network, X, y) returned {_kind(got)}; it should return the batch's mean loss, one finite number.", "train-wrong")
    return rec.outcome
