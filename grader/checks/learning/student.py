"""The student side of `network.learns`: the network it trains, and the run the worker reports.

The driver (grader/sandbox/ops_learning.py) is defined in the student's namespace and runs many
`train` steps per request (see `grader.checks.learning` for why); the grader only reads back plain
arrays and checks their shapes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ...errors import StudentFailure
from .data import LearningData, LearningParams
from ...sandbox.session import Remote
from ..base import CheckContext, new_dense, require_class, require_function, set_params
from .plan import Params, Plan

__all__ = ["Inputs", "worker_inputs", "StudentRun", "build_network", "run_student", "student_activations", "unpack"]

WATCHED_CALLS = ("Dense.", "ReLU.", "forward(", "train(")
STOPPED_BY = {"timeout": "your code ran past its time limit", "crash": "the process running your code died",
              "memory-limit": "your code ran out of memory"}
"""Why a run stopped, per failure code ("exception": train raised; any other: the error the message goes on with)."""
PROJECTION_SLACK = 2.0
"""A run stops once its cost per step so far puts all the steps above this many times the budget (the
first steps cost more than the later ones: warm-up)."""
DRIVER_LABEL = "grader learning driver"
"""Where the driver's frames show in tracebacks ("<submission grader learning driver>"): its source is
grader/sandbox/ops_learning.py's DRIVER_SOURCE."""


def build_network(ctx: CheckContext, plan: Plan, params: Params) -> Remote:
    """The student's Dense and ReLU, in the plan's layout, holding exactly `params`."""
    layers, dense = [], iter(zip(plan.sizes, plan.sizes[1:], params))
    for kind in plan.kinds:
        if kind == "relu":
            require_class(ctx, "ReLU")
            layers.append(ctx.session.new("ReLU"))
            continue
        n_in, n_out, (W, b) = next(dense)
        layer = new_dense(ctx, n_in, n_out, learning_rate=plan.learning_rate)
        set_params(ctx, layer, W, b)
        layers.append(layer)
    return ctx.session.make_list(layers)


def unpack(plan: Plan, row: np.ndarray, transposed: bool) -> Params:
    """One snapshot row back into (W, b) per Dense layer, in the assignment's (in, out) layout."""
    params, at = [], 0
    for n_in, n_out in zip(plan.sizes, plan.sizes[1:]):
        W = row[at:at + n_in * n_out].reshape((n_out, n_in) if transposed else (n_in, n_out))
        at += n_in * n_out
        params.append((W.T if transposed else W, row[at:at + n_out]))
        at += n_out
    return params


@dataclass(frozen=True)
class StudentRun:
    losses: np.ndarray
    """What train returned at every step done (NaN where it returned no number)."""
    reported: np.ndarray
    """1 where train returned a number (or per-sample losses), 0 elsewhere."""
    snapshots: np.ndarray
    """(steps done, parameters): every Dense layer's weights and biases after every step."""
    logits: Any
    """forward(network, X_val)[-1] after training; None when the run stopped early."""
    low_precision: bool
    """The loss or the parameters were float32 (or narrower)."""
    failure: StudentFailure | None = None
    """What stopped the run early (an exception in train), after the steps above."""
    stop: str = ""
    """Why the run stopped before the plan's last step: "time-budget", "too-slow" or "raised"; "" when it ran them all."""
    spent: float = 0.0
    """Seconds the run cost (`clock`) when it stopped."""
    clock: str = "CPU"
    """"CPU" (the worker's CPU seconds) or "wall" (where the kernel does not count them)."""
    failed_in: tuple[int, int] = (1, 1)
    """The steps (1-based, inclusive) of the request `failure` happened in: one step after an exception (the
    steps before it come back), the request's steps after a timeout or a crash (they are lost)."""

    @property
    def done(self) -> int:
        return len(self.snapshots)

    def summary(self, plan: Plan, budget: float) -> str:
        """One sentence: how many steps ran, and why the run stopped (what the report states for every run)."""
        seconds = f"{budget:g} s of CPU" if self.clock == "CPU" else f"{budget:g} s"
        if not self.stop:
            after = "" if self.failure is None else f"; then forward(network, X_val) raised {self.failure.error_type or 'an error'}"
            return f"ran all {plan.steps} steps{after}"
        ran = f"ran {self.done} of {plan.steps} steps; stopped because "
        if self.stop == "time-budget":
            return ran + f"the time budget of {seconds} was spent"
        if self.stop == "too-slow":
            per_step = self.spent / max(self.done, 1)
            return ran + (f"the time budget of {seconds} would not last: at {per_step:.2g} s a step, the {plan.steps} steps "
                          f"need about {per_step * plan.steps:.2g} s")
        failure, (a, b) = self.failure, self.failed_in
        at = f" at step {a}" if a == b else f" during steps {a}-{b}"
        if failure is None or failure.code == "exception":
            return ran + f"train raised {getattr(failure, 'error_type', '') or 'an error'}{at}"
        return ran + (STOPPED_BY[failure.code] + at if failure.code in STOPPED_BY else "of this error")


