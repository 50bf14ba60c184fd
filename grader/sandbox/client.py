"""The grader's side of a sandbox worker: start it, send requests, enforce deadlines, kill it.

Every worker runs in its own session (process group); `close()` kills the whole group,
so nothing a submission starts outlives grading. Replies are read with a deadline; a
worker that misses it, dies, or sends garbage is killed and the request fails with a
`WorkerFailure` saying which (timeout, crash, output-flood, protocol). The student's
stdout/stderr are drained by a thread that keeps only the first kilobytes.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import forkserver, limits, protocol
from .cleanup import remove_tree
from .resources import process_state

__all__ = ["SandboxConfig", "WorkerFailure", "WorkerProcess", "WORKER_SCRIPT", "sandbox_notes"]

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
MAX_PROGRESS_MESSAGES = 100_000
"""A worker may announce progress (one message per notebook statement); a forger may not stall forever."""
_LAST_LAYERS: tuple[str, ...] = ()


def _fallback_layers() -> tuple[str, ...]:
    """Layers of a worker started as a fresh interpreter (no fork server)."""
    notes = ["process isolation: own session, process group killed after every run", "safe protocol: numeric .npy and JSON only, size-capped, never unpickled"]
    if os.name == "posix":
        notes.append("rlimits: memory, cpu, fsize, nofile, core")
    if not limits.IS_LINUX:
        notes.append(limits.PLATFORM_NOTE)
    return tuple(notes)


def sandbox_notes() -> tuple[str, ...]:
    """The sandbox layers the most recent worker of this process ran under, for `grade --verbose`."""
    layers = _LAST_LAYERS or _fallback_layers()
    protocol_note = "safe protocol: numeric .npy and JSON only, size-capped, never unpickled"
    return tuple(dict.fromkeys(["sandbox: " + l for l in (*layers, protocol_note)]))


@dataclass(frozen=True)
class SandboxConfig:
    """Limits for one worker. Declared once here; assignment.toml may override them."""

    statement_timeout: float = 3.0
    """Seconds a top-level statement of the notebook may run before it is skipped."""
    request_timeout: float = 10.0
    """Seconds one grading request (forward, backward, ...) may take before the worker is killed."""
    startup_timeout: float = 20.0
    """Seconds the worker may take to start and import numpy."""
    output_keep_bytes: int = 8192
    """How much of the student's printed output is kept for the report."""
    output_limit_bytes: int = 4 * 1024 * 1024
    """Printing more than this kills the worker (output-flood)."""
    memory_limit_bytes: int = 2 * 1024**3
    """Address-space/data limit of the worker (applied by the limits layer)."""
    cpu_limit_seconds: int = 120
    """CPU seconds the worker may use in total (RLIMIT_CPU)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables for the worker."""
    role: str = "student"
    """student or reference (the timing twin: a uid range of its own, see sandbox/resources.py)."""
    slicing: bool = True
    """Run only the top-level statements the graded names need (training loops, plots and
    downloads are left out, grader/sandbox/ops_plan.py); false runs every statement."""


