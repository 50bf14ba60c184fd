"""`network.learns`: the student's own network trained on real handwritten digits.

The assignment's network (Dense → ReLU → Dense) is built from the student's `Dense` and
`ReLU`, given fixed initial weights, and trained with the student's `train` on a fixed
batch order; then the student's `forward` predicts a held-out set. One request runs the
whole training: a grader-written driver, defined in the student's namespace, calls
`train` for every batch and returns the loss `train` reported and every Dense layer's
parameters after every step (round trips cost ~1 ms each; one per step per layer would
cost more than the training).

For the run the driver puts the notebook's *given* loss and loss gradient in the
namespace under their usual names (and restores the student's afterwards), so a student
who redefined them is graded on the step `train` makes, not on a changed loss; the
expected side never runs student-defined loss code.

Each step is compared with a reference step taken from the student's own parameters
before that step ("teacher forcing"), not with an independent reference run. Training
amplifies rounding: two correct implementations that add in a different order (einsum,
the ones-column trick, float32) drift apart step after step, and at a high learning rate
chaotically. Compared step by step, each comparison sees one step's rounding (float64:
~1e-15 relative; float32: ~1e-6), so a relative tolerance that does not grow with the
step count separates rounding from a mistake, which changes a step by O(1) from its
first occurrence. The independent reference run gives the loss curve and the accuracy
the rubric's threshold refers to.

A run that stops before its last step (the time budget, code too slow to finish in it, train
raising, the process dying) never passes: the steps it skipped and the held-out accuracy would be
unjudged, and a `train` that is right for its first steps, then spends the budget and stops
learning, must not pass on them. The steps it took are still compared (a mistake there is named
first), and the report states how many steps ran and why the run stopped ("stop_reason").

Teacher-forced steps do not depend on each other, so `learning_screen` takes them all at
once (stacked numpy) and clears those within half the tolerance; only the steps it cannot
clear are taken one by one with the reference solution (`reference_step`), in order, and
the first that differs is explained. A correct run costs one screen (~7 ms on this project's
2-core machine) instead of 90 reference steps (~30 ms of Python and call overhead).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...compare import relative_error
from ...errors import InputError, StudentFailure
from .data import LearningData, LearningParams, dataset_version, load_learning_data
from .. import register
from ..base import CheckContext, Outcome, Recorder
from .plan import Params, Plan, ReferenceRun, accuracy, make_plan, reference_forward, reference_run, reference_step
from .screen import Batches, flagged, pack, screen, stack_batches, verify_screen
from .student import Inputs, StudentRun, worker_inputs, run_student, student_activations, unpack

__all__ = ["check_network_learns"]

UNEXPLAINING = frozenset({"float32-downcast", "python-loop", "init-scale", "weights-shape"})
"""Dense codes that cannot explain a learning failure (the grader sets the weights, hands them
over in the student's storage layout, and does not time this run)."""


# -- finding where the runs part ----------------------------------------------------------------


@dataclass(frozen=True)
class Parting:
    step: int
    message: str
    codes: tuple[str, ...]


def dense_codes(ctx: CheckContext) -> tuple[str, ...]:
    """Codes the Dense checks of this grading run found that can explain a learning failure."""
    codes: list[str] = []
    for name, result in ctx.cache.get("results", {}).items():
        function = next((c.function for c in ctx.assignment.checks if c.name == name), "")
        if function.startswith("dense.") and result.score < result.max_score:
            codes += [c for c in result.diagnoses if c not in UNEXPLAINING]
    return tuple(dict.fromkeys(codes))


def find_parting(ctx: CheckContext, plan: Plan, data: LearningData, run: StudentRun, rtol: float, batches: Batches) -> Parting | None:
    """The first step whose loss or update differs from a correct step from the same parameters.

    The screen clears steps together; the steps it cannot clear are compared exactly, in order. Step 1
    goes first, alone: most mistakes show there, and then the other steps need no screening."""
    transposed = bool(ctx.cache.get("weights_transposed", False))
    for first, last in ((0, min(run.done, 1)), (1, run.done)):
        before = pack(plan.initial, transposed)[None] if first == 0 else run.snapshots[:last - 1]
        screened = screen(plan, batches, before, run.snapshots[first:last], first, transposed)
        for step in first + flagged(screened, run.losses[first:last], run.reported[first:last], rtol):
            parting = exact_step(ctx, plan, data, run, int(step), rtol, transposed)
            if parting is not None:
                return parting
    return None


def exact_step(ctx: CheckContext, plan: Plan, data: LearningData, run: StudentRun, step: int, rtol: float, transposed: bool) -> Parting | None:
    """Step `step` against the reference solution's step from the student's parameters before it."""
    before = list(plan.initial) if step == 0 else unpack(plan, run.snapshots[step - 1], transposed)
    X, y = plan.batch(data, step)
    taken = reference_step(plan, before, X, y)
    expected, loss = taken.params, taken.loss
    after = unpack(plan, run.snapshots[step], transposed)
    loss_off = bool(run.reported[step]) and not abs(run.losses[step] - loss) <= rtol * taken.loss_scale
    # each update's error against the size of its terms, not of the (possibly cancelled) update itself
    errors = [(_norm(W - We) / max(sW, 1e-300), _norm(b - be) / max(sb, 1e-300))
              for (W, b), (We, be), (sW, sb) in zip(after, expected, taken.update_scales)]
    if loss_off or any(not (e <= rtol) for pair in errors for e in pair):
        return explain(ctx, plan, step, before, after, expected, errors, (run.losses[step], loss) if loss_off else None, X, rtol)
    return None


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(a))