@dataclass(frozen=True)
class Inputs:
    """The run's inputs as the worker receives them: codes into a table of distinct values where that is exact."""

    table: np.ndarray | None
    """The distinct input values; None: X_train and X_val travel as they are."""
    X_train: np.ndarray
    X_val: np.ndarray


def worker_inputs(data: LearningData) -> Inputs:
    """Digits (pixels k/16) have 17 distinct values, MNIST 256: one byte per input instead of eight (the
    inputs were ~1 MB a submission). Kept only where the codes give back the very same bits."""
    both = np.concatenate([data.X_train.ravel(), data.X_val.ravel()])
    table, codes = np.unique(both, return_inverse=True)
    if len(table) > 256 or not np.array_equal(table[codes].view(np.int64), both.view(np.int64)):
        return Inputs(None, data.X_train, data.X_val)
    codes = codes.astype(np.uint8)
    return Inputs(table, codes[:data.X_train.size].reshape(data.X_train.shape), codes[data.X_train.size:].reshape(data.X_val.shape))


def run_student(ctx: CheckContext, plan: Plan, data: LearningData, params: LearningParams, inputs: Inputs) -> StudentRun:
    """Train in chunks of steps, one request each; stop after the chunk that exceeds the time budget,
    or as soon as the cost per step so far says the whole plan cannot fit in PROJECTION_SLACK × the
    budget (a triple Python loop stops after the first chunk instead of spending the budget). The
    first chunk is small, and its cost sizes the next ones, so slow code overshoots the budget by
    about one step, not one chunk.

    A run that stops early does not pass (the check skips no condition for a run that passes): the
    budget is generous for honest slow code (a per-sample loop needs ~0.06 s of the 1 s), so what it
    stops is code far slower than that or code that spends its time instead of learning. The grader
    reads the clock, not the worker. The budget counts the worker's CPU seconds where the kernel
    counts them (its cgroup), so a busy machine (the other jobs of a batch) does not change how many
    steps run; elsewhere wall seconds.
    """
    require_function(ctx, "train")
    require_function(ctx, "forward")
    for label, failure in ctx.session.hung.items():
        if label.startswith(WATCHED_CALLS):
            raise failure  # it hung in an earlier check: do not wait for it again
    network = build_network(ctx, plan, list(plan.initial))
    ctx.session.install("learning_driver", DRIVER_LABEL)
    start, table = ("_grader_learning_start", ()) if inputs.table is None else ("_grader_learning_start_coded", (inputs.table,))
    ctx.session.call(start, network, plan.dense_positions, *table, inputs.X_train, data.y_train, plan.order,
                     plan.bounds, inputs.X_val, plan.convention == "sum", what="setting up the learning run")
    width = sum(n_in * n_out + n_out for n_in, n_out in zip(plan.sizes, plan.sizes[1:]))
    parts: list[list[np.ndarray]] = []
    spent, clock = _spending(ctx)
    failure, stop, used, failed_in = None, "", 0.0, (1, 1)
    first, size = 0, min(params.first_steps, params.steps_per_request)
    while first < plan.steps:
        last = min(first + size, plan.steps)
        try:
            reply = ctx.session.call("_grader_learning_steps", first, last, what=f"train(network, X, y) on {data.name}", timeout=params.timeout)
        except StudentFailure as raised:
            partial = _partial(ctx, raised, width)
            if partial is not None:
                parts.append(partial)
            if not parts:
                raise
            failure, stop = raised, "raised"  # the steps before it are still compared: a mistake may show there first
            done = sum(len(p[0]) for p in parts)
            failed_in = (done + 1, done + 1 if raised.code == "exception" else last)
            break
        parts.append(_checked(reply, last - first, width))
        first, used = last, spent()
        if first == plan.steps:
            break
        if used >= params.time_budget:  # >=: a budget of 0 stops after the first request even if the count has not moved yet
            stop = "time-budget"
            break
        if used / first * plan.steps > PROJECTION_SLACK * params.time_budget:
            stop = "too-slow"
            break
        # The next request fits what is left of the budget at the cost per step seen so far.
        size = max(1, min(params.steps_per_request, int((params.time_budget - used) / max(used / first, 1e-9))))
    done = sum(len(p[0]) for p in parts)
    logits = None
    if done == plan.steps:
        try:
            logits = ctx.session.call("_grader_learning_predict", what="forward(network, X_val)")
        except StudentFailure as raised:
            failure = raised  # every step ran (stop stays ""): the held-out prediction failed
    return StudentRun(np.concatenate([p[0] for p in parts]).astype(np.float64, copy=False), np.concatenate([p[1] for p in parts]),
                      np.concatenate([p[2] for p in parts]).astype(np.float64, copy=False), logits, any(bool(np.asarray(p[3]).any()) for p in parts),
                      failure, stop, used, clock, failed_in)


