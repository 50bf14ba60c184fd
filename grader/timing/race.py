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
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator

import numpy as np

from ..errors import StudentFailure
from ..sandbox.replies import reply_int
from ..sandbox.session import Remote, StudentSession
from .outputs import ClosedForm, TimedRun, expected_outputs, relative_error
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
    runs: list[TimedRun] = field(default_factory=list)
    """Every timed request's outputs as checked (the warm-up's too, unless it wrote into its inputs)."""
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
    dtypes: tuple[str, str] = ("float64", "float64")
    """What every timed forward and backward must return: the dtypes the layer's ordinary
    calls return (float32 code stays float32), never a different one only when timed."""
    checked: int = 2
    """Steps per timed request whose full outputs are fetched afterwards."""
    slots: tuple[int, tuple[int, int, int]] | None = None
    """(steps, (N, in, out)) the worker's output slots are made for."""

    def request(self, header: dict[str, Any], arrays: list[np.ndarray], what: str, timeout: float | None = None) -> tuple[dict[str, Any], list[np.ndarray]]:
        return self.session.bench(header, arrays, f"{self.label}: {what}", timeout)

    made: list[int] = field(default_factory=list)
    held_inputs: list[tuple[Remote, Remote]] = field(default_factory=list)
    """Handles of each pool pair's pristine X and G in the worker (CPU only): a call given one gets a fresh copy."""
    stash_memo: dict[tuple[int, int, int, int, str], tuple[Any, ...]] | None = None
    """Data this worker keeps between races (the reference twin's: every grading races on the same pool)."""
    transposed: bool = False
    """The student's layer stores W as (out, in) (see base.set_params)."""
    warm: bool = False
    """This worker already raced on this data (a kept twin): its first round is not cold."""
    size: tuple[int, int, int] = (0, 0, 0)
    """(N, in, out) of the stashed data."""

    def stash(self, X: np.ndarray, G: np.ndarray, orders: np.ndarray) -> None:
        """Send the inputs and the pool's row orders once (and, with a `stash_memo`, once for every race on them)."""
        self.size = (X.shape[0], X.shape[1], G.shape[1])
        memo_key = (id(X), id(G), id(orders), self.session.generation, self.device)
        if self.stash_memo is not None and memo_key in self.stash_memo:
            _, _, _, self.data, self.held_inputs = self.stash_memo[memo_key]
            self.warm = True
            return
        header = {"op": "bench_data", "x": {"t": "a", "i": 0}, "g": {"t": "a", "i": 1}, "orders": {"t": "a", "i": 2}, "device": self.device}
        reply, _ = self.request(header, [X, G, orders], "loading the benchmark data")
        what = f"{self.label}: loading the benchmark data"
        self.data = reply_int(reply.get("data"), what)
        held = reply.get("held")
        if self.device == "cpu" and isinstance(held, list):
            gen = self.session.generation
            self.held_inputs = [(Remote(reply_int(pair[0], what), gen), Remote(reply_int(pair[1], what), gen)) for pair in held if isinstance(pair, list) and len(pair) == 2]
        if self.stash_memo is not None:  # kept in the worker; X, G and orders held so their ids stay theirs
            self.stash_memo[memo_key] = (X, G, orders, self.data, self.held_inputs)
        else:
            self.made += [self.data, *(h.handle for pair in self.held_inputs for h in pair)]

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

    def _make_slots(self, steps: int) -> None:
        """(Untimed) the worker's slots for `steps` steps' outputs, unless made already."""
        if self.slots is not None and self.slots[0] >= steps and self.slots[1] == self.size:
            return
        n, n_in, n_out = self.size
        header = {"op": "bench_ring", "data": self.data, "k": steps, "shapes": [[n, n_out], [n, n_in]], "dtypes": list(self.dtypes)}
        self.request(header, [], f"making room for {steps} steps' outputs")
        self.slots = (steps, self.size)

    def run(self, order: list[int], copy: bool, timeout: float, picker: np.random.Generator) -> tuple[float, TimedRun]:
        """One timed run on a fresh layer, one step per entry of `order` (the pool pair it takes):
        its seconds, the full outputs of `checked` steps that `picker` draws (in the grader; the
        worker learns them once the steps are done), and (untimed) whether the layer wrote into
        its inputs. On the CPU the clock stops only when those outputs are in the grader's
        hands: work finished later (a thread filling the slots after the request) would be
        timed, or too late to be read. On a GPU (hundreds of MB per step) they are fetched just
        after the clock stops."""
        handle, W, b = self.layers.pop(0)
        self.session.ensure_alive()
        self._make_slots(len(order))
        header = {"op": "bench", "layer": handle, "data": self.data, "order": order, "copy": copy}
        worker = self.session.worker
        steps = sorted(int(j) for j in picker.choice(len(order), min(self.checked, len(order)), replace=False))
        fetch = {"op": "bench_outputs", "data": self.data, "steps": steps}
        fetched: tuple[dict[str, Any], list[np.ndarray]] = ({}, [])
        with self._rival_frozen():
            cpu_start = worker.cpu_seconds() if self.clock == "cpu" else None
            start = time.perf_counter()
            reply, _ = self.request(header, [], f"{len(order)}× forward+backward", timeout)
            done = reply.get("steps") == len(order) and reply.get("stand_in") is None
            if done and steps and self.device == "cpu":
                fetched = self.request(fetch, [], "reading the timed outputs", timeout)
            elapsed = time.perf_counter() - start
            if cpu_start is not None:
                cpu_end = worker.cpu_seconds()
                elapsed = cpu_end - cpu_start if cpu_end is not None else math.nan
        if not done:
            return elapsed, TimedRun(W, b, tuple(order), stand_in=_stand_in(reply.get("stand_in"), self.dtypes, self.size))
        if steps and self.device != "cpu":
            fetched = self.request(fetch, [], "reading the timed outputs", timeout)
        outputs = fetched[0].get("outputs")
        pairs = [[self.session._decode(v, fetched[1]) for v in item] if isinstance(item, list) and len(item) == 2 else [None, None]  # noqa: SLF001
                 for item in (outputs if isinstance(outputs, list) else [])]
        pairs += [[None, None]] * (len(steps) - len(pairs))  # a forged reply with fewer: those steps match nothing
        checked = tuple((j, z, gi) for j, (z, gi) in zip(steps, pairs))
        mutated = False
        if not copy:
            restored, _ = self.request({"op": "bench_inputs", "data": self.data, "used": sorted(set(order))}, [], "checking the inputs")
            mutated = restored.get("mutated") is not False
        return elapsed, TimedRun(W, b, tuple(order), checked, mutated=mutated)


