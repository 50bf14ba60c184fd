"""`dense.timing`: is Dense vectorised? Its speed against the reference, as a ratio.

The reference solution runs as a submission in a second worker made by the same factory
with the same limits, so both sides pay the same process, protocol and BLAS set-up; the
race itself is in grader/timing/race.py. On the CPU clock (each worker's cgroup CPU time) a
batch goes on grading meanwhile; on the wall clock (no cgroups, or a GPU) the rounds run
inside `exclusive_phase()`, so a batch grader runs nothing else while a submission is timed.

On a GPU (`--device gpu`, or `auto` when CuPy and a CUDA device work in the workers) the
same race runs with CuPy arrays; code that cannot run there is scored on the CPU, with the
reason in the report.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib.util
import math
from typing import Any

import numpy as np

from ..errors import StudentFailure
from ..timing.exclusive import exclusive_phase
from ..sandbox.session import StudentSession
from ..oracle import reference_submission
from ..timing.race import BenchResult, ClosedForm, Side, TimingSettings, expected_outputs, race_orders, relative_error, run_benchmark
from . import register
from .base import CheckContext, DenseCase, Outcome, _weights_transposed, call_method, make_dense
from .batched import DenseBatch

__all__ = ["timing_check", "reference_session"]

REFERENCE_REUSES = 200
"""Requests-heavy but cheap: one reference worker serves this many gradings, then is renewed
(its CPU-seconds rlimit counts across them)."""
PROBE_SIZE = (13, 5, 3)
_references: dict[str, tuple[StudentSession, list[int], dict[Any, Any]]] = {}
"""Per rubric and sandbox set-up: the twin, how many gradings it served, the race data it holds."""


def reference_session(ctx: CheckContext) -> StudentSession:
    """A worker running the rubric's reference file as a submission, made exactly like the
    student's (same factory and limits); kept for the next grading in this process."""
    session = ctx.session
    key = f"{session.worker_factory!r}|{session.config!r}|{ctx.assignment.reference}"
    held = _references.get(key)
    # Healthy, not just alive: a stopped or zombie twin would stall every later timing.
    if held is not None and held[1][0] < REFERENCE_REUSES and held[0].worker is not None and held[0].worker.healthy():
        held[1][0] += 1
        return held[0]
    if held is not None:
        held[0].close()
    # role=reference: a uid range of its own, so no student process can signal or trace it.
    reference = StudentSession(reference_submission(ctx.assignment), dataclasses.replace(session.config, role="reference"), worker_factory=session.worker_factory, seed=0)
    reference.start()
    if reference.issues:
        reference.close()
        raise RuntimeError(f"grader bug: the reference does not load: {list(reference.issues.values())}")
    _references[key] = (reference, [1], {})
    return reference


def _twin_memo(reference: StudentSession) -> dict[Any, Any] | None:
    """The race data this twin already holds (see timing.Side.stash_memo)."""
    return next((held[2] for held in _references.values() if held[0] is reference), None)


@atexit.register
def _close_references() -> None:
    for reference, _, _ in _references.values():
        reference.close()
    _references.clear()


def _gpu_status(ctx: CheckContext, reference: StudentSession) -> tuple[bool, str, dict[str, Any]]:
    """(use the GPU, why not, device info). CuPy is looked up, not imported, in the grader."""
    if ctx.device == "cpu":
        return False, "", {}
    if importlib.util.find_spec("cupy") is None:
        return False, "CuPy is not installed", {}
    cached = ctx.cache.get("timing_gpu")
    if cached is None:
        reply, _ = reference.bench({"op": "bench_device", "measure_peak": True}, [], "reference: probing the GPU", timeout=60.0)
        cached = ctx.cache["timing_gpu"] = reply
    if not cached.get("available"):
        return False, f"no usable CUDA device ({cached.get('why', 'unknown')})", {}
    return True, "", {"gpu": cached.get("name"), "peak_flops": cached.get("peak_flops")}


@dataclasses.dataclass(frozen=True)
class RaceInputs:
    """One race's data: X, G and the pool's row orders (in the closed form of the outputs), one (W, b) per round."""

    params: list[tuple[np.ndarray, np.ndarray]]
    closed_form: ClosedForm
    state_after: dict[str, Any]
    """The generator's state once these were drawn."""


_race_inputs: dict[str, RaceInputs] = {}
KEPT_RACE_INPUTS = 4