def explain(ctx: CheckContext, plan: Plan, step: int, before: Params, after: Params, expected: Params,
            errors: list[tuple[float, float]], loss_off: tuple[float, float] | None, X: np.ndarray, rtol: float) -> Parting:
    """Name the layer where a step first goes wrong: forward first (layer by layer), then the updates, last layer first."""
    when = f"Trained on the same batches from the same start, your network parts from the reference at {plan.when(step)}"
    try:
        got = student_activations(ctx, plan, before, X)
    except StudentFailure as failure:
        return Parting(step, f"{when}; forward(network, X) on that batch then raised: {failure.message}", (failure.code,))
    wanted = reference_forward(plan, before, X)
    if not isinstance(got, list) or len(got) != len(wanted):
        return Parting(step, f"{when}: forward(network, X) returned {type(got).__name__} with {len(got) if isinstance(got, list) else 'no'} items, "
                       f"not a list of {len(wanted)} activations, one per layer.", ("network-forward-wrong",))
    for position, (a, e) in enumerate(zip(got, wanted)):
        error = relative_error(a, e) if isinstance(a, np.ndarray) and a.shape == e.shape else float("inf")
        if error <= rtol:
            continue
        if position + 1 < len(got) and isinstance(got[position + 1], np.ndarray) and got[position + 1].shape == wanted[position + 1].shape \
                and relative_error(got[position + 1], wanted[position + 1]) <= rtol:
            # The next layer computed the right output from it, so it was changed afterwards: in place, by that layer.
            culprit = position + 1
            codes = dense_codes(ctx) if plan.kinds[culprit] == "dense" else ()
            return Parting(step, f"{when}, in the forward pass: {plan.label(culprit)} changes its input (the output of "
                           f"{plan.label(position)}) in place, so train hands backward a changed array.", codes)
        codes = ("relu-wrong",) if plan.kinds[position] == "relu" else dense_codes(ctx)
        return Parting(step, f"{when}, in the forward pass: the output of {plan.label(position)} differs (relative error "
                       f"{error:.3g}, tolerance {rtol:g}) while its input agrees.", codes)
    if loss_off is not None:
        return Parting(step, f"{when}: train returned the loss {loss_off[0]:.6g}, but fresh layers with the same parameters give "
                       f"logits whose loss is {loss_off[1]:.6g}. train should return np.mean(softmax_crossentropy_with_logits(logits, y)) "
                       f"of this step's forward pass.", dense_codes(ctx) or ("train-wrong",))
    if all(np.array_equal(a[0], p[0]) and np.array_equal(a[1], p[1]) for a, p in zip(after, before)):
        # No layer moved: not one skipped layer but no step at all (or it stopped learning after right steps).
        right = f", after {step} right steps" if step else ""
        return Parting(step, f"{when}: train(network, X, y) changed no layer's parameters at this step{right}; every call of "
                       f"train must take a training step of every layer.", dense_codes(ctx) or ("train-wrong",))
    dense = plan.dense_positions
    for d in range(len(dense))[::-1]:
        (W_err, b_err), (W0, b0) = errors[d], before[d]
        if W_err <= rtol and b_err <= rtol:
            continue
        which = "weight" if not W_err <= rtol else "bias"
        label = plan.label(dense[d])
        unchanged = np.array_equal(after[d][0], W0) and np.array_equal(after[d][1], b0)
        others_moved = any(not (np.array_equal(a[0], p[0]) and np.array_equal(a[1], p[1])) for i, (a, p) in enumerate(zip(after, before)) if i != d)
        if unchanged and (others_moved or not dense_codes(ctx)):
            return Parting(step, f"{when}: {label} was not updated, while a correct step changes it. train's backward loop "
                           f"must call backward on every layer, down to layer 0.", ("train-skips-layer",))
        above = "" if d == len(dense) - 1 else " The layers above it updated correctly, so the gradient that reaches it is wrong (grad_input of the layer above, ReLU.backward, or the inputs train hands to backward)."
        codes = dense_codes(ctx) or ("train-wrong",)
        return Parting(step, f"{when}: the {which} update of {label} differs from a correct SGD step from the same parameters "
                       f"(error {max(W_err, b_err):.3g} relative to the step's size, tolerance {rtol:g}).{above}", codes)
    raise AssertionError("grader bug: a step was found to differ but no part of it does")