class WorkerFailure(Exception):
    """The worker did not give a valid reply: `kind` is timeout, crash, output-flood or protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def worker_environment(config: SandboxConfig, home: str) -> dict[str, str]:
    """A small, explicit environment: no grader secrets, one BLAS thread, no display."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "VECLIB_MAXIMUM_THREADS": "1",
    }
    for key in ("LD_LIBRARY_PATH", "CUDA_PATH", "CUDA_HOME", "CUPY_CACHE_DIR", "CUDA_VISIBLE_DEVICES"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(config.env)
    return env


class _OutputDrain(threading.Thread):
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


class _DeadlineReader:
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


def _widen_pipe(fd: int) -> None:
    """Grow a pipe's buffer to PIPE_BYTES where Linux allows it (capped by
    /proc/sys/fs/pipe-max-size for unprivileged users; a refusal leaves the default)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass


EXIT_GRACE_S = 0.05


def _await_exit(pid: int, limit: float) -> None:
    """Until `pid` has exited (a zombie, or gone) or `limit` seconds passed (it lives on)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process_state(pid) not in ("", "Z", "X"):
        time.sleep(0.001)


class WorkerProcess:
    """One live worker. Use `request()`; call `close()` (or use `with`) to kill its group."""

    def __init__(self, config: SandboxConfig, use_forkserver: bool = True) -> None:
        self.config = config
        self.use_forkserver = use_forkserver
        self.workdir = tempfile.mkdtemp(prefix="grade-")
        self.process: subprocess.Popen[bytes] | forkserver.ForkedProcess | None = None
        self.flooded = False
        self.layers: tuple[str, ...] = ()
        self._start()

    def _spawn_command(self, request_fd: int, reply_fd: int) -> list[str]:
        return [sys.executable, "-I", str(WORKER_SCRIPT), str(request_fd), str(reply_fd)]

    def _start(self) -> None:
        request_r, self.request_w = os.pipe()
        os.set_blocking(self.request_w, False)  # every write has a deadline (a stopped worker reads nothing)
        self.reply_r, reply_w = os.pipe()
        for fd in (self.request_w, reply_w):
            _widen_pipe(fd)
        output_r, output_w = os.pipe()
        env = worker_environment(self.config, self.workdir)
        server = forkserver.shared_server() if self.use_forkserver else None
        try:
            if server is not None:
                self.process = server.spawn(self._plan(), env, (request_r, reply_w, output_w))
            else:
                self.process = subprocess.Popen(
                    self._spawn_command(request_r, reply_w),
                    pass_fds=(request_r, reply_w),
                    stdin=subprocess.DEVNULL,
                    stdout=output_w,
                    stderr=output_w,
                    cwd=self.workdir,
                    env=env,
                    start_new_session=True,
                    preexec_fn=self._preexec,
                )
        finally:
            for fd in (request_r, reply_w, output_w):
                os.close(fd)
        self.reader = _DeadlineReader(self.reply_r)
        self.output = _OutputDrain(output_r, self.config.output_keep_bytes, self.config.output_limit_bytes, self._on_flood)
        self.output.start()
        header, _ = self._read_reply(self.config.startup_timeout)
        if "sandbox_layers" in header:  # sent by the confined child before any student code runs
            self.layers = tuple(str(layer) for layer in header["sandbox_layers"])
            header, _ = self._read_reply(self.config.startup_timeout)
        else:
            self.layers = _fallback_layers()
        global _LAST_LAYERS
        _LAST_LAYERS = self.layers
        if not header.get("ready"):
            self.close()
            raise WorkerFailure("protocol", "the worker did not start")

    def _plan(self) -> limits.SandboxPlan:
        return limits.SandboxPlan(
            workdir=self.workdir,
            memory_bytes=self.config.memory_limit_bytes,
            cpu_seconds=self.config.cpu_limit_seconds,
            role=self.config.role,
        )

    def _preexec(self) -> None:
        """Runs in the child before exec (no fork server): the rlimit layer only."""
        limits.apply_rlimits(self._plan())

    def _on_flood(self) -> None:
        self.flooded = True
        self.kill()

    def _read_reply(self, timeout: float) -> tuple[dict[str, Any], list[np.ndarray]]:
        self.reader.deadline = time.monotonic() + timeout
        try:
            return protocol.read_message(self.reader)
        except TimeoutError:
            self.kill()
            raise WorkerFailure("timeout", f"no answer within {timeout:g} s") from None
        except (EOFError, protocol.ProtocolError) as exc:
            # A closed channel is almost always a worker on its way out: wait a moment for its
            # own end (an exit status, a signal) so our kill cannot overtake it in the note.
            if isinstance(exc, EOFError) and not self.flooded:
                _await_exit(self.process.pid, EXIT_GRACE_S)
            self.kill()
            if self.flooded:
                raise WorkerFailure("output-flood", f"printed more than {self.config.output_limit_bytes // 2**20} MiB") from None
            if isinstance(exc, protocol.ProtocolError):
                raise WorkerFailure("protocol", f"invalid reply from the worker ({exc})") from None
            raise WorkerFailure("crash", self._death_note()) from None

    def _death_note(self) -> str:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            return "the worker closed its channel"
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            return f"the process was killed by {name}"
        return f"the process exited with status {code} in the middle of a request"

    def request(
        self,
        header: dict[str, Any],
        arrays: list[np.ndarray] = (),
        timeout: float | None = None,
        on_progress: Any = None,
        deadline: float = float("inf"),
    ) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Send one request and wait for its reply (progress messages go to `on_progress`, which
        may return an earlier deadline).

        `timeout` applies to each message; `deadline` (on `time.monotonic()`'s clock) to all of them.
        """
        if not self.alive:
            raise WorkerFailure("crash", "the worker is not running")
        timeout = self.config.request_timeout if timeout is None else timeout
        try:
            protocol.write_message(self.request_w, header, list(arrays), deadline=min(time.monotonic() + timeout, deadline))
        except TimeoutError:
            self.kill()
            raise WorkerFailure("timeout", f"the worker did not read its request within {timeout:g} s") from None
        except OSError:
            raise WorkerFailure("crash", self._death_note()) from None
        for _ in range(MAX_PROGRESS_MESSAGES):
            reply, out = self._read_reply(max(0.0, min(timeout, deadline - time.monotonic())))
            if "progress" in reply and "ok" not in reply:
                sooner = on_progress(reply["progress"]) if on_progress else None
                if isinstance(sooner, float):  # the caller knows the reply is due sooner (a call overran its limit)
                    deadline = min(deadline, sooner)
                continue
            if reply.get("protocol_error"):
                raise WorkerFailure("protocol", str(reply["protocol_error"]))
            return reply, out
        self.kill()
        raise WorkerFailure("protocol", "endless progress messages")

    def control(self, op: str) -> str:
        """prune (kill all but the worker), freeze or thaw the worker's whole tree; how it was done."""
        if isinstance(self.process, forkserver.ForkedProcess):
            return self.process.control(op)
        if self.process is not None and op in ("freeze", "thaw"):  # no server: the process group
            try:
                os.killpg(self.process.pid, signal.SIGSTOP if op == "freeze" else signal.SIGCONT)
                return "SIGSTOP/SIGCONT of the process group"
            except OSError:
                return ""
        return ""

    def cpu_seconds(self, settled: bool = True) -> float | None:
        """CPU seconds of the worker's whole tree, counted by the kernel (its cgroup); None
        where the platform gives no such count (the timing benchmark then uses the wall clock).
        `settled`: wait (≤2 ms) until no thread of it runs, so a timed round is counted whole."""
        return self.process.cpu_seconds(settled) if isinstance(self.process, forkserver.ForkedProcess) else None

    def healthy(self) -> bool:
        """Alive and serving: no process of it stopped, traced or a zombie."""
        if not self.alive:
            return False
        return not (isinstance(self.process, forkserver.ForkedProcess) and self.process.stopped())

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and not self.flooded

    def kill(self) -> None:
        """Kill the worker's whole process group (everything the submission started)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if isinstance(self.process, forkserver.ForkedProcess):
            self.process.kill_tree()  # orphans that left the group (setsid, daemons) too

    def close(self) -> None:
        """Kill the group, reap the worker, close pipes and remove its working directory."""
        self.kill()
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for fd in (self.request_w, self.reply_r):
            try:
                os.close(fd)
            except OSError:
                pass
        remove_tree(self.workdir)

    def student_output(self) -> str:
        return self.output.text()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
