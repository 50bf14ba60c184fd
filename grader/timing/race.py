"""The timing benchmark: the student's layer against the reference, in one run, as a ratio.

Both layers run in sandbox workers set up the same way (same factory, limits, one BLAS
thread). The grader measures each `bench` request from outside the worker, so nothing the
submission does to `time` matters: on the CPU it reads the worker tree's CPU time from its
cpuacct cgroup before and after (the kernel's count, nanoseconds; what other processes do
meanwhile barely moves it, so a batch keeps both cores busy while it times), elsewhere
`perf_counter` in its own process, holding the machine exclusively (`exclusive`).

No timed call can tell that it is the one checked: every step of a request takes another pair
of a pool of inputs, every call must return exactly a plain array of the expected dtype and
shape (anything else stops the race: no points), and is copied into the grader's slots at
once; when the steps are done the grader names steps drawn by a secret generator, stops its
clock once their full outputs have arrived, and compares them whole with the reference's
closed form (or, for code that is wrong anyway, with the same layer called the ordinary way;
verify.py). Skipping work in any call can cost everything.

Rounds alternate A/B/B/A/... after a warm-up; each round is k steps of forward+backward on a
fresh layer, k chosen so a reference round lasts `round_seconds`. A race whose score is
already certain after `decided_after` rounds (every pair of rounds well inside the
full-points factor, or far beyond the no-points one) stops there; so does one whose first
pair alone is far enough inside (`first_margin`: most vectorised layers, after one round).
The ratio of medians is scored by a curve (`timing_fraction`): full marks within `full_within`× the reference, none
beyond `zero_beyond`×, log-linear between, quantised so that noise rarely moves a score.
Loop-bound code is cut off: a round has a deadline, and the run stops once even the most
favourable pair of rounds is over the zero-points factor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import secrets
import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

import numpy as np

from ..errors import StudentFailure
from .outputs import ClosedForm, TimedRun, expected_outputs, relative_error
from .side import Side, race_orders, step_order
from .verify import Replay, verify_runs

__all__ = ["TimingSettings", "TimedRun", "Side", "BenchResult", "ClosedForm", "run_benchmark", "timing_fraction", "expected_outputs", "relative_error", "race_orders"]

SLOT_BYTES = {"cpu": 256 * 2**20, "gpu": 2 * 2**30}
"""Most memory the output slots of one timed request may take in a worker (CPU) or on the
device (GPU); k is capped to fit, since every step's outputs are kept until the grader picks."""


@dataclass(frozen=True)
class TimingSettings:
    """The `dense-timing` params of assignment.toml (sizes, curve, budgets), with defaults."""

    size: tuple[int, int, int] = (8192, 16, 8)
    """(N, in, out) on the CPU: a big batch of narrow rows, where Python loops cannot hide
    behind BLAS (with wide rows a per-sample loop is memory-bound and as fast as einsum)."""
    gpu_size: tuple[int, int, int] = (8192, 2048, 1024)
    """(N, in, out) on a GPU: large enough that kernels, not launches, dominate."""
    full_within: float = 8.0
    """Full points up to this slowdown against the reference (einsum without BLAS is ~5×)."""
    zero_beyond: float = 15.0
    """No points from this slowdown on (a per-sample loop measured 23-38× at the CPU size)."""
    quantum: float = 0.05
    """Scores are rounded to this fraction of the points."""
    rounds: int = 5
    """Timed rounds per side at most (A/B alternating, after a warm-up)."""
    decided_after: int = 2
    """Rounds per side after which a race whose score is already certain stops (see margin)."""
    margin: float = 2.0
    """A race is decided when even its least favourable pair of rounds is this factor inside
    the full-points slowdown (full points), or its most favourable pair this factor beyond the
    no-points one (none): more rounds could not move the median across the curve's ends."""
    first_margin: float = 4.0
    """A race is decided after its first pair of rounds when that pair is this factor inside
    the full-points slowdown (or beyond the no-points one); 0 turns it off. One pair needs a
    wider margin than two: now and then a round measures 2-6× its usual CPU time on a shared
    machine (the host's doing, not the code's), so one pair's ratio is a weaker witness. A
    correct layer measures ~1× the reference (99% of first pairs under 3×), so ~93% stop there."""
    round_seconds: float = 0.006
    """Target length of one reference round; k steps per round follow from it."""
    cutoff_seconds: float = 0.5
    """A student round is never cut off sooner than this (deadline floor, in seconds)."""
    learning_rate: float = 1e-4
    """Small, so k steps keep the values tame; not zero, so outputs cannot be cached."""
    rtol: float = 1e-3
    """Norm-wise tolerance of the output check: catches skipped work, not precision."""
    pool: int = 8
    """Distinct (X, G) pairs per race (row orders of one X and G): consecutive steps of a
    timed request never take the same pair, so no call is handed an array it saw before."""
    checked: int = 2
    """Steps of each timed request whose full outputs are fetched (inside the clock) and verified."""

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TimingSettings:
        sizes, curve, budgets = params.get("sizes", {}), params.get("curve", {}), params.get("budgets", {})
        base = cls()
        return cls(
            size=tuple(sizes.get("cpu", base.size)),
            gpu_size=tuple(sizes.get("gpu", base.gpu_size)),
            full_within=float(curve.get("full_within", base.full_within)),
            zero_beyond=float(curve.get("zero_beyond", base.zero_beyond)),
            quantum=float(curve.get("quantum", base.quantum)),
            rounds=int(budgets.get("rounds", base.rounds)),
            decided_after=int(budgets.get("decided_after", base.decided_after)),
            margin=float(budgets.get("margin", base.margin)),
            first_margin=float(budgets.get("first_margin", base.first_margin)),
            round_seconds=float(budgets.get("round_seconds", base.round_seconds)),
            cutoff_seconds=float(budgets.get("cutoff_seconds", base.cutoff_seconds)),
            learning_rate=float(params.get("learning_rate", base.learning_rate)),
            rtol=float(params.get("rtol", base.rtol)),
            pool=int(params.get("pool", base.pool)),
            checked=int(params.get("checked", base.checked)),
        )


