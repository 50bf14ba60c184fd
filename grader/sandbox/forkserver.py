"""A warm parent that forks one sandbox worker per request: milliseconds, not a new interpreter.

Why a separate process and not `os.fork()` of the grader: the grader holds the reference,
the rubric and hidden data in memory; a child forked from it would inherit them. The server
is a fresh `python -I` that imports only numpy, `worker.py`, `protocol.py` and `limits.py`
(no grader package, no reference) and then forks. It stays root when the grader is root,
so each child can mount, join a cgroup and then drop to its own uid; an interpreter that
lives under a mode-700 /root keeps working because it is already loaded and the Python
install is bound back read-only inside the child's mount namespace.

The server is also a child subreaper (PR_SET_CHILD_SUBREAPER): whatever a worker starts,
even daemonised with setsid and double fork, is reparented to the server, so `kill` can find
and kill it by walking the server's process tree, and reaps it.

Control channel: a SOCK_SEQPACKET socket; JSON messages, with the worker's pipe ends passed
as file descriptors (SCM_RIGHTS). Grader side: `ForkServer` (one per grader process,
`shared_server()`); server side: `serve()` when this file runs as a script.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["ForkServer", "ForkedProcess", "shared_server", "available"]

SANDBOX_DIR = Path(__file__).resolve().parent
PR_SET_CHILD_SUBREAPER = 36
MAX_CONTROL_BYTES = 1 << 16


def available() -> bool:
    """The fork server needs fork, SCM_RIGHTS and /proc: Linux. Set GRADER_FORKSERVER=0 to turn it off."""
    return sys.platform.startswith("linux") and os.environ.get("GRADER_FORKSERVER", "1") != "0"


# --------------------------------------------------------------------------- grader side
class ForkedProcess:
    """Popen-like view of a worker the server forked (it is the server's child, not ours)."""

    def __init__(self, server: ForkServer, ident: int, pid: int, status_fd: int, cpu_usage_file: str | None = None) -> None:
        self.server, self.ident, self.pid, self.status_fd = server, ident, pid, status_fd
        self.returncode: int | None = None
        self._status_lock = threading.Lock()
        """One thread at a time reads and closes status_fd (a thread still in `poll` while
        another closes the worker must not select on a closed, or reused, descriptor)."""
        self.cpu_usage_file = cpu_usage_file
        """The worker's cpuacct.usage (CPU nanoseconds of its whole tree), None without one."""
        self._usage_fd = -1
        """cpu_usage_file kept open (-1: not yet; -2: closed for good, the worker was killed).
        A pread costs ~0.5 µs where open+read+close costs ~10 µs, and the count is read around
        every timed round and every profiled phase."""
        self._usage_lock = threading.Lock()
        """The output drain's thread kills a flooding worker while the grading thread may be
        reading its count: one of them at a time uses (or closes) the descriptor."""

    def cpu_seconds(self, settled: bool = True) -> float | None:
        """CPU seconds the worker's whole tree has used, read from its cgroup (the worker can
        neither see nor change this count); None where there is no cpuacct cgroup.
        `settled=False` reads the count as it is (a budget, not a timed round, needs no more).

        The kernel adds a task's CPU time to the count when the task leaves the CPU (or at a
        tick), so a worker still running after its reply could be read short, by up to a whole
        short round. The count is read once no thread of the tree is running, waiting at most
        resources.SETTLE_S (a thread that never stops, say a student's busy loop, is its own
        cost; its share of the last tick is noise). An empty cgroup is not the worker's count."""
        if self.cpu_usage_file is None:
            return None
        from .resources import settled_tasks

        if settled and not settled_tasks(os.path.join(os.path.dirname(self.cpu_usage_file), "tasks")):
            return None  # nothing in the cgroup (the worker could not join it, or is gone): not its count
        with self._usage_lock:
            try:
                if self._usage_fd == -2:
                    return None  # killed: its count is gone with its cgroup
                if self._usage_fd < 0:
                    self._usage_fd = os.open(self.cpu_usage_file, os.O_RDONLY | os.O_CLOEXEC)
                return int(os.pread(self._usage_fd, 32, 0)) / 1e9
            except (OSError, ValueError):
                return None

    def _close_usage(self) -> None:
        with self._usage_lock:
            if self._usage_fd >= 0:
                os.close(self._usage_fd)
            self._usage_fd = -2

    def poll(self) -> int | None:
        """The server writes the wait status into a pipe when it reaps the worker. While
        another thread waits for that status, the answer is the one known so far."""
        if self._status_lock.acquire(blocking=False):
            try:
                self._collect_status(0)
            finally:
                self._status_lock.release()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self._status_lock:
            if not self._collect_status(timeout):
                raise subprocess.TimeoutExpired("worker", timeout or 0)
        return self.returncode if self.returncode is not None else -signal.SIGKILL

    def _collect_status(self, timeout: float | None) -> bool:
        """Read the status if it arrives within `timeout` (holding _status_lock); False if not."""
        import select

        if self.returncode is None and self.status_fd >= 0:
            if not select.select([self.status_fd], [], [], timeout)[0]:
                return False
            data = os.read(self.status_fd, 64)
            os.close(self.status_fd)
            self.status_fd = -1
            try:
                status = int(data.decode())
                self.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            except ValueError:
                self.returncode = -signal.SIGKILL
        return True

    def kill_tree(self) -> None:
        """Ask the server to kill the worker, everything it started, and reap them (synchronous)."""
        self._close_usage()  # the worker's cgroup goes with it
        self.server.kill(self.ident)

    def control(self, op: str) -> str:
        """prune / freeze / thaw the worker's tree (see _Server); returns how it was done."""
        return str(self.server.control(op, self.ident).get("how", ""))

    def stopped(self) -> bool:
        """True when a process of the worker's tree is stopped, traced or a zombie (not serving)."""
        from .resources import process_state, tree

        return any(process_state(pid) in ("T", "t", "Z", "X") for pid in tree([self.pid]))


class ForkServer:
    """Grader-side handle: starts the server process, asks it to fork workers and to kill them."""

    def __init__(self) -> None:
        from . import limits

        self.lock = threading.Lock()
        self.counter = 0
        self.owner = os.getpid()
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The allow-list: the Python install and the worker's own code (rootfs.py adds system
        # libraries and /dev basics); GRADER_SANDBOX_ALLOW adds read-only folders a course needs.
        extra = [p for p in os.environ.get("GRADER_SANDBOX_ALLOW", "").split(os.pathsep) if os.path.exists(p)]
        self.keep = sorted({*limits.python_paths(), str(SANDBOX_DIR), *extra})
        self.hide = limits.instructor_paths(str(SANDBOX_DIR.parent.parent))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-u", str(Path(__file__)), str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # never hold the caller's pipes open (`grade batch | tee log`)
                start_new_session=True,
                cwd="/",
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            )
        finally:
            theirs.close()
        self.sock.settimeout(30.0)
        hello = self._receive()
        if not hello.get("ready"):
            raise RuntimeError("fork server did not start")

    def _receive(self) -> dict[str, Any]:
        data = self.sock.recv(MAX_CONTROL_BYTES)
        if not data:
            raise RuntimeError("fork server exited")
        return json.loads(data)

    def spawn(self, plan: Any, env: dict[str, str], fds: tuple[int, int, int]) -> ForkedProcess:
        """Fork a worker confined by `plan`; `fds` are its request-read, reply-write and output-write ends."""
        from .limits import registered_instructor_paths

        status_r, status_w = os.pipe()
        with self.lock:
            self.counter += 1
            ident = self.counter
            plan.keep, plan.hide = list(self.keep), sorted({*self.hide, *registered_instructor_paths()})  # rubrics loaded since the start
            message = json.dumps({"op": "spawn", "id": ident, "plan": plan.to_dict(), "env": env}).encode()
            try:
                socket.send_fds(self.sock, [message], [*fds, status_w])
                reply = self._receive()
            finally:
                os.close(status_w)
        if "pid" not in reply:
            os.close(status_r)
            raise RuntimeError(f"fork server could not start a worker: {reply.get('error')}")
        usage = reply.get("cpu_usage_file")
        return ForkedProcess(self, ident, int(reply["pid"]), status_r, usage if isinstance(usage, str) else None)

    def kill(self, ident: int) -> None:
        self.control("kill", ident)

    def control(self, op: str, ident: int) -> dict[str, Any]:
        """kill, prune (everything of the worker but the worker), freeze or thaw its tree."""
        with self.lock:
            try:
                self.sock.sendall(json.dumps({"op": op, "id": ident}).encode())
                return self._receive()
            except (OSError, RuntimeError, ValueError):
                return {}

    def close(self) -> None:
        """Closing the channel makes the server kill every worker and exit."""
        self.sock.close()
        if self.owner != os.getpid():
            return
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


