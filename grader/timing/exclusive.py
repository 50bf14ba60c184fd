"""Keep timing honest when many submissions are graded at once.

Grading holds a *shared* lock; a timing benchmark takes an *exclusive* one, so no other
grading work runs on the machine's cores while a submission is timed. The lock is a file
named by GRADER_LOCK_FILE (the batch grader sets it for its processes); when the variable
is unset (a single `grade`), both context managers do nothing.

Fairness: plain flock lets a steady stream of shared holders starve a process that waits
for the exclusive lock. A second file, the turnstile, fixes that: sharers pass through it
on the way in, and a process that wants the exclusive lock holds it while it waits, so no
new sharer can enter. A process never waits for the turnstile while holding the main
lock, so the two locks cannot deadlock.

Bounded: every hold is a lease (GRADER_LOCK_LEASE seconds for grading, a tenth of it for a
timing measurement). A watchdog thread of the holder lets go when its lease runs out (a
grading process stuck anywhere cannot keep it), and a waiter whose blockers are all past
their lease (a holder that is stopped, so its watchdog cannot run) goes on without the lock
and says so. A wait longer than a moment says on stderr what it waits for: which lock, held
by which process, for how long (holders leave `LOCK.holder.PID` notes beside the lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["grading_phase", "exclusive_phase", "LOCK_ENV", "LEASE_ENV", "holders"]

LOCK_ENV = "GRADER_LOCK_FILE"
LEASE_ENV = "GRADER_LOCK_LEASE"
DEFAULT_LEASE = 600.0
"""Seconds one grading may hold the shared lock (the batch default --timeout; a measurement: a tenth)."""
SAY_AFTER = 2.0
"""Seconds of waiting before the wait is reported (then every 30 s)."""
_state: dict[str, object] = {"main": -1, "turnstile": -1, "depth": 0, "path": "", "timer": None}


def _lease(exclusive: bool = False) -> float:
    try:
        lease = float(os.environ.get(LEASE_ENV, DEFAULT_LEASE))
    except ValueError:
        lease = DEFAULT_LEASE
    return lease / 10 if exclusive else lease


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _note(path: str, mode: str | None, lease: float = 0.0) -> None:
    """Leave (or remove) this process's holder note beside `path`."""
    note = f"{path}.holder.{os.getpid()}"
    try:
        if mode is None:
            os.unlink(note)
        else:
            with open(note, "w") as handle:
                json.dump({"mode": mode, "since": time.time(), "until": time.time() + lease, "argv": " ".join(sys.argv)[:200]}, handle)
    except OSError:
        pass


def holders(path: str) -> list[dict[str, object]]:
    """Who holds the lock file now: pids from /proc/locks, with their notes (mode, since, until)."""
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if "->" in parts or len(parts) < 6 or not parts[5].rsplit(":", 1)[-1].isdigit() or int(parts[5].rsplit(":", 1)[-1]) != inode:
            continue
        pid = int(parts[4])
        if pid == os.getpid():
            continue
        try:
            with open(f"{path}.holder.{pid}") as handle:
                info = json.load(handle)
        except (OSError, ValueError):
            info = {}
        found.append(dict(info, pid=pid))
    return found


def _describe(path: str, found: list[dict[str, object]]) -> str:
    now = time.time()
    if not found:
        return f"timing lock {path}: held by a process that left no note"
    parts = []
    for h in found:
        since = h.get("since")
        held = f" for {now - float(since):.0f} s" if isinstance(since, (int, float)) else ""
        parts.append(f"pid {h['pid']} ({h.get('mode', '?')}{held}; {h.get('argv', '?')})")
    return f"timing lock {path}: held by " + ", ".join(parts)