def timing_fraction(slowdown: float, full_within: float, zero_beyond: float, quantum: float = 0.05) -> float:
    """1 up to `full_within`, 0 from `zero_beyond`, log-linear between, rounded to `quantum`."""
    if not math.isfinite(slowdown) or slowdown >= zero_beyond:
        return 0.0
    if slowdown <= full_within:
        return 1.0
    raw = 1.0 - math.log(slowdown / full_within) / math.log(zero_beyond / full_within)
    return round(round(raw / quantum) * quantum, 6) if quantum > 0 else raw


@dataclass(frozen=True)
class BenchResult:
    """What the benchmark measured; `slowdown` is student time / reference time."""

    slowdown: float
    """Median student round / median reference round (inf when cut off)."""
    fraction: float
    """The score fraction from the curve."""
    k: int
    """forward+backward steps per round."""
    student_rounds: tuple[float, ...]
    """Seconds of each timed student round."""
    reference_rounds: tuple[float, ...]
    """Seconds of each timed reference round."""
    cut_off: str = ""
    """Why the run stopped early ('' when it ran all rounds)."""
    copy_mode: bool = False
    """True when the layer wrote into its inputs, so every call got fresh copies."""
    outputs_verified: str = "reference"
    """How the timed outputs were checked: reference, own-code (values wrong elsewhere), failed."""
    stand_in: str = ""
    """What a timed call returned instead of a plain array of the expected dtype and shape ('' if none)."""
    wall_seconds: float = 0.0
    """Wall time of the whole benchmark (data, warm-up, rounds, checks)."""
    isolation: str = ""
    """How the student's processes were kept out of the reference's rounds."""
    clock: str = "wall"
    """"cpu" (each worker's CPU time, from the kernel) or "wall" (exclusive wall clock)."""
    warm_up_ratio: float = math.nan
    """Student warm-up step / reference calibration step, when the race stopped there (a lower bound when the step timed out)."""
    reference_warm: bool = False
    """The twin had raced on this data before, so its cold warm-up round was skipped."""

    def _partial(self) -> float | None:
        """Median student round / median reference round so far (or the warm-up's ratio)."""
        if self.student_rounds and self.reference_rounds:
            return round(statistics.median(self.student_rounds) / statistics.median(self.reference_rounds[: len(self.student_rounds)]), 3)
        return round(self.warm_up_ratio, 3) if math.isfinite(self.warm_up_ratio) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "slowdown": None if not math.isfinite(self.slowdown) else round(self.slowdown, 3),
            "partial_slowdown": self._partial(),
            "fraction": self.fraction,
            "k": self.k,
            "student_rounds_ms": [round(s * 1e3, 3) for s in self.student_rounds],
            "reference_rounds_ms": [round(s * 1e3, 3) for s in self.reference_rounds],
            "cut_off": self.cut_off,
            "copy_mode": self.copy_mode,
            "outputs_verified": self.outputs_verified,
            "stand_in": self.stand_in,
            "wall_seconds": round(self.wall_seconds, 4),
            "isolation": self.isolation,
            "clock": self.clock,
            "reference_warm": self.reference_warm,
        }


