"""The timing lock, with real processes: exclusive means alone, and a writer is not starved."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from grader import exclusive


def _sharer(lock: str, log: str, until: float) -> None:
    os.environ[exclusive.LOCK_ENV] = lock
    with open(log, "a") as out:
        while time.time() < until:
            with exclusive.grading_phase():
                start = time.time()
                time.sleep(0.02)
                out.write(f"S {start} {time.time()}\n")
                out.flush()


def _writer(lock: str, log: str, rounds: int) -> None:
    os.environ[exclusive.LOCK_ENV] = lock
    with open(log, "a") as out, exclusive.grading_phase():
        for _ in range(rounds):
            asked = time.time()
            with exclusive.exclusive_phase():
                start = time.time()
                time.sleep(0.03)
                out.write(f"X {start} {time.time()} {start - asked}\n")
                out.flush()
            time.sleep(0.01)


def test_exclusive_phase_runs_alone_and_is_not_starved(tmp_path: Path) -> None:
    lock, log = str(tmp_path / "lock"), str(tmp_path / "log")
    context = multiprocessing.get_context("fork")
    until = time.time() + 2.5
    sharers = [context.Process(target=_sharer, args=(lock, log, until)) for _ in range(3)]
    writer = context.Process(target=_writer, args=(lock, log, 5))
    for p in [*sharers, writer]:
        p.start()
    for p in [writer, *sharers]:
        p.join(timeout=30)
        assert p.exitcode == 0
    rows = [line.split() for line in Path(log).read_text().splitlines()]
    shared = [(float(r[1]), float(r[2])) for r in rows if r[0] == "S"]
    excl = [(float(r[1]), float(r[2]), float(r[3])) for r in rows if r[0] == "X"]
    assert len(excl) == 5 and len(shared) > 20
    for x_start, x_end, waited in excl:
        assert waited < 1.0, f"the exclusive lock waited {waited:.2f} s behind a stream of sharers"
        overlapping = [s for s in shared if s[0] < x_end - 1e-3 and s[1] > x_start + 1e-3]
        assert not overlapping, f"shared work ran during an exclusive phase: {overlapping[:3]}"


def test_without_the_variable_nothing_is_locked(monkeypatch) -> None:
    monkeypatch.delenv(exclusive.LOCK_ENV, raising=False)
    with exclusive.grading_phase(), exclusive.exclusive_phase():
        pass
