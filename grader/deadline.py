"""The overall time limit of grading one submission (`grade --timeout`, `grade batch --timeout`).

Every request to the student's process is cut to the time that is left, and once it is
spent the checks not yet run score zero with a `timeout` note: grading always ends and the
report is still written. Time spent waiting for the shared timing lock (another
submission being timed) is not the submission's doing and is not counted.
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager, contextmanager
from typing import Iterator, TypeVar

__all__ = ["Deadline", "DEFAULT_TIMEOUT"]

DEFAULT_TIMEOUT = 600.0
"""Seconds of work one submission may take in all, for `grade` and per student in `grade batch`."""

T = TypeVar("T")


class Deadline:
    """A point in (monotonic) time after which no more student code is run."""

    def __init__(self, seconds: float | None = DEFAULT_TIMEOUT) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds if seconds else math.inf

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def at(self) -> float:
        """The deadline on `time.monotonic()`'s clock (inf when there is none)."""
        return self._end

    def cap(self, timeout: float) -> float:
        """`timeout`, shortened to the time that is left."""
        return min(timeout, self.remaining())

    def describe(self) -> str:
        return f"grading reached its overall time limit of {self.seconds:g} s"

    @contextmanager
    def not_counting_wait(self, manager: AbstractContextManager[T]) -> Iterator[T]:
        """Enter `manager` (a lock) without counting the wait for it against the deadline."""
        started = time.monotonic()
        with manager as value:
            self._end += time.monotonic() - started
            yield value