def run_benchmark(
    student: Side,
    reference: Side,
    closed_form: ClosedForm,
    params: list[tuple[np.ndarray, np.ndarray]],
    settings: TimingSettings,
    convention: str = "sum",
    replay: Replay | None = None,
    exclusive: Callable[[], ContextManager[None]] = contextlib.nullcontext,
) -> BenchResult:
    """Race the student's layer against the reference (see the module docstring).

    `closed_form` holds the race's data (X, G and the pool's row orders); `params` one (W, b)
    per fresh layer (at least rounds + 2), so no round can reuse another's outputs.
    `replay(W, b, order, rows)` runs the steps of `order` on the student's layer through
    ordinary calls (untimed) and returns (Z, grad_input) of the last step plus the same rows
    computed by the student's layer on just those rows (a small batch, from the last step's
    parameters; or "coupled" for a layer whose rows depend on each other at every size). It
    is used only when the timed outputs differ from the reference, to tell wrong-but-honest
    code (scored on speed; its values cost points in other checks) from skipped work or code
    that behaves differently at the timed size (zero). A StudentFailure other than a timeout
    (the code raised) propagates. The steps verified, the pool orders and the replayed rows
    are drawn from a generator seeded from `secrets`, in the grader only, after each request.
    """
    started = time.perf_counter()
    s = settings
    lr = s.learning_rate
    picker = np.random.default_rng(secrets.randbits(128))
    reference.rival, student.rival = student, None
    # On a GPU a step's outputs are hundreds of MB, checked on the grader's CPU: one step per
    # student run there, and the reference (whose outputs the student's are compared with) is not fetched.
    student.checked = max(1, s.checked) if student.device == "cpu" else 1
    reference.checked = max(1, s.checked) if reference.device == "cpu" else 0
    for side in (reference, student):
        side.stash(closed_form.X, closed_form.G, closed_form.orders)
    # A layer per round, the calibration's and (fresh twin) the warm-up's, and a spare: a calibration measured again.
    reference.prepare(params[: s.rounds + (1 if reference.warm else 2)] + params[:1], lr)
    student.prepare(params[: s.rounds + 1], lr)
    # Before timing: nothing of the student's but its worker is left (helpers it forked would
    # burn CPU during the reference's rounds, or count in its own).
    student.session.ensure_alive()
    student.isolation = student.session.worker.control("prune") and "leftover processes killed"
    clock = _clock(student, reference)
    # The CPU clock counts each worker tree's own work, so other jobs of a batch may run
    # meanwhile. On the wall clock only the warm-up and the timed rounds hold the machine
    # exclusively (verifying below needs no quiet cores), and the student's whole tree is
    # frozen while the reference runs.
    with exclusive() if clock == "wall" else contextlib.nullcontext():
        result = _rounds(student, reference, s, picker, started)
    isolation = "; ".join(filter(None, [student.isolation, reference.isolation and f"your processes frozen while the reference ran ({reference.isolation})"]))
    clock = reference.clock  # "wall" if the CPU count failed during the race
    if result is not None:
        return dataclasses.replace(result, isolation=isolation, clock=clock, reference_warm=reference.warm)
    if reference.checked and verify_runs(reference.runs, closed_form, "sum", s.rtol, None, picker) != "reference":
        raise RuntimeError("grader bug: the reference's timed outputs differ from the closed form")
    verified = verify_runs(student.runs, closed_form, convention, s.rtol, replay, picker)
    slowdown = statistics.median(student.seconds) / statistics.median(reference.seconds)
    fraction = timing_fraction(slowdown, s.full_within, s.zero_beyond, s.quantum) if verified != "failed" else 0.0
    return BenchResult(slowdown, fraction, reference.k, tuple(student.seconds), tuple(reference.seconds), "", student.copied, verified, "", time.perf_counter() - started, isolation, clock,
                       reference_warm=reference.warm)


def _clock(student: Side, reference: Side) -> str:
    """ "cpu" when both workers' CPU time is counted by the kernel (their cgroups) and the race
    runs on the CPU; "wall" otherwise (no cgroup, or a GPU, whose work is not CPU time)."""
    cpu = student.device == "cpu" and all(_counted(side) for side in (student, reference))
    clock = "cpu" if cpu else "wall"
    student.clock = reference.clock = clock
    return clock


def _counted(side: Side) -> bool:
    """Whether the worker's count moves when it works: a request costs it tens of µs of CPU.
    A count that stays put (the worker is not in the cgroup it was given) would read every
    round as 0 s."""
    worker = side.session.worker
    before = worker.cpu_seconds() if worker is not None else None
    if before is None:
        return False
    side.request({"op": "stats"}, [], "checking the CPU clock")
    after = worker.cpu_seconds()
    return after is not None and after > before


