"""The timing benchmark: the student's layer against the reference, in one run, as a ratio.

Both layers run in sandbox workers set up the same way (same factory, limits, one BLAS
thread). The grader measures each `bench` request from outside the worker, so nothing the
submission does to `time` matters: on the CPU it reads the worker tree's CPU time from its
cpuacct cgroup before and after (the kernel's count, nanoseconds; what other processes do
meanwhile barely moves it, so a batch keeps both cores busy while it times), elsewhere
`perf_counter` in its own process, holding the machine exclusively (`exclusive`). Every
reply's last outputs are checked
(against the reference's closed form, or, for code that is wrong anyway, against the same
layer called the ordinary way), so skipping work gains nothing.

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
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator

import numpy as np

from ..errors import StudentFailure
from ..sandbox.replies import reply_int
from ..sandbox.session import Remote, StudentSession
from .outputs import ClosedForm, OutputSummary, expected_outputs, relative_error

__all__ = ["TimingSettings", "OutputSummary", "Side", "BenchResult", "ClosedForm", "run_benchmark", "timing_fraction", "expected_outputs", "relative_error"]


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
        )


def timing_fraction(slowdown: float, full_within: float, zero_beyond: float, quantum: float = 0.05) -> float:
    """1 up to `full_within`, 0 from `zero_beyond`, log-linear between, rounded to `quantum`."""
    if not math.isfinite(slowdown) or slowdown >= zero_beyond:
        return 0.0
    if slowdown <= full_within:
        return 1.0
    raw = 1.0 - math.log(slowdown / full_within) / math.log(zero_beyond / full_within)
    return round(round(raw / quantum) * quantum, 6) if quantum > 0 else raw


@dataclass
class Side:
    """One worker in the race: its session, its stashed data and the fresh layers it will time."""

    session: StudentSession
    label: str
    device: str = "cpu"
    data: int = 0
    layers: list[tuple[int, np.ndarray, np.ndarray]] = field(default_factory=list)
    """(handle, W, b) of each fresh layer, W in the assignment's (in, out) convention."""
    seconds: list[float] = field(default_factory=list)
    outputs: list[tuple[list[int], OutputSummary, OutputSummary, np.ndarray, np.ndarray]] = field(default_factory=list)
    """Per timed round: (rows asked for, Z summary, grad_input summary, W, b)."""
    k: int = 0
    """Steps per timed round (set on the reference side by the calibration)."""
    copied: bool = False
    """The student's layer mutated its input, so rounds send fresh copies."""
    rival: Side | None = None
    """The other side: its whole process tree is frozen while this side runs."""
    isolation: str = ""
    """How the rival was kept still (cgroup freezer, signals), for the report."""
    clock: str = "wall"
    """What a round's seconds are: "cpu" (the worker tree's CPU time, from its cgroup) or
    "wall" (perf_counter around the request, with the machine held exclusively)."""

    def request(self, header: dict[str, Any], arrays: list[np.ndarray], what: str, timeout: float | None = None) -> tuple[dict[str, Any], list[np.ndarray]]:
        return self.session.bench(header, arrays, f"{self.label}: {what}", timeout)

    made: list[int] = field(default_factory=list)
    held_inputs: tuple[Remote, Remote] | None = None
    """Handles of pristine X and G in the worker (CPU only): a call given one gets a fresh copy."""
    stash_memo: dict[tuple[int, int, int, str], tuple[np.ndarray, np.ndarray, int, tuple[Remote, Remote] | None]] | None = None
    """Data this worker keeps between races (the reference twin's: every grading races on the same X and G)."""
    transposed: bool = False
    """The student's layer stores W as (out, in) (see base.set_params)."""
    warm: bool = False
    """This worker already raced on this data (a kept twin): its first round is not cold."""

    def stash(self, X: np.ndarray, G: np.ndarray) -> None:
        """Send the inputs once (and, with a `stash_memo`, once for every race on them)."""
        memo_key = (id(X), id(G), self.session.generation, self.device)
        if self.stash_memo is not None and memo_key in self.stash_memo:
            _, _, self.data, self.held_inputs = self.stash_memo[memo_key]
            self.warm = True
            return
        reply, _ = self.request({"op": "bench_data", "x": {"t": "a", "i": 0}, "g": {"t": "a", "i": 1}, "device": self.device}, [X, G], "loading the benchmark data")
        what = f"{self.label}: loading the benchmark data"
        self.data = reply_int(reply.get("data"), what)
        if self.device == "cpu" and "x" in reply:
            self.held_inputs = (Remote(reply_int(reply.get("x"), what), self.session.generation), Remote(reply_int(reply.get("g"), what), self.session.generation))
        if self.stash_memo is not None:  # kept in the worker; X and G held so their ids stay theirs
            self.stash_memo[memo_key] = (X, G, self.data, self.held_inputs)
        else:
            self.made += [self.data, *(h.handle for h in self.held_inputs or ())]

    def prepare(self, params: list[tuple[np.ndarray, np.ndarray]], lr: float) -> None:
        """Make one fresh layer per (W, b) (untimed), one per timed round."""
        arrays: list[np.ndarray] = []
        for W, b in params:
            arrays += [W.T.copy() if self.transposed and W.shape[0] != W.shape[1] else W, b]
        n_in, n_out = params[0][0].shape
        header = {"op": "bench_layers", "n_in": n_in, "n_out": n_out, "lr": lr, "device": self.device,
                  "ws": [{"t": "a", "i": i} for i in range(0, len(arrays), 2)], "bs": [{"t": "a", "i": i} for i in range(1, len(arrays), 2)]}
        reply, _ = self.request(header, arrays, f"building {len(params)} Dense layers")
        layers = reply.get("layers")
        handles = [reply_int(h, f"{self.label}: building layers") for h in (layers if isinstance(layers, list) else [None])]
        self.made += handles
        self.layers += [(h, W, b) for h, (W, b) in zip(handles, params)]

    @contextlib.contextmanager
    def _rival_frozen(self) -> Iterator[None]:
        """On the wall clock, the other side's whole tree is stopped while this side runs (its
        helpers could otherwise steal the cores). CPU time counts only this side's own work."""
        worker = self.rival.session.worker if self.rival is not None else None
        if worker is None or not worker.alive or self.clock == "cpu":
            yield
            return
        self.isolation = worker.control("freeze")
        try:
            yield
        finally:
            worker.control("thaw")

    def release(self) -> None:
        """Let the worker free this benchmark's data and layers."""
        if self.made and self.session.worker is not None and self.session.worker.alive:
            self.request({"op": "bench_drop", "handles": self.made}, [], "cleaning up")

    def run(self, k: int, copy: bool, timeout: float, rows: list[int]) -> tuple[float, OutputSummary, OutputSummary, bool, tuple[np.ndarray, np.ndarray]]:
        """One timed request on a fresh layer: (seconds, Z and grad_input summaries, inputs
        mutated, the layer's (W, b)). Only summaries travel, so megabytes of output never
        sit inside the clock."""
        handle, W, b = self.layers.pop(0)
        header = {"op": "bench", "layer": handle, "data": self.data, "k": k, "copy": copy, "rows": rows}
        self.session.ensure_alive()
        worker = self.session.worker
        with self._rival_frozen():
            cpu_start = worker.cpu_seconds() if self.clock == "cpu" else None
            start = time.perf_counter()
            reply, out = self.request(header, [], f"{k}× forward+backward", timeout)
            elapsed = time.perf_counter() - start
            if cpu_start is not None:
                cpu_end = worker.cpu_seconds()
                elapsed = cpu_end - cpu_start if cpu_end is not None else math.nan
        z = OutputSummary.decode(reply.get("z"), self.session, out)
        gi = OutputSummary.decode(reply.get("grad_input"), self.session, out)
        return elapsed, z, gi, bool(reply.get("mutated")), (W, b)


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
    wall_seconds: float = 0.0
    """Wall time of the whole benchmark (data, warm-up, rounds, checks)."""
    isolation: str = ""
    """How the student's processes were kept out of the reference's rounds."""
    clock: str = "wall"
    """"cpu" (each worker's CPU time, from the kernel) or "wall" (exclusive wall clock)."""
    warm_up_ratio: float = math.nan
    """Student warm-up step / reference calibration step, when the race stopped there."""
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
            "wall_seconds": round(self.wall_seconds, 4),
            "isolation": self.isolation,
            "clock": self.clock,
            "reference_warm": self.reference_warm,
        }


