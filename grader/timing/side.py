"""One worker in the timing race: its stashed input pool, fresh layers, output slots and timed runs.

A timed run (`Side.run`) is one `bench` request on a fresh layer, one step per entry of its
`order` (the pool pair each step takes; grader/sandbox/ops_timing.py runs it), timed from
the grader's side; then the full outputs of steps the grader names only once the steps are
done. The race itself is grader/timing/race.py.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from ..sandbox.replies import reply_int
from ..sandbox.session import Remote, StudentSession
from .outputs import TimedRun

__all__ = ["Side", "race_orders", "step_order"]

KEPT_STASHES = 4
"""Pools a kept twin holds at most (~25 MB each at the CPU size); the oldest is freed first."""


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
            while len(self.stash_memo) >= KEPT_STASHES:  # the oldest pool is freed with this race's objects
                *_, data, held = self.stash_memo.pop(next(iter(self.stash_memo)))
                self.made += [data, *(h.handle for pair in held for h in pair)]
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

    def run(self, order: list[int], copy: bool, timeout: float, picker: np.random.Generator, scored: bool = True) -> tuple[float, TimedRun]:
        """One timed run on a fresh layer, one step per entry of `order` (the pool pair it takes):
        its seconds, the full outputs of `checked` steps that `picker` draws (in the grader; the
        worker learns them once the steps are done), and (untimed) whether the layer wrote into
        its inputs. On the CPU the clock stops only when those outputs are in the grader's
        hands: work finished later (a thread filling the slots after the request) would be
        timed, or too late to be read. On a GPU (hundreds of MB per step), and for a run whose
        time is not `scored` (warm-up, calibration: a faster time there cannot earn points),
        they are fetched just after the clock stops."""
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
            in_clock = scored and self.device == "cpu"
            if done and steps and in_clock:
                fetched = self.request(fetch, [], "reading the timed outputs", timeout)
            elapsed = time.perf_counter() - start
            if cpu_start is not None:
                cpu_end = worker.cpu_seconds()
                elapsed = cpu_end - cpu_start if cpu_end is not None else math.nan
        if not done:
            return elapsed, TimedRun(W, b, tuple(order), stand_in=_stand_in(reply.get("stand_in"), self.dtypes, self.size, self.device))
        if steps and not in_clock:
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


def _stand_in(record: Any, dtypes: tuple[str, str], size: tuple[int, int, int], device: str) -> str:
    """The sentence for a call that returned something else than the plain array expected ('' if none)."""
    if not isinstance(record, dict):
        return "a reply that does not say every step ran"
    n, n_in, n_out = size
    output = "backward" if record.get("output") == "backward" else "forward"
    shape, dtype = ((n, n_in), dtypes[1]) if output == "backward" else ((n, n_out), dtypes[0])
    what = str(record.get("what", "something else"))[:120]
    plain = "numpy.ndarray" if device == "cpu" else "cupy.ndarray"
    return f"{output} returned {what} instead of a plain {plain} of {dtype} with shape {shape}"


def race_orders(rng: np.random.Generator, n_rows: int, pool: int) -> np.ndarray:
    """Row orders of X and of G for each pool pair, shape (pool, 2, N): every pair is another
    shuffle of the same data, so the pool costs one transfer, and X and G are paired anew."""
    return np.stack([np.stack([rng.permutation(n_rows), rng.permutation(n_rows)]) for _ in range(pool)])


def step_order(picker: np.random.Generator, steps: int, pool: int) -> list[int]:
    """The pool pair of each step: shuffles of the whole pool, end to end, so a pair comes back
    only after every other one (never twice in a row), in an order the worker cannot foresee."""
    order: list[int] = []
    while len(order) < steps:
        batch = [int(p) for p in picker.permutation(pool)]
        if order and batch[0] == order[-1] and pool > 1:
            batch.reverse()
        order += batch
    return order[:steps]