_SHARED: ForkServer | None = None
_SHARED_LOCK = threading.Lock()


def shared_server() -> ForkServer | None:
    """The process-wide server, started on first use; None where unavailable or if it fails to start."""
    global _SHARED
    if not available():
        return None
    with _SHARED_LOCK:
        if _SHARED is not None and _SHARED.owner != os.getpid():
            _SHARED.sock.close()  # inherited through fork (a process pool): our copy only; start our own
            _SHARED = None
        if _SHARED is not None and _SHARED.process.poll() is not None:
            _SHARED = None  # it died (killed from outside): start a new one
        if _SHARED is None:
            try:
                _SHARED = ForkServer()
            except (OSError, RuntimeError, ValueError):
                return None
            atexit.register(_SHARED.close)
        return _SHARED


# --------------------------------------------------------------------------- server side
class _Server:
    def __init__(self, sock: socket.socket) -> None:
        import limits
        import worker

        self.limits, self.worker = limits, worker
        for name in worker.EXTRA_OP_MODULES:  # import plug-ins now: the child may not see their files
            try:
                __import__(name)
            except ImportError:
                pass
        import inspect  # noqa: F401  (used lazily by the worker's describe op)

        self.sock = sock
        self.workers: dict[int, dict[str, Any]] = {}
        self.me = os.getpid()
        self.token = os.urandom(4).hex()
        """In this server's cgroup names: another server with the same pid (another PID namespace) gets others."""
        self.root = os.geteuid() == 0
        import platform  # noqa: F401  (rootfs uses it in every child: import it once here)
        import resource  # noqa: F401  (limits sets rlimits in every child)

        import numpy.random  # noqa: F401  (numpy loads it lazily: the worker's first `seed` paid ~18 ms each time)

        import heap
        import resources
        import rootfs

        heap.keep_freed_memory()  # inherited by every worker: their arrays reuse warm memory

        self.resources, self.rootfs = resources, rootfs
        limits._libc()  # find_library runs a subprocess: once here, not in every child
        if self.root:
            resources.sweep_stale()  # cgroups left by a server that was killed before its clean-up
        self.busy_cgroups: list[Any] = []
        """cgroups whose removal failed: retried, never handed to another worker."""

    # -- children ---------------------------------------------------------------------
    def spawn(self, message: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        request_r, reply_w, output_w, status_w = fds
        ident = int(message["id"])
        plan = self.limits.SandboxPlan(**message["plan"])
        lease, cgroups = None, None
        if self.root:
            lease = self.resources.lease_uid(plan.role)
            plan.uid = lease.uid
            cgroups = self.resources.Cgroups(self.resources.cgroup_name(self.me, ident, self.token), plan.memory_bytes + 256 * 1024**2, plan.nproc)
            plan.cgroups = list(cgroups.paths)
        try:
            self.rootfs.allowed(tuple(plan.keep))  # computed once, inherited by every child
            # Inherited objects leave the collector's view: the child's collections neither
            # walk them nor write their headers (each write copies a shared page).
            gc.freeze()
            pid = os.fork()
        except OSError:
            if lease is not None:
                lease.release()
                self.busy_cgroups.append(cgroups)
            raise
        if pid == 0:
            try:
                self._child(plan, message["env"], request_r, reply_w, output_w)
            finally:
                os._exit(70)
        for fd in (request_r, reply_w, output_w):
            os.close(fd)
        self.workers[ident] = {"pid": pid, "status_w": status_w, "lease": lease, "cgroups": cgroups, "tree": self.resources.Tree(pid, cgroups)}
        cpuacct = cgroups.cpuacct if cgroups is not None else None
        return {"pid": pid, "cpu_usage_file": os.path.join(cpuacct, "cpuacct.usage") if cpuacct else None}

    def _child(self, plan: Any, env: dict[str, str], request_r: int, reply_w: int, output_w: int) -> None:
        for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        self.sock.close()
        self.limits.name_process(f"grade-{plan.role}")
        os.dup2(output_w, 1)
        os.dup2(output_w, 2)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(request_r, 3)
        os.dup2(reply_w, 4)
        os.closerange(5, 1 << 16)
        os.environ.clear()
        os.environ.update(env)
        try:
            layers = self.limits.enter_sandbox(plan)
        except self.limits.SandboxError as exc:
            os.write(2, f"sandbox: {exc}\n".encode())
            os._exit(71)
        self.worker.protocol.write_message(4, {"sandbox_layers": layers})
        sys.argv = ["worker.py", "3", "4"]
        self.worker.Worker().serve(3, 4)
        os._exit(0)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for entry in self.workers.values():
                if entry["pid"] == pid and entry["status_w"] >= 0:
                    os.write(entry["status_w"], str(status).encode())
                    os.close(entry["status_w"])
                    entry["status_w"] = -1

    def _targets(self, dying: int) -> list[int]:
        """Everything under us except live workers' own trees: the dying worker and all orphans.

        Orphans (setsid, double fork, daemons) are reparented to this subreaper, so they
        are our direct children; no process of a worker can leave this tree.
        """
        tree, children = self.resources.tree, self.resources.children
        protected = set(tree([e["pid"] for i, e in self.workers.items() if i != dying and e["status_w"] >= 0]))
        return [pid for pid in tree(children(self.me)) if pid not in protected]

    def kill(self, ident: int) -> None:
        """SIGKILL until nothing of the worker is left (a fork bomb's new children included), then reap."""
        entry = self.workers.get(ident)
        if entry is None:
            return
        deadline = time.monotonic() + 5.0
        targets = [entry["pid"], *self._targets(ident), *entry["tree"].members()]
        while time.monotonic() < deadline:
            for pid in targets:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            entry["tree"].thaw()  # a frozen (or stopped) process dies only once thawed
            self.reap()
            targets = [*self._targets(ident), *entry["tree"].members()]
            if entry["status_w"] < 0 and not targets:
                break
            time.sleep(0.001)
        if entry["status_w"] < 0 and not targets:
            del self.workers[ident]
            if entry.get("lease") is not None:
                entry["lease"].release()  # nothing of that uid lives any more
            if entry.get("cgroups") is not None:
                self.busy_cgroups.append(entry["cgroups"])
            self.remove_cgroups()

    def remove_cgroups(self) -> None:
        self.busy_cgroups = [c for c in self.busy_cgroups if c.remove()]

    def prune(self, ident: int) -> str:
        """Kill every process of the worker's tree except the worker itself (before timing)."""
        entry = self.workers.get(ident)
        return entry["tree"].prune(self.reap) if entry is not None else ""

    def freeze(self, ident: int, frozen: bool) -> str:
        """Stop (or resume) the worker's whole tree: the cgroup freezer, else SIGSTOP/SIGCONT."""
        entry = self.workers.get(ident)
        return entry["tree"].freeze(frozen) if entry is not None else ""

    # -- loop -------------------------------------------------------------------------
    def run(self) -> None:
        import select

        self.sock.sendall(json.dumps({"ready": True}).encode())
        while True:
            ready, _, _ = select.select([self.sock], [], [], 0.2)
            self.reap()
            if not ready:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, MAX_CONTROL_BYTES, 8)
            except OSError:
                data, fds = b"", []
            if not data:
                for ident in list(self.workers):
                    self.kill(ident)
                self.remove_cgroups()
                return
            if self.busy_cgroups:
                self.remove_cgroups()
            message = json.loads(data)
            if message.get("op") == "spawn" and len(fds) == 4:
                try:
                    reply = self.spawn(message, fds)
                except OSError as exc:
                    reply = {"error": str(exc)}
                    for fd in fds:
                        os.close(fd)
            else:
                for fd in fds:
                    os.close(fd)
                ident, op = int(message.get("id", -1)), message.get("op")
                how = {"prune": lambda: self.prune(ident), "freeze": lambda: self.freeze(ident, True), "thaw": lambda: self.freeze(ident, False)}.get(op)
                if how is None:
                    self.kill(ident)
                reply = {"done": True, "how": how() if how else ""}
            self.sock.sendall(json.dumps(reply).encode())


def serve(control_fd: int) -> None:
    """Server entry point: become a subreaper, import the worker's world, answer requests."""
    sys.path.insert(0, str(SANDBOX_DIR))
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # No PR_SET_PDEATHSIG here: it follows the *thread* that started us. The grader's death
    # closes the control socket instead, and run() then kills every worker and exits.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=control_fd)
    sock.setblocking(True)
    import limits

    limits.name_process("grade-forkserver")
    _Server(sock).run()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