def run_benchmark(
    student: Side,
    reference: Side,
    X: np.ndarray,
    G: np.ndarray,
    params: list[tuple[np.ndarray, np.ndarray]],
    settings: TimingSettings,
    rng: np.random.Generator,
    convention: str = "sum",
    replay: Callable[[np.ndarray, np.ndarray, int, list[int]], tuple[Any, Any, Any]] | None = None,
    exclusive: Callable[[], ContextManager[None]] = contextlib.nullcontext,
    closed_form: ClosedForm | None = None,
) -> BenchResult:
    """Race the student's layer against the reference (see the module docstring).

    `params` holds one (W, b) per fresh layer (at least rounds + 2), so no round can reuse
    another's outputs. `rng` picks the output rows each timed reply must carry.
    `replay(W, b, k, rows)` runs k steps of the student's layer through ordinary calls
    (untimed) and returns (Z, grad_input) of the k-th step plus the same rows computed by the
    student's layer on just those rows (a small batch, from the k-th step's parameters; or
    "coupled" for a layer whose rows depend on each other at every size). It
    is used only when the timed outputs differ from the reference, to tell wrong-but-honest
    code (scored on speed; its values cost points in other checks) from skipped work or code
    that behaves differently at the timed size (zero). A StudentFailure other than a timeout
    (the code raised) propagates.
    """
    started = time.perf_counter()
    s = settings
    lr = s.learning_rate
    n_rows = min(16, X.shape[0])
    pick = lambda: sorted(int(r) for r in rng.choice(X.shape[0], n_rows, replace=False))  # noqa: E731
    reference.rival, student.rival = student, None
    for side in (reference, student):
        side.stash(X, G)
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
    # exclusively (staging above and verifying below need no quiet cores), and the
    # student's whole tree is frozen while the reference runs.
    with exclusive() if clock == "wall" else contextlib.nullcontext():
        result = _rounds(student, reference, s, pick, started)
    isolation = "; ".join(filter(None, [student.isolation, reference.isolation and f"your processes frozen while the reference ran ({reference.isolation})"]))
    clock = reference.clock  # "wall" if the CPU count failed during the race
    if result is not None:
        return dataclasses.replace(result, isolation=isolation, clock=clock, reference_warm=reference.warm)
    closed_form = closed_form if closed_form is not None and closed_form.X is X and closed_form.G is G else ClosedForm(X, G, lr)
    for rows, z, gi, W, b in reference.outputs:
        want_z, want_gi = closed_form.summaries(W, b, reference.k, "sum", rows)
        if not (z.matches(want_z, s.rtol) and gi.matches(want_gi, s.rtol)):
            raise RuntimeError("grader bug: the reference's timed outputs differ from the closed form")
    k = reference.k
    verified = _verify(student.outputs, lambda W, b, rows: closed_form.summaries(W, b, k, convention, rows), s.rtol, replay, k, rng)
    slowdown = statistics.median(student.seconds) / statistics.median(reference.seconds)
    fraction = timing_fraction(slowdown, s.full_within, s.zero_beyond, s.quantum) if verified != "failed" else 0.0
    return BenchResult(slowdown, fraction, k, tuple(student.seconds), tuple(reference.seconds), "", student.copied, verified, time.perf_counter() - started, isolation, clock,
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


def _rounds(student: Side, reference: Side, s: TimingSettings, pick: Callable[[], list[int]], started: float) -> BenchResult | None:
    """Warm-up, calibration and the alternating timed rounds; a BenchResult only when cut off.

    Outputs are collected on the sides (checked afterwards, outside the exclusive phase).
    """
    # Warm-up and calibration: a fresh twin's first round is cold (a kept twin that raced on
    # this data before needs no warm-up: its rows are still drawn, so later draws stay the same).
    rows = pick()
    if not reference.warm:
        reference.run(1, False, 30.0, rows)
    t_ref = reference.run(1, False, 30.0, pick())[0]
    if not t_ref > 0:  # the CPU count did not move (not seen once it is read settled): measure by the wall
        reference.clock = student.clock = "wall"
        t_ref = reference.run(1, False, 30.0, pick())[0]  # on the spare layer
    first_deadline = s.cutoff_seconds + s.zero_beyond * t_ref * 4
    try:
        t_stu, _, _, copy, _ = student.run(1, False, first_deadline, pick())
    except StudentFailure as failure:
        if failure.code != "timeout":
            raise
        return _cut(f"one forward+backward took over {first_deadline:.2f} s (the reference needs {t_ref * 1e3:.2f} ms)", 1, student, reference, False, started)
    # k >= 2: the last outputs then depend on the first step's update, so they cannot be remembered.
    k = max(2, min(1000, round(s.round_seconds / max(t_ref, 1e-6))))
    reference.k = k
    if t_stu > 3 * s.zero_beyond * t_ref:
        return _cut(f"the warm-up step took {t_stu / t_ref:.0f}× the reference's", k, student, reference, copy, started, t_stu / t_ref)
    deadline = s.cutoff_seconds + 4 * s.zero_beyond * t_ref * k
    for r in range(s.rounds):
        for side in ((reference, student) if r % 2 == 0 else (student, reference)):
            rows = pick()
            try:
                seconds, z, gi, mutated, (W, b) = side.run(k, copy, 30.0 if side is reference else deadline, rows)
            except StudentFailure as failure:
                if failure.code != "timeout" or side is reference:
                    raise
                return _cut(f"a round of {k} steps took over {deadline:.2f} s", k, student, reference, copy, started)
            side.seconds.append(seconds)
            side.outputs.append((rows, z, gi, W, b))
            if side is student:
                copy = copy or mutated
        fastest, slowest = min(student.seconds) / max(reference.seconds), max(student.seconds) / min(reference.seconds)
        margin = _certainty_margin(s, r + 1)
        if (r >= 2 and fastest > s.zero_beyond) or (margin is not None and fastest > s.zero_beyond * margin):
            return _cut(f"after {r + 1} round{'s' if r else ''} even the fastest was {fastest:.0f}× the reference's slowest", k, student, reference, copy, started)
        if margin is not None and slowest * margin <= s.full_within:
            break  # full points whatever later rounds measured: their median stays inside the full band
    student.copied = copy
    return None


def _certainty_margin(s: TimingSettings, rounds: int) -> float | None:
    """The factor by which every pair so far must clear an end of the curve for the race to stop
    after `rounds` rounds a side; None: not yet decidable."""
    if rounds >= s.decided_after:
        return s.margin
    return s.first_margin if rounds == 1 and s.first_margin > 0 else None


def _cut(why: str, k: int, student: Side, reference: Side, copy: bool, started: float, warm_up_ratio: float = math.nan) -> BenchResult:
    return BenchResult(math.inf, 0.0, k, tuple(student.seconds), tuple(reference.seconds), why, copy, "reference", time.perf_counter() - started,
                       warm_up_ratio=warm_up_ratio)


def _agree(rows: list[int], z: OutputSummary, gi: OutputSummary, full: tuple[Any, Any], rtol: float) -> bool:
    usable = all(isinstance(o, np.ndarray) and o.dtype.kind in "biuf" for o in full)
    return usable and z.matches(OutputSummary.of(full[0], rows), rtol) and gi.matches(OutputSummary.of(full[1], rows), rtol)


def _agree_with(z: OutputSummary, gi: OutputSummary, desired: tuple[OutputSummary, OutputSummary], rtol: float) -> bool:
    return z.matches(desired[0], rtol) and gi.matches(desired[1], rtol)


SMALL_BATCH_GRAD_RTOL = 0.1
"""grad_input rows from a small batch against the timed batch: loose, because code that
updates W before computing grad_input (a real mistake) sees a batch-dependent W (~1%)."""


def _verify(outputs: list[Any], desired: Callable[[np.ndarray, np.ndarray, list[int]], tuple[OutputSummary, OutputSummary]], rtol: float,
            replay: Callable[[np.ndarray, np.ndarray, int, list[int]], tuple[Any, Any, Any]] | None, k: int,
            rng: np.random.Generator) -> str:
    """'reference' when every timed round matches the reference; 'own-code' when the replayed
    rounds match the student's layer called the ordinary way (same W, b, k) AND their chosen
    rows are what the same layer gives on just those rows; otherwise 'failed'.

    A majority of the rounds, drawn at random, is replayed: to move the median, work must be
    skipped in a majority of the rounds too, so at least one replayed round would show it."""
    if all(_agree_with(z, gi, desired(W, b, rows), rtol) for rows, z, gi, W, b in outputs):
        return "reference"
    if replay is None:
        return "failed"
    majority = sorted(int(i) for i in rng.choice(len(outputs), len(outputs) // 2 + 1, replace=False))
    for rows, z, gi, W, b in (outputs[i] for i in majority):
        Z, grad_input, small = replay(W, b, k, rows)
        if not _agree(rows, z, gi, (Z, grad_input), rtol):
            return "failed"
        if small == "coupled":  # rows depend on other rows at every size: no row check possible
            continue
        if not (isinstance(small, tuple) and all(isinstance(a, np.ndarray) for a in small)):
            return "failed"
        if relative_error(z.rows, small[0]) > rtol or relative_error(gi.rows, small[1]) > SMALL_BATCH_GRAD_RTOL:
            return "failed"
    return "own-code"