def _acquire(fd: int, path: str, mode: int, what: str) -> bool:
    """flock with a report of what we wait for; False when every blocker's lease ran out
    (a stopped holder): the caller goes on without the lock."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    started, said, checked, pause = time.monotonic(), 0.0, 0.0, 0.005
    while True:
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        waited = time.monotonic() - started
        if waited < SAY_AFTER or waited - checked < 1.0:
            continue
        checked, found = waited, holders(path)
        if found and all(isinstance(h.get("until"), (int, float)) and time.time() > float(h["until"]) for h in found):
            print(f"grade: waited {waited:.0f} s {what}; {_describe(path, found)}, past its lease: going on without the lock "
                  "(timing may be noisier)", file=sys.stderr, flush=True)
            return False
        if waited - said >= (SAY_AFTER if said == 0 else 30.0):
            said = waited
            print(f"grade: waiting {waited:.0f} s {what}; {_describe(path, found)}", file=sys.stderr, flush=True)


def _arm(lease: float) -> None:
    """(Re)start the watchdog: when the lease runs out, this process lets go of the lock."""
    timer = _state.get("timer")
    if isinstance(timer, threading.Timer):
        timer.cancel()
    fd, path = _state["main"], str(_state["path"])

    def expire() -> None:
        try:
            fcntl.flock(int(fd), fcntl.LOCK_UN)
        except OSError:
            return
        _note(path, None)
        print(f"grade: held the timing lock {path} past its {lease:g} s lease: released", file=sys.stderr, flush=True)

    timer = threading.Timer(lease, expire)
    timer.daemon = True
    timer.start()
    _state["timer"] = timer


def _disarm() -> None:
    timer = _state.get("timer")
    if isinstance(timer, threading.Timer):
        timer.cancel()
    _state["timer"] = None


def _take_shared() -> None:
    main, turnstile, path = int(_state["main"]), int(_state["turnstile"]), str(_state["path"])
    passed = _acquire(turnstile, path + ".turnstile", fcntl.LOCK_EX, "to start grading (a timing measurement goes first)")
    if passed:
        _note(path + ".turnstile", "passing", _lease(True))
    try:
        _acquire(main, path, fcntl.LOCK_SH, "to start grading (a submission is being timed)")
    finally:
        if passed:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
            _note(path + ".turnstile", None)
    _note(path, "shared", _lease())
    _arm(_lease())


@contextmanager
def grading_phase() -> Iterator[None]:
    """Hold the shared lock while grading (re-entrant within a process)."""
    path = os.environ.get(LOCK_ENV)
    if not path:
        yield
        return
    if _state["depth"] == 0:
        _state["main"], _state["turnstile"], _state["path"] = _open(path), _open(path + ".turnstile"), path
        _take_shared()
    _state["depth"] = int(_state["depth"]) + 1
    try:
        yield
    finally:
        _state["depth"] = int(_state["depth"]) - 1
        if _state["depth"] == 0:
            _disarm()
            fcntl.flock(int(_state["main"]), fcntl.LOCK_UN)
            _note(path, None)
            for key in ("main", "turnstile"):
                os.close(int(_state[key]))
                _state[key] = -1


@contextmanager
def exclusive_phase() -> Iterator[None]:
    """Run the body with no other grading process active."""
    path = os.environ.get(LOCK_ENV)
    if not path:
        yield
        return
    with grading_phase():
        main, turnstile = int(_state["main"]), int(_state["turnstile"])
        _disarm()
        fcntl.flock(main, fcntl.LOCK_UN)  # never wait for the turnstile holding the main lock
        _note(path, None)
        passed = _acquire(turnstile, path + ".turnstile", fcntl.LOCK_EX, "to time a submission (behind another timing)")
        if passed:
            _note(path + ".turnstile", "waiting for exclusive", _lease(True))
        try:
            _acquire(main, path, fcntl.LOCK_EX, "to time a submission alone (other gradings are running)")
        finally:
            if passed:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
                _note(path + ".turnstile", None)
        _note(path, "exclusive", _lease(True))
        _arm(_lease(True))
        try:
            yield
        finally:
            _disarm()
            fcntl.flock(main, fcntl.LOCK_SH)  # downgrade: back to ordinary grading
            _note(path, "shared", _lease())
            _arm(_lease())