@functools.lru_cache(maxsize=4)
def prepare(params: LearningParams, root: Path, convention: str, version: float) -> tuple[LearningData, Plan, ReferenceRun, Batches, Inputs]:
    """The data, the plan, the reference's own run, the stacked batches and the inputs as sent: the same for
    every submission a process grades (until the rubric or the data set's file changes: both are in the key)."""
    data = load_learning_data(params, root)
    plan = make_plan(params, data, convention)
    trajectory: list[Params] = [list(plan.initial)]
    reference = reference_run(plan, data, trajectory)
    batches = stack_batches(plan, data)
    verify_screen(plan, batches, np.stack([pack(step) for step in trajectory]), reference.losses, min(params.rtol, params.rtol_float32))
    return data, plan, reference, batches, worker_inputs(data)


@register("network.learns")
def check_network_learns(ctx: CheckContext) -> Outcome:
    """Train the student's own network on real digits; every step as a correct one, then the held-out accuracy."""
    params = LearningParams.from_params(ctx.spec.params, f"{ctx.assignment.root / 'assignment.toml'}: check {ctx.spec.name}")
    data, plan, reference, batches, inputs = prepare(params, ctx.assignment.root, ctx.convention, dataset_version(params, ctx.assignment.root))
    if reference.accuracy < params.min_accuracy:
        raise InputError(f"check {ctx.spec.name}: min_accuracy {params.min_accuracy:g} is above what the reference reaches "
                         f"({reference.accuracy:.3f}) on {data.name}; lower it (with a margin) or train longer.")
    rec = Recorder()
    try:
        run = run_student(ctx, plan, data, params, inputs)
    except StudentFailure as failure:  # before the run or in its first request: no step ran
        first = (1, 1 if failure.code == "exception" else min(params.first_steps, params.steps_per_request, plan.steps))
        run = StudentRun(np.zeros(0), np.zeros(0, dtype=np.int8), np.zeros((0, 0)), None, False, failure, "raised", failed_in=first)
    rtol = params.rtol_float32 if run.low_precision or getattr(run.logits, "dtype", None) == np.float32 else params.rtol
    parting = find_parting(ctx, plan, data, run, rtol, batches) if run.done else None
    if parting is not None:
        rec.fail(parting.message, *parting.codes)
    summary = run.summary(plan, params.time_budget)
    got = float("nan")
    if run.failure is not None:
        right = "; the steps before were right" if parting is None and run.done else ""
        rec.student_failure(explain_failure(ctx, plan, data, run.failure), f"learning run: {summary}{right}")
    elif run.stop:
        # No condition is skipped for a run that passes: the steps it did not take, and the accuracy, are unjudged.
        taken = " (they were right)" if parting is None else ""
        rec.fail(f"Training {summary}. The steps taken were checked{taken}, but a run that stops early cannot show that the "
                 f"network learns, so it does not pass; make Dense, forward and train fast enough (vectorised numpy, no "
                 f"busy work) to take all {plan.steps} steps.", *stopped_codes(ctx))
    else:
        if parting is None:
            rec.ok()
        got = judge_accuracy(rec, plan, data, run, params.min_accuracy, reference.accuracy)
        if rec.outcome.passed < rec.outcome.total:
            rec.outcome.messages.append(f"Training {summary}.")
    drift = float("nan")
    if run.done == plan.steps:
        final = unpack(plan, run.snapshots[-1], bool(ctx.cache.get("weights_transposed", False)))
        drift = max(relative_error(W, We) for (W, _), (We, _) in zip(final, reference.final))
    rec.outcome.details["learning"] = {
        "dataset": data.name,
        "steps": plan.steps,
        "steps_done": run.done,
        # why the run stopped: "completed", or "time-budget", "too-slow", "raised" before the last step
        "stopped": run.stop or "completed",
        "stop_reason": summary,
        "student_loss": [round(float(v), 6) if r and np.isfinite(v) else None for v, r in zip(run.losses, run.reported)],
        "reference_loss": [round(float(v), 6) if np.isfinite(v) else None for v in reference.losses],
        "accuracy": got if np.isfinite(got) else None,
        "reference_accuracy": reference.accuracy,
        # how far the final weights are from the independent reference run's: rounding amplified by training
        "drift": drift if np.isfinite(drift) else None,
    }
    return rec.outcome


