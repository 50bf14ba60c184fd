"""The timing lock, with real processes: exclusive means alone, and a writer is not starved."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from grader.timing import exclusive


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


HOLDER = """
import sys, time
from grader.timing import exclusive
with exclusive.grading_phase():
    print("HOLDING", flush=True)
    time.sleep(60)
"""
WAITER = """
import time
from grader.timing import exclusive
started = time.monotonic()
with exclusive.exclusive_phase():
    print(f"GOT {time.monotonic() - started:.2f}", flush=True)
"""


def _python(code: str, lock: str, **kwargs):
    import subprocess
    import sys

    env = dict(os.environ, **{exclusive.LOCK_ENV: lock, exclusive.LEASE_ENV: "3"})
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parent.parent, **kwargs)


def _start_holder(lock: str):
    holder = _python(HOLDER, lock)
    assert holder.stdout.readline().strip() == "HOLDING"
    return holder


def test_a_stuck_holder_lets_go_when_its_lease_runs_out(tmp_path: Path) -> None:
    """A grading process stuck while holding the lock (here: asleep) cannot block the machine."""
    lock = str(tmp_path / "lock")
    holder = _start_holder(lock)
    try:
        waiter = _python(WAITER, lock)
        out, err = waiter.communicate(timeout=30)
    finally:
        holder.kill()
        _, holder_err = holder.communicate()
    waited = float(out.split()[1])
    assert 2.5 < waited < 10, out
    assert f"held by pid {holder.pid} (shared for " in err, err  # which lock, whose, how long
    assert "timing lock " + lock in err
    assert "past its 3 s lease: released" in holder_err, holder_err


def test_a_stopped_holder_is_passed_once_its_lease_is_over(tmp_path: Path) -> None:
    """A stopped holder's watchdog cannot run: the waiter sees the lease is over and goes on."""
    import signal

    lock = str(tmp_path / "lock")
    holder = _start_holder(lock)
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        waiter = _python(WAITER, lock)
        out, err = waiter.communicate(timeout=30)
    finally:
        holder.kill()
        holder.communicate()
    assert out.startswith("GOT ") and float(out.split()[1]) < 10, out
    assert f"pid {holder.pid}" in err and "past its lease: going on without the lock" in err, err
