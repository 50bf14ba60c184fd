"""The learning check's fixed run and its reference side: the plan, and correct steps in numpy.

Grader process only: nothing here enters the worker. `reference_step` also returns the
size of each step's terms, which the comparison's rounding tolerance is relative to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import LearningData, LearningParams
from ...oracle import ref

__all__ = ["Params", "Plan", "make_plan", "Step", "reference_forward", "reference_step", "ReferenceRun", "reference_run", "accuracy"]

Params = list[tuple[np.ndarray, np.ndarray]]
"""(W (in, out), b (out,)) of every Dense layer, in network order."""


@dataclass(frozen=True)
class Plan:
    """One fixed training run: the network's layout, its initial parameters and the batch order."""

    kinds: tuple[str, ...]
    """"dense" or "relu" per layer, in order."""
    sizes: tuple[int, ...]
    """Widths: inputs, hidden..., classes."""
    initial: tuple[tuple[np.ndarray, np.ndarray], ...]
    order: np.ndarray
    """Sample indices of every epoch's permutation, one after the other."""
    bounds: np.ndarray
    """Batch s is order[bounds[s]:bounds[s + 1]]."""
    batches_per_epoch: int
    learning_rate: float
    convention: str

    @property
    def dense_positions(self) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k == "dense"]

    @property
    def steps(self) -> int:
        return len(self.bounds) - 1

    def batch(self, data: LearningData, step: int) -> tuple[np.ndarray, np.ndarray]:
        index = self.order[self.bounds[step]:self.bounds[step + 1]]
        return data.X_train[index], data.y_train[index]

    def label(self, position: int) -> str:
        if self.kinds[position] == "relu":
            return f"layer {position} (ReLU)"
        d = self.dense_positions.index(position)
        return f"layer {position} (Dense {self.sizes[d]}→{self.sizes[d + 1]})"

    def when(self, step: int) -> str:
        epoch, batch = divmod(step, self.batches_per_epoch)
        return f"step {step + 1} of {self.steps} (epoch {epoch + 1}, batch {batch + 1})"


def make_plan(params: LearningParams, data: LearningData, convention: str) -> Plan:
    sizes = (data.X_train.shape[1], *params.hidden, data.classes)
    rng = np.random.default_rng([params.seed, 1])
    initial = tuple((rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in), np.zeros(n_out)) for n_in, n_out in zip(sizes, sizes[1:]))
    n = len(data.X_train)
    per_epoch = -(-n // params.batch_size)
    order = np.concatenate([rng.permutation(n) for _ in range(params.epochs)])
    starts = [e * n + min(b * params.batch_size, n) for e in range(params.epochs) for b in range(per_epoch)]
    bounds = np.array(starts + [params.epochs * n], dtype=np.int64)
    kinds = ("dense", "relu") * len(params.hidden) + ("dense",)
    return Plan(kinds, sizes, initial, order, bounds, per_epoch, params.learning_rate, convention)


def reference_forward(plan: Plan, params: Params, X: np.ndarray) -> list[np.ndarray]:
    activations, dense = [], iter(params)
    for kind in plan.kinds:
        X = ref.dense_forward(X, *next(dense)) if kind == "dense" else ref.relu_forward(X)
        activations.append(X)
    return activations


@dataclass(frozen=True)
class Step:
    """One correct training step, with the size of its terms (what rounding is relative to)."""

    loss: float
    """The batch's mean loss before the step."""
    params: Params
    """The parameters after the step."""
    loss_scale: float
    """Mean of |picked logit| + |log-sum-exp|: the loss is their difference."""
    update_scales: list[tuple[float, float]]
    """Per Dense layer, ‖lr·|X|ᵀ|G|‖ and ‖lr·Σ|G|‖ with |G| = (softmax + one-hot)/N pushed back through
    |W|ᵀ: the bound on what rounding can change in the update, even where its terms cancel (a confident
    network's softmax − one-hot is ~0; float32 rounds it to exactly 0)."""


def reference_step(plan: Plan, params: Params, X: np.ndarray, y: np.ndarray) -> Step:
    """One correct train(network, X, y) from `params`."""
    activations = reference_forward(plan, params, X)
    inputs, logits = [X] + activations, activations[-1]
    per_batch = len(y) if plan.convention == "mean" else 1
    grad = ref.grad_softmax_crossentropy_with_logits(logits, y) * per_batch
    size = ref.grad_softmax_crossentropy_with_logits(logits, y) * per_batch + 2 * (np.arange(logits.shape[1]) == y[:, None]) * per_batch / len(y)
    new, scales, d = list(params), [], len(params)
    for position in range(len(plan.kinds))[::-1]:
        if plan.kinds[position] == "relu":
            grad, size = ref.relu_backward(inputs[position], grad), ref.relu_backward(inputs[position], size)
            continue
        d -= 1
        scales.append((plan.learning_rate * float(np.linalg.norm(ref.dense_grad_weights(np.abs(inputs[position]), size, plan.convention))),
                       plan.learning_rate * float(np.linalg.norm(ref.dense_grad_biases(size, plan.convention)))))
        size = ref.dense_grad_input(size, np.abs(params[d][0]))
        grad, W, b = ref.dense_sgd_step(inputs[position], *params[d], grad, plan.learning_rate, plan.convention)
        new[d] = (W, b)
    top = logits.max(axis=-1)
    loss_scale = float(np.mean(np.abs(logits[np.arange(len(y)), y]) + np.abs(top + np.log(np.exp(logits - top[:, None]).sum(axis=-1)))))
    return Step(float(np.mean(ref.softmax_crossentropy_with_logits(logits, y))), new, loss_scale, scales[::-1])


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == y))


@dataclass(frozen=True)
class ReferenceRun:
    """The reference network trained alone from the same start: what the student's run is measured against."""

    losses: np.ndarray
    final: Params
    accuracy: float


def reference_run(plan: Plan, data: LearningData, trajectory: list[Params] | None = None) -> ReferenceRun:
    """The reference trained alone; `trajectory`, when given, receives the parameters after every step."""
    params, losses = list(plan.initial), []
    for step in range(plan.steps):
        taken = reference_step(plan, params, *plan.batch(data, step))
        params = taken.params
        losses.append(taken.loss)
        if trajectory is not None:
            trajectory.append(params)
    return ReferenceRun(np.array(losses), params, accuracy(reference_forward(plan, params, data.X_val)[-1], data.y_val))
