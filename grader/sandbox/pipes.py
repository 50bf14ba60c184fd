"""The grader's ends of a worker's pipes: its output, drained and capped, and its replies,
read against a deadline; client.py starts the worker and talks to it through them."""

from __future__ import annotations

import fcntl
import os
import select
import sys
import threading
import time
from typing import Any

__all__ = ["OutputDrain", "DeadlineReader", "widen_pipe", "IN_PLACE_MIN", "IN_PLACE_MAX", "PIPE_BYTES"]


class OutputDrain(threading.Thread):
    """Reads the worker's stdout/stderr so it never blocks; keeps the head, counts the rest."""

    def __init__(self, fd: int, keep: int, limit: int, on_flood: Any) -> None:
        super().__init__(daemon=True)
        self.fd, self.keep, self.limit, self.on_flood = fd, keep, limit, on_flood
        self.head = bytearray()
        self.total = 0
        self.flooded = False

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            if len(self.head) < self.keep:
                self.head += chunk[: self.keep - len(self.head)]
            self.total += len(chunk)
            if self.total > self.limit and not self.flooded:
                self.flooded = True
                self.on_flood()
        os.close(self.fd)

    def text(self) -> str:
        text = self.head.decode("utf-8", "replace")
        if self.total > len(self.head):
            text += f"\n... [{self.total - len(self.head)} more bytes of output cut]"
        return text


IN_PLACE_MIN, IN_PLACE_MAX = 1 << 16, 16 << 20
"""Reads of this many bytes are filled in place. Above the maximum the buffer grows with the data
that arrives: a forged size (up to the protocol's caps) must not make the grader touch that
much memory before a byte of it was sent."""


class DeadlineReader:
    """A file-like `read(n)` over a pipe that raises TimeoutError past a deadline.

    Returns a fresh bytearray of its own per read: a large read (an array of a reply) is
    filled in place from the pipe, not appended to a buffer and copied out twice, and the
    protocol can wrap it in a writeable array without another copy."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.deadline = 0.0

    def _wait(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
            raise TimeoutError

    def read(self, n: int) -> bytearray:
        if IN_PLACE_MIN <= n - len(self.buffer) and n <= IN_PLACE_MAX:
            return self._read_large(n)
        while len(self.buffer) < n:
            self._wait()
            chunk = os.read(self.fd, max(65536, min(n - len(self.buffer), IN_PLACE_MAX)))
            if not chunk:
                break
            self.buffer += chunk
        data = self.buffer[:n]
        del self.buffer[:n]
        return data

    def _read_large(self, n: int) -> bytearray:
        data = bytearray(n)
        view = memoryview(data)
        filled = len(self.buffer)
        view[:filled] = self.buffer
        self.buffer.clear()
        while filled < n:
            self._wait()
            got = os.readv(self.fd, [view[filled:]])
            if not got:
                return data[:filled]  # closed mid-message: the caller sees a short read
            filled += got
        return data


PIPE_BYTES = 1 << 20
"""Requested size of the request and reply pipes. With the default 64 KiB a 1.5 MiB reply
(the learning check's parameters) is 24 writes, each a sleep and a wake-up of both
processes, and wake-ups are what a virtual machine charges most for."""


def widen_pipe(fd: int) -> None:
    """Grow a pipe's buffer to PIPE_BYTES where Linux allows it (capped by
    /proc/sys/fs/pipe-max-size for unprivileged users; a refusal leaves the default)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass
