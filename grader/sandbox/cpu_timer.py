"""Time limits on student code in CPU seconds, with a wall-clock backstop.

A statement's or a call's limit counts the CPU time the worker's process uses
(ITIMER_PROF: every thread of it, user and system), so the same code gets the same verdict
on a quiet machine and on the oversubscribed cores of a batch, whatever the other jobs do.
Code that uses no CPU while it waits (a sleep, a blocking read) is stopped by the wall
clock after `WALL_FACTOR` times the limit; the grader's own waits for a reply allow as much
(`wall_limit`). Processes the code starts are not counted here: their CPU is capped by the
worker's cgroup and they are killed after every request.

Standard library only: imported by the worker (beside it in the sandbox) and by the grader.
"""

from __future__ import annotations

import signal
from typing import Any, Callable

__all__ = ["WALL_FACTOR", "wall_limit", "install", "restore", "start", "stop"]

WALL_FACTOR = 3.0
"""Wall seconds allowed per CPU second of a limit: a job of a batch with one job more than
cores gets at least ~2/3 of a core, so honest code never meets the wall backstop first."""

_SIGNALS = (signal.SIGPROF, signal.SIGALRM)


def wall_limit(cpu_seconds: float) -> float:
    """The wall-clock backstop of a limit of `cpu_seconds`."""
    return cpu_seconds * WALL_FACTOR


def install(handler: Callable[[int, Any], None]) -> list[Any]:
    """`handler` for both timers' signals, called once per `start`: whichever timer fires
    first disarms the other. Returns the previous handlers (for `restore`)."""

    def fired(signum: int, frame: Any) -> None:
        stop()
        handler(signum, frame)

    return [signal.signal(sig, fired) for sig in _SIGNALS]


def restore(previous: list[Any]) -> None:
    for sig, handler in zip(_SIGNALS, previous):
        signal.signal(sig, handler)


def start(cpu_seconds: float) -> None:
    """Arm both timers: the CPU limit and its wall-clock backstop."""
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    signal.setitimer(signal.ITIMER_REAL, wall_limit(cpu_seconds))


def stop() -> None:
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.setitimer(signal.ITIMER_REAL, 0)