def _stand_in(record: Any, dtypes: tuple[str, str], size: tuple[int, int, int]) -> str:
    """The sentence for a call that returned something else than the plain array expected ('' if none)."""
    if not isinstance(record, dict):
        return "a reply that does not say every step ran"
    n, n_in, n_out = size
    output = "backward" if record.get("output") == "backward" else "forward"
    shape, dtype = ((n, n_in), dtypes[1]) if output == "backward" else ((n, n_out), dtypes[0])
    what = str(record.get("what", "something else"))[:120]
    return f"{output} returned {what} where a plain numpy.ndarray of {dtype} with shape {shape} was expected"


def race_orders(rng: np.random.Generator, n_rows: int, pool: int) -> np.ndarray:
    """Row orders of X and of G for each pool pair, shape (pool, 2, N): every pair is another
    shuffle of the same data, so the pool costs one transfer, and X and G are paired anew."""
    return np.stack([np.stack([rng.permutation(n_rows), rng.permutation(n_rows)]) for _ in range(pool)])


def _order(picker: np.random.Generator, steps: int, pool: int) -> list[int]:
    """The pool pair of each step: shuffles of the whole pool, end to end, so a pair comes back
    only after every other one (never twice in a row), in an order the worker cannot foresee."""
    order: list[int] = []
    while len(order) < steps:
        batch = [int(p) for p in picker.permutation(pool)]
        if order and batch[0] == order[-1] and pool > 1:
            batch.reverse()
        order += batch
    return order[:steps]


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
    order = lambda steps: _order(picker, steps, s.pool)  # noqa: E731
    # Warm-up and calibration: a fresh twin's first round is cold (a kept twin that raced on
    # this data before needs no warm-up).
    if not reference.warm:
        _keep(reference, *reference.run(order(1), False, 30.0, picker))
    t_ref = _keep(reference, *reference.run(order(1), False, 30.0, picker))
    if not t_ref > 0:  # the CPU count did not move (not seen once it is read settled): measure by the wall
        reference.clock = student.clock = "wall"
        t_ref = _keep(reference, *reference.run(order(1), False, 30.0, picker))  # on the spare layer
    first_deadline = s.cutoff_seconds + s.zero_beyond * t_ref * 4
    try:
        t_stu, warm_up = student.run(order(1), False, first_deadline, picker)
    except StudentFailure as failure:
        if failure.code != "timeout":
            raise
        return _cut(f"one forward+backward took over {first_deadline:.2f} s (the reference needs {t_ref * 1e3:.2f} ms)", 1, student, reference, False, started)
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
