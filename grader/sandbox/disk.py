"""The fallback bound on what a worker writes, where it cannot have a private tmpfs.

With a mount namespace every writable place of the worker is one size-capped tmpfs
(rootfs.py) and a write past it fails with ENOSPC. Without one (no root and no user
namespaces, or no fork server) the worker writes into its folder on the grader's disk: each
file is capped by RLIMIT_FSIZE (EFBIG), and `DiskWatch` measures the folder several times a
second and kills the worker once it holds more than the bound, so a student who fills the
disk loses their own check, not the batch.
"""

from __future__ import annotations

import os
import stat
import threading
from typing import Callable

__all__ = ["DiskWatch", "folder_bytes"]

POLL_S = 0.05
"""How often the folder is measured: what a worker can write between two looks is its overshoot."""


def folder_bytes(path: str, stop_above: int | None = None) -> int:
    """Bytes the files under `path` occupy (allocated blocks, links never followed); stops
    counting once past `stop_above`. A walk with an explicit stack: any depth, no recursion."""
    total, stack = 0, [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += getattr(info, "st_blocks", 0) * 512 or info.st_size
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
            if stop_above is not None and total > stop_above:
                return total
    return total


class DiskWatch(threading.Thread):
    """Calls `on_over` (once) when `folder` holds more than `limit` bytes; `stop()` ends it."""

    def __init__(self, folder: str, limit: int, on_over: Callable[[], None]) -> None:
        super().__init__(daemon=True, name="grade-disk-watch")
        self.folder, self.limit, self.on_over = folder, limit, on_over
        self.over = False
        """True once the worker went past the bound (it was killed for it)."""
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(POLL_S):
            if folder_bytes(self.folder, self.limit) > self.limit:
                self.over = True
                self.on_over()
                return

    def stop(self) -> None:
        self._stopped.set()