def race_inputs(rng: np.random.Generator, size: tuple[int, int, int], rounds: int, lr: float, pool: int = 8) -> RaceInputs:
    """Fresh data of `size`, `pool` row orders of it and one (W, b) per round, drawn from `rng`. Every grading with the
    same seed draws the same numbers here, so the draw and its closed form (a few ms of
    matrix products per submission) are kept for the next grading in this process: looked up
    by the generator's state, which is then advanced exactly as drawing would have."""
    key = repr((rng.bit_generator.state, size, rounds, lr, pool))
    held = _race_inputs.get(key)
    if held is not None:
        rng.bit_generator.state = held.state_after
        return held
    n, n_in, n_out = size
    X, G = rng.standard_normal((n, n_in)), rng.standard_normal((n, n_out))
    params = [(rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)) for _ in range(rounds + 2)]
    orders = race_orders(rng, n, pool)
    for array in (X, G, orders, *(a for pair in params for a in pair)):
        array.flags.writeable = False  # shared between gradings: nothing may change them
    made = RaceInputs(params, ClosedForm(X, G, orders, lr), rng.bit_generator.state)
    while len(_race_inputs) >= KEPT_RACE_INPUTS:
        _race_inputs.pop(next(iter(_race_inputs)))
    _race_inputs[key] = made
    return made


def _race(ctx: CheckContext, reference: StudentSession, size: tuple[int, int, int], settings: TimingSettings, device: str, dtypes: tuple[str, str]) -> BenchResult:
    """The race's data (see race_inputs), then the A/B race."""
    lr = settings.learning_rate
    inputs = race_inputs(ctx.rng, size, settings.rounds, lr, settings.pool)
    closed_form = inputs.closed_form
    student = Side(ctx.session, "your Dense", device, transposed=_weights_transposed(ctx), dtypes=dtypes)
    ref = Side(reference, "reference Dense", device, stash_memo=_twin_memo(reference))

    def replay(W: np.ndarray, b: np.ndarray, order: list[int], rows: list[int]) -> tuple[Any, Any, Any]:
        """The steps of `order` as ordinary calls, on the timed batch and, in step with it, on
        just `rows` (a small batch) and on half of them, whose state (caches, counters) so
        evolves the same way; before the last step the small layers get the parameters the
        big one then has. Returns (Z, grad_input, (Z rows, grad_input rows)) of the last step,
        or (..., "coupled") when the layer's rows depend on each other anyway, or (..., None)
        if unverifiable. Two round trips: the steps before the last, then the last."""
        half = len(rows) // 2
        pairs = [closed_form.pair(p) for p in order]
        # The pool is already in the worker: its handles give each call a fresh copy, and the
        # big outputs stay there until the last step (megabytes per call otherwise).
        held = student.held_inputs
        steps = [((held[p] if p < len(held) else (X, G)), (X[rows], G[rows]), (X[rows[:half]], G[rows[:half]])) for p, (X, G) in zip(order, pairs)]
        first = DenseBatch(ctx)
        X0, G0 = pairs[0]
        layers = [first.layer(DenseCase(X_i, W, b, G_i), lr) for X_i, G_i in ((X0, G0), (X0[rows], G0[rows]), (X0[rows[:half]], G0[rows[:half]]))]
        calls = [first.method(layer, name, *args, keep=True)
                 for inputs_i in steps[:-1] for layer, (X_i, G_i) in zip(layers, inputs_i) for name, args in (("forward", (X_i,)), ("backward", (X_i, G_i)))]
        stored = first.get(layers[0], "weights", "biases")
        sent = first.run()
        for index in calls:
            sent[index]  # noqa: B018 - raises the failure of the call that stopped the batch, as the call itself would have
        made = [sent[layer.index] for layer in layers]
        W_k, b_k = sent[stored]
        if not (isinstance(W_k, np.ndarray) and isinstance(b_k, np.ndarray)):
            return None, None, None  # parameters not where the assignment keeps them: unverifiable
        last = DenseBatch(ctx)
        for other in made[1:]:
            last.assign(other, weights=W_k, biases=b_k)
        outputs = [last.method(layer, name, *args) for layer, (X_i, G_i) in zip(made, steps[-1]) for name, args in (("forward", (X_i,)), ("backward", (X_i, G_i)))]
        sent = last.run()
        Z, grad_input, z_small, gi_small, z_half, _ = (sent[i] for i in outputs)
        if isinstance(z_small, np.ndarray) and relative_error(z_half, z_small[:half]) > settings.rtol:
            return Z, grad_input, "coupled"  # rows depend on the other rows even in small batches (a real mistake)
        return Z, grad_input, (z_small, gi_small)

    try:
        return run_benchmark(student, ref, closed_form, inputs.params, settings, ctx.convention, replay,
                             exclusive=lambda: ctx.session.deadline.not_counting_wait(exclusive_phase()))
    finally:
        ref.release()


def _probe(ctx: CheckContext, settings: TimingSettings) -> tuple[bool, tuple[str, str]]:
    """Two steps at a tiny size through ordinary calls, checked against the reference: are the
    results right (a Python loop is only named when they are), and which dtypes do forward and
    backward return (every timed call must return the same: float32 code stays float32, code
    that returns float32 only when timed does not)? Raises if the code fails."""
    case = DenseCase.random(ctx.rng, *PROBE_SIZE)
    layer = make_dense(ctx, case, settings.learning_rate)
    Z = grad_input = None
    for _ in range(2):
        Z = call_method(ctx, layer, "forward", case.X)
        grad_input = call_method(ctx, layer, "backward", case.X, case.G)
    desired = expected_outputs(case.X, case.W, case.b, case.G, settings.learning_rate, 2, ctx.convention)
    right = relative_error(Z, desired[0]) <= 1e-5 and relative_error(grad_input, desired[1]) <= 1e-5
    dtypes = tuple(str(a.dtype) if isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64) else "float64" for a in (Z, grad_input))
    return right, (dtypes[0], dtypes[1])


@register("dense.timing")
def timing_check(ctx: CheckContext) -> Outcome:
    """Score Dense's speed against the reference; name `python-loop` when slow but right."""
    settings = TimingSettings.from_params(ctx.spec.params)
    right, dtypes = _probe(ctx, settings)
    reference = reference_session(ctx)
    use_gpu, why_not, info = _gpu_status(ctx, reference)
    notes: list[str] = []
    result: BenchResult | None = None
    device = "cpu"
    if use_gpu:
        try:
            result, device = _race(ctx, reference, settings.gpu_size, settings, "gpu", dtypes), "gpu"
        except StudentFailure as failure:
            notes.append(f"Your layer could not run on the GPU ({failure.message.splitlines()[0]}), so it was timed on the CPU.")
        if result is not None and result.stand_in:  # e.g. numpy arrays from code that does not follow CuPy: the CPU race decides
            notes.append(f"On the GPU your {result.stand_in}, so it was timed on the CPU.")
            result, device = None, "cpu"
    elif ctx.device == "gpu":
        notes.append(f"GPU timing was asked for but {why_not}; timed on the CPU.")
    if result is None:
        result = _race(ctx, reference, settings.size, settings, "cpu", dtypes)
    size = settings.gpu_size if device == "gpu" else settings.size
    details = dict(result.to_dict(), device=device, size=list(size), **info)
    if device == "gpu" and result.student_rounds:
        n, n_in, n_out = size
        flops = 6.0 * n * n_in * n_out * result.k / float(np.median(result.student_rounds))
        details["student_flops"] = flops
        if info.get("peak_flops"):
            details["fraction_of_peak"] = flops / info["peak_flops"]
        notes.append(f"Achieved {flops / 1e12:.2f} TFLOP/s" + (f", {details.get('fraction_of_peak', 0):.1%} of the device's measured float64 peak." if info.get("peak_flops") else "."))
    return _outcome(result, settings, right, notes, details)


def _outcome(result: BenchResult, settings: TimingSettings, right: bool, notes: list[str], details: dict[str, Any]) -> Outcome:
    steps = max(1, round(1 / settings.quantum))
    outcome = Outcome(passed=round(result.fraction * steps), total=steps, details=details)
    where = f"{settings.full_within:g}×"
    if result.cut_off:
        outcome.messages.append(f"Your Dense is far slower than the reference ({result.cut_off}); timing stopped, no timing points "
                                f"(full points within {where} the reference's time).")
    elif result.stand_in:
        outcome.messages.append(f"In the timed run your {result.stand_in}, so no timing points: return the plain array your "
                                "layer computes, the same at every batch size.")
    elif result.outputs_verified == "failed":
        outcome.messages.append("The outputs of the timed runs differ from what your layer returns when called normally, so "
                                "the benchmark cannot confirm the work was done: no timing points. Make forward/backward "
                                "depend only on their arguments and the layer's parameters.")
    elif result.fraction < 1.0:
        outcome.messages.append(f"Your Dense took {result.slowdown:.1f}× the reference's time (full points within {where}, none "
                                f"beyond {settings.zero_beyond:g}×).")
    if result.outputs_verified == "own-code":
        notes.append("Your layer's values differ from the reference (see the other checks); its speed was scored as it is.")
    if result.fraction < 0.5 and right and result.outputs_verified != "failed":
        outcome.diagnoses.append("python-loop")
        outcome.messages.append("Replace Python loops over samples or elements by whole-array operations (X @ W, X.T @ G, G.sum(axis=0)).")
    outcome.messages += notes
    if math.isfinite(result.slowdown):
        details["summary"] = f"{result.slowdown:.2f}× the reference ({details['device']}, k={result.k})"
    return outcome