def _checked(reply: Any, count: int, width: int) -> list[np.ndarray]:
    """A request's reply, [losses, reported, snapshots, low], if it has the shapes `count` steps give."""
    shapes = [(count,), (count,), (count, width)]
    if not isinstance(reply, list) or len(reply) != 4 or any(not isinstance(a, np.ndarray) or a.shape != s or a.dtype.kind not in "biuf" for a, s in zip(reply, shapes)):
        raise StudentFailure("crash", "the learning run sent back a malformed reply (replies are forged only by hostile code).")
    return reply


def _partial(ctx: CheckContext, failure: StudentFailure, width: int) -> list[np.ndarray] | None:
    """The steps a request took before train raised (the worker is alive only after an exception), or None."""
    if failure.code != "exception":
        return None
    try:
        reply = ctx.session.call("_grader_learning_partial", what="the learning run's steps before the error")
    except StudentFailure:
        return None
    count = len(reply[0]) if isinstance(reply, list) and reply and isinstance(reply[0], np.ndarray) else -1
    return _checked(reply, count, width) if count > 0 else None


def _spending(ctx: CheckContext) -> tuple[Callable[[], float], str]:
    """Seconds the training has cost so far: the worker's CPU time ("CPU"), or wall time ("wall") without it."""
    worker = ctx.session.worker
    cpu_start = worker.cpu_seconds(settled=False) if worker is not None else None
    wall_start = time.perf_counter()

    def spent() -> float:
        now = worker.cpu_seconds(settled=False) if cpu_start is not None and worker.alive else None
        return now - cpu_start if now is not None else time.perf_counter() - wall_start

    return spent, "wall" if cpu_start is None else "CPU"


def student_activations(ctx: CheckContext, plan: Plan, params: Params, X: np.ndarray) -> Any:
    """forward(network, X) of fresh student layers holding `params` (to find where a step went wrong)."""
    return ctx.session.call("forward", build_network(ctx, plan, params), X, what="forward(network, X)")

