"""The student's own kernel as a session: the checks' interface over `__main__`, no sandbox.

`check()` in a notebook grades the definitions of the live kernel. The sandbox worker's own
request handlers (`grader/sandbox/worker.py: Worker`) serve the requests here, in process,
on a shallow copy of the kernel's namespace (grader probe classes never land in the
student's namespace), so values are copied, encoded and described exactly as in the
sandbox and the verdicts are those of `grade check` on the saved notebook. Nothing is
isolated: this is the student's code on the student's machine; a hang is theirs to interrupt.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..sandbox import protocol as grader_protocol
from ..sandbox.client import SandboxConfig
from ..sandbox.session import StudentSession
from ..submission import Submission

__all__ = ["KernelSession"]


def _worker_module() -> Any:
    """grader/sandbox/worker.py, which imports its sibling `protocol` as a top-level module
    (it runs as a script in the sandbox); imported without leaving that name or the
    sandbox folder on the kernel's sys.path."""
    if "grader.sandbox.worker" in sys.modules:
        return sys.modules["grader.sandbox.worker"]
    path, added = list(sys.path), "protocol" not in sys.modules
    sys.modules.setdefault("protocol", grader_protocol)
    try:
        return importlib.import_module("grader.sandbox.worker")
    finally:
        sys.path[:] = path
        if added:
            sys.modules.pop("protocol", None)


_GRADER_DIR = str(Path(__file__).resolve().parents[1])


def _kernel_traceback(exc: BaseException) -> str:
    """The student's frames (their cells), without the grader's own."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_GRADER_DIR)]
    lines = ["Traceback (your code, most recent call last):\n"] + traceback.format_list(frames)
    return "".join(lines + traceback.format_exception_only(type(exc), exc))[-4000:]


class _KernelWorker:
    """A worker whose requests run here: the sandbox's handlers, without the process."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        module = _worker_module()
        self._error_record = module.error_record
        self.worker = module.Worker()
        self.worker.namespace = dict(namespace)
        self.worker.reply_fd = os.open(os.devnull, os.O_WRONLY)  # exec_cell's progress notes
        self.alive = True

    def request(self, header: dict[str, Any], arrays: Any = (), timeout: float | None = None, on_progress: Any = None) -> tuple[dict[str, Any], list[np.ndarray]]:
        handler = getattr(self.worker, f"op_{header.get('op')}")
        arrays = [np.array(a) for a in arrays]
        try:
            failed = self.worker.run_pre(header, arrays)  # the session's deferred `set`s, as the sandbox's serve loop runs them
            if failed is not None:
                reply = {"ok": False, "pre_failed": failed[0], "error": self._error_record(failed[1], [])}
                reply["error"]["traceback"] = _kernel_traceback(failed[1])
                return reply, []
            reply = handler(header, arrays)
            out = reply.pop("_arrays", [])
            reply["ok"] = True
        except KeyboardInterrupt:
            raise  # the student stopped check(): stop, do not charge a check
        except BaseException as exc:  # the student's code raised during the request
            out = []
            reply = {"ok": False, "error": self._error_record(exc, out)}
            reply["error"]["traceback"] = _kernel_traceback(exc)
        # The sandbox sends bytes; here, copies keep later changes by the student's code out.
        return reply, [np.array(a) for a in out]

    def student_output(self) -> str:
        return ""

    def close(self) -> None:
        if self.alive:
            os.close(self.worker.reply_fd)
            self.alive = False


class KernelSession(StudentSession):
    """`StudentSession` over the kernel's namespace: nothing to load, nothing to restart."""

    sends_batches = False
    """Batched calls go one by one (grader/sandbox/batching.py): requests here cost no round trip."""

    def __init__(self, namespace: dict[str, Any], config: SandboxConfig, seed: int) -> None:
        super().__init__(Submission(Path("<kernel>"), (), ""), config, worker_factory=lambda _config: _KernelWorker(namespace), seed=seed)
        self._random_state: Any = None
        self._alarm: Any = None

    def start(self) -> None:
        # The checks reseed numpy's global generator (as the sandbox does): give the
        # student's kernel its own state back afterwards.
        self._random_state = np.random.get_state()
        self._alarm = signal.getsignal(signal.SIGALRM)  # the worker's statement timer sets its own
        super().start()

    def close(self) -> None:
        super().close()
        if self._random_state is not None:
            np.random.set_state(self._random_state)
            signal.signal(signal.SIGALRM, self._alarm)
            self._random_state = None