def explain_failure(ctx: CheckContext, plan: Plan, data: LearningData, failure: StudentFailure) -> StudentFailure:
    """An exception during the run: name forward's wrong list, or the Dense mistakes that explain it."""
    if failure.code != "exception":
        return failure
    try:
        got = student_activations(ctx, plan, list(plan.initial), plan.batch(data, 0)[0])
        if not isinstance(got, list) or len(got) != len(plan.kinds):
            return StudentFailure("network-forward-wrong", failure.message + " train calls forward(network, X), which does not return one activation per layer.", failure.traceback)
    except StudentFailure:
        pass
    codes = dense_codes(ctx)
    if codes and codes != ("exception",):
        return StudentFailure(codes[0], f"{failure.message} The Dense checks found mistakes that explain it ({', '.join(codes)}).", failure.traceback, list(codes[1:]))
    return failure


def stopped_codes(ctx: CheckContext) -> tuple[str, ...]:
    """What explains a run the time budget stopped: python-loop where the timing check found it, else timeout."""
    found = any("python-loop" in result.diagnoses for result in ctx.cache.get("results", {}).values())
    return ("python-loop",) if found else ("timeout",)


def judge_accuracy(rec: Recorder, plan: Plan, data: LearningData, run: StudentRun, minimum: float, reference: float) -> float:
    """The held-out accuracy of the student's trained network (only ever for a run that took every step)."""
    logits = run.logits
    if not (isinstance(logits, np.ndarray) and logits.shape == (len(data.y_val), data.classes) and np.all(np.isfinite(logits))):
        rec.fail(f"After training, forward(network, X_val)[-1] is not finite logits of shape {(len(data.y_val), data.classes)}.")
        return float("nan")
    got = accuracy(logits, data.y_val)
    if got >= minimum:
        rec.ok()
    else:
        rec.fail(f"Held-out accuracy after training on {data.name}: {got:.3f}, below the {minimum:g} required "
                 f"(the reference reaches {reference:.3f} from the same start).")
    return got
