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
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator

__all__ = ["grading_phase", "exclusive_phase", "LOCK_ENV"]

LOCK_ENV = "GRADER_LOCK_FILE"
_state = {"main": -1, "turnstile": -1, "depth": 0}


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _take_shared() -> None:
    fcntl.flock(_state["turnstile"], fcntl.LOCK_EX)
    try:
        fcntl.flock(_state["main"], fcntl.LOCK_SH)
    finally:
        fcntl.flock(_state["turnstile"], fcntl.LOCK_UN)


@contextmanager
def grading_phase() -> Iterator[None]:
    """Hold the shared lock while grading (re-entrant within a process)."""
    path = os.environ.get(LOCK_ENV)
    if not path:
        yield
        return
    if _state["depth"] == 0:
        _state["main"], _state["turnstile"] = _open(path), _open(path + ".turnstile")
        _take_shared()
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if _state["depth"] == 0:
            fcntl.flock(_state["main"], fcntl.LOCK_UN)
            for key in ("main", "turnstile"):
                os.close(_state[key])
                _state[key] = -1


@contextmanager
def exclusive_phase() -> Iterator[None]:
    """Run the body with no other grading process active."""
    path = os.environ.get(LOCK_ENV)
    if not path:
        yield
        return
    with grading_phase():
        fcntl.flock(_state["main"], fcntl.LOCK_UN)  # never wait for the turnstile holding the main lock
        fcntl.flock(_state["turnstile"], fcntl.LOCK_EX)
        try:
            fcntl.flock(_state["main"], fcntl.LOCK_EX)
        finally:
            fcntl.flock(_state["turnstile"], fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(_state["main"], fcntl.LOCK_SH)  # downgrade: back to ordinary grading