def _rounds(student: Side, reference: Side, s: TimingSettings, picker: np.random.Generator, started: float) -> BenchResult | None:
    """Warm-up, calibration and the alternating timed rounds; a BenchResult only when cut off
    or when a call returned a stand-in. Outputs are kept on the sides (verified afterwards,
    outside the exclusive phase)."""
    order = lambda steps: step_order(picker, steps, s.pool)  # noqa: E731
    # Warm-up and calibration: a fresh twin's first round is cold (a kept twin that raced on
    # this data before needs no warm-up).
    if not reference.warm:
        _keep(reference, *reference.run(order(1), False, 30.0, picker, scored=False))
    t_ref = _keep(reference, *reference.run(order(1), False, 30.0, picker, scored=False))
    if not t_ref > 0:  # the CPU count did not move (not seen once it is read settled): measure by the wall
        reference.clock = student.clock = "wall"
        t_ref = _keep(reference, *reference.run(order(1), False, 30.0, picker, scored=False))  # on the spare layer
    first_deadline = s.cutoff_seconds + s.zero_beyond * t_ref * 4
    try:
        t_stu, warm_up = student.run(order(1), False, first_deadline, picker, scored=False)
    except StudentFailure as failure:
        if failure.code != "timeout":
            raise
        return _cut(f"one forward+backward took over {first_deadline:.2f} s (the reference needs {t_ref * 1e3:.2f} ms)", 1, student, reference, False, started,
                    first_deadline / t_ref)  # a lower bound of the warm-up's ratio
    if warm_up.stand_in:
        return _stood_in(warm_up.stand_in, 1, student, reference, started)
    copy = warm_up.mutated
    if not copy:  # a warm-up that wrote into its inputs computed on what it wrote: not verifiable
        student.runs.append(warm_up)
    # k >= 2: the last outputs then depend on the first step's update, so they cannot be remembered.
    n, n_in, n_out = reference.size
    fits = max(2, SLOT_BYTES.get(reference.device, SLOT_BYTES["cpu"]) // (n * (n_in + n_out) * 8))
    k = max(2, min(1000, fits, round(s.round_seconds / max(t_ref, 1e-6))))
    reference.k = k
    if t_stu > 3 * s.zero_beyond * t_ref:
        return _cut(f"the warm-up step took {t_stu / t_ref:.0f}× the reference's", k, student, reference, copy, started, t_stu / t_ref)
    deadline = s.cutoff_seconds + 4 * s.zero_beyond * t_ref * k
    for r in range(s.rounds):
        for side in ((reference, student) if r % 2 == 0 else (student, reference)):
            try:
                seconds, run = side.run(order(k), copy, 30.0 if side is reference else deadline, picker)
            except StudentFailure as failure:
                if failure.code != "timeout" or side is reference:
                    raise
                return _cut(f"a round of {k} steps took over {deadline:.2f} s", k, student, reference, copy, started)
            if run.stand_in and side is student:
                return _stood_in(run.stand_in, k, student, reference, started)
            side.seconds.append(_keep(side, seconds, run))
            if side is student:
                copy = copy or run.mutated
        fastest, slowest = min(student.seconds) / max(reference.seconds), max(student.seconds) / min(reference.seconds)
        margin = _certainty_margin(s, r + 1)
        if (r >= 2 and fastest > s.zero_beyond) or (margin is not None and fastest > s.zero_beyond * margin):
            return _cut(f"after {r + 1} round{'s' if r else ''} even the fastest was {fastest:.0f}× the reference's slowest", k, student, reference, copy, started)
        if margin is not None and slowest * margin <= s.full_within:
            break  # full points whatever later rounds measured: their median stays inside the full band
    student.copied = copy
    return None


def _keep(side: Side, seconds: float, run: TimedRun) -> float:
    """A run's outputs join its side's verification (a stand-in from the reference is a grader bug)."""
    if run.stand_in:
        raise RuntimeError(f"grader bug: the reference's {run.stand_in}")
    side.runs.append(run)
    return seconds


def _certainty_margin(s: TimingSettings, rounds: int) -> float | None:
    """The factor by which every pair so far must clear an end of the curve for the race to stop
    after `rounds` rounds a side; None: not yet decidable."""
    if rounds >= s.decided_after:
        return s.margin
    return s.first_margin if rounds == 1 and s.first_margin > 0 else None


def _cut(why: str, k: int, student: Side, reference: Side, copy: bool, started: float, warm_up_ratio: float = math.nan) -> BenchResult:
    return BenchResult(math.inf, 0.0, k, tuple(student.seconds), tuple(reference.seconds), why, copy, "reference", "", time.perf_counter() - started,
                       warm_up_ratio=warm_up_ratio)


def _stood_in(what: str, k: int, student: Side, reference: Side, started: float) -> BenchResult:
    """A timed call returned something else than the plain array expected: no points, whatever its speed."""
    return BenchResult(math.inf, 0.0, k, tuple(student.seconds), tuple(reference.seconds), "", student.copied, "failed", what, time.perf_counter() - started)
