"""The grader's side of a sandbox worker: start it, send requests, enforce deadlines, kill it.

Every worker runs in its own session (process group); `close()` kills the whole group,
so nothing a submission starts outlives grading. Replies are read with a deadline; a
worker that misses it, dies, or sends garbage is killed and the request fails with a
`WorkerFailure` saying which (timeout, crash, output-flood, protocol, disk-limit). The
student's stdout/stderr are drained by a thread that keeps only the first kilobytes
(pipes.py). A worker that dies before it is ready never ran student code: its sandbox could
not be set up, so it is started once more, then `GraderFailure` carries its own reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GraderFailure
from . import forkserver, limits, protocol
from .cleanup import remove_tree
from .disk import DiskWatch
from .pipes import DeadlineReader, OutputDrain, widen_pipe
from .resources import process_state

__all__ = ["SandboxConfig", "WorkerFailure", "WorkerProcess", "WORKER_SCRIPT", "sandbox_notes"]

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
MAX_PROGRESS_MESSAGES = 100_000
"""A worker may announce progress (one message per notebook statement); a forger may not stall forever."""
_LAST_LAYERS: tuple[str, ...] = ()


def _fallback_layers(disk_bytes: int | None = None) -> tuple[str, ...]:
    """Layers of a worker started as a fresh interpreter (no fork server)."""
    notes = ["process isolation: own session, process group killed after every run", "safe protocol: numeric .npy and JSON only, size-capped, never unpickled"]
    if os.name == "posix":
        notes.append("rlimits: memory, cpu, fsize, nofile, core")
    notes.append(limits.disk_fallback_note(SandboxConfig.disk_limit_bytes if disk_bytes is None else disk_bytes))
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
    disk_limit_bytes: int = 64 * 1024**2
    """Bytes the worker may write in all (working folder, HOME, /tmp, /var/tmp, /dev/shm): its
    private tmpfs's size, also each file's RLIMIT_FSIZE; past it writes fail (ENOSPC, EFBIG)."""
    cpu_limit_seconds: int = 120
    """CPU seconds the worker may use in total (RLIMIT_CPU)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables for the worker."""
    role: str = "student"
    """student or reference (the timing twin: a uid range of its own, see sandbox/resources.py)."""
    slicing: bool = True
    """Run only the top-level statements the graded names need (training loops, plots and
    downloads are left out, grader/sandbox/ops_plan.py); false runs every statement."""


SETUP_TRIES = 2
"""A worker whose sandbox cannot be set up is started once more before grading gives up."""


def _setup_sentence(reason: str) -> str:
    """The one sentence a user reads when no worker could be started."""
    return (f"the sandbox for the student's code could not be set up, also on a second try ({reason}); "
            "this is a problem of the grading machine or its settings, not of the submission: grade it again once it is fixed.")


class _SetupFailed(Exception):
    """The worker died or went silent before it was ready: the sandbox, not the student."""


class WorkerFailure(Exception):
    """The worker did not give a valid reply: `kind` is timeout, crash, output-flood, protocol or
    disk-limit (killed for writing past its bound where it has no private tmpfs)."""

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
        try:
            self.workdir = tempfile.mkdtemp(prefix="grade-")
        except OSError as exc:
            raise GraderFailure(_setup_sentence(f"no folder for the worker in {tempfile.gettempdir()}: {exc.strerror or exc}")) from None
        self.process: subprocess.Popen[bytes] | forkserver.ForkedProcess | None = None
        self.flooded = False
        self.layers: tuple[str, ...] = ()
        self.disk_watch: DiskWatch | None = None
        reason = ""
        for _ in range(SETUP_TRIES):
            try:
                self._start()
                return
            except _SetupFailed as failed:
                self.close(keep_workdir=True)
                reason = str(failed)
        remove_tree(self.workdir)
        raise GraderFailure(_setup_sentence(reason))

    def _spawn_command(self, request_fd: int, reply_fd: int) -> list[str]:
        return [sys.executable, "-I", str(WORKER_SCRIPT), str(request_fd), str(reply_fd)]

    def _start(self) -> None:
        request_r, self.request_w = os.pipe()
        os.set_blocking(self.request_w, False)  # every write has a deadline (a stopped worker reads nothing)
        self.reply_r, reply_w = os.pipe()
        for fd in (self.request_w, reply_w):
            widen_pipe(fd)
        output_r, output_w = os.pipe()
        env = worker_environment(self.config, self.workdir)
        server = forkserver.shared_server() if self.use_forkserver else None
        self.process = None
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
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:  # no fork, no uid lease, no interpreter
            os.close(output_r)
            raise _SetupFailed(str(exc) or type(exc).__name__) from None
        finally:
            for fd in (request_r, reply_w, output_w):
                os.close(fd)
        self.reader = DeadlineReader(self.reply_r)
        self.output = OutputDrain(output_r, self.config.output_keep_bytes, self.config.output_limit_bytes, self._on_flood)
        self.output.start()
        try:  # no student code runs before "ready": whatever fails here is the sandbox's set-up
            header, _ = self._read_reply(self.config.startup_timeout)
            if "sandbox_layers" in header:  # sent by the confined child before any student code runs
                self.layers = tuple(str(layer) for layer in header["sandbox_layers"])
                header, _ = self._read_reply(self.config.startup_timeout)
            else:
                self.layers = _fallback_layers(self.config.disk_limit_bytes)
        except WorkerFailure as failure:
            raise _SetupFailed(self._setup_reason(failure)) from None
        global _LAST_LAYERS
        _LAST_LAYERS = self.layers
        if not header.get("ready"):
            raise _SetupFailed("the worker's first message was not the one it sends when ready")
        if any(layer.startswith(limits.DISK_WATCHED) for layer in self.layers):
            self.disk_watch = DiskWatch(self.workdir, self.config.disk_limit_bytes, self.kill)
            self.disk_watch.start()

    def _setup_reason(self, failure: WorkerFailure) -> str:
        """What the worker said on its way out (its last line on stderr), else how it ended."""
        self.output.join(timeout=1.0)
        said = [line.strip() for line in self.output.text().splitlines() if line.strip()]
        return (said[-1] if said else str(failure))[:300].rstrip(".")

    def _plan(self) -> limits.SandboxPlan:
        return limits.SandboxPlan(
            workdir=self.workdir,
            memory_bytes=self.config.memory_limit_bytes,
            cpu_seconds=self.config.cpu_limit_seconds,
            file_size_bytes=self.config.disk_limit_bytes,
            disk_bytes=self.config.disk_limit_bytes,
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
            if self.disk_watch is not None and self.disk_watch.over:
                raise WorkerFailure("disk-limit", f"{self.config.disk_limit_bytes // 2**20} MB") from None
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

    def close(self, keep_workdir: bool = False) -> None:
        """Kill the group, reap the worker, close pipes and remove its working directory."""
        if self.disk_watch is not None:
            self.disk_watch.stop()
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
        if not keep_workdir:
            remove_tree(self.workdir)

    def student_output(self) -> str:
        return self.output.text()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
