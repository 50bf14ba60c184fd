"""Per-worker resources the fork server hands out and takes back: uids and cgroups.

uids: a worker's uid is leased machine-wide (an `flock` on a file named after it, held by
the fork server until the worker's whole tree is dead) and only handed out when no process
of that uid is alive (a scan of /proc). So two live workers never share a uid, a restarted
worker never inherits a kept one's, and the reference twin, from a range of its own, is
never a student's: no student can signal or ptrace it.

cgroups: every worker gets fresh v1 pids/memory/freezer/cpuacct/cpu cgroups (made under the
server's own, limits set before the worker joins), removed once its tree is dead; a
directory that cannot be removed is never reused. The cpu controller's quota gives a
worker's whole tree one core at most: a submission that starts many busy processes slows
itself, not the other jobs of a batch. The freezer stops the student's whole
tree while the reference twin is timed on the wall clock (SIGSTOP of every process where
there is no freezer); cpuacct counts the CPU nanoseconds of the whole tree, the timing
benchmark's clock where it exists (grader/timing/race.py).

Standard library only (imported beside `limits.py` by the fork server).
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from typing import Callable

__all__ = ["UidLease", "lease_uid", "Cgroups", "Tree", "cgroup_name", "sweep_stale", "live_uids", "children", "tree", "settled_tasks", "process_state"]

UID_RANGES = {"student": (200_000, 50_000), "reference": (300_000, 10_000)}
UID_DIR = "/run/dense-grader-uids"
CONTROLLERS = ("pids", "memory", "freezer", "cpuacct", "cpu")
CPU_PERIOD_US = 100_000
"""CFS period of a worker's cpu cgroup; its quota is one period per period: one core."""


def live_uids() -> set[int]:
    """The real uids of every process on the machine (the server's /proc is the host's)."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                found.add(os.stat(f"/proc/{name}").st_uid)
            except OSError:
                continue
    return found


class UidLease:
    """A uid held for one worker; `release()` only once nothing of the worker lives."""

    def __init__(self, uid: int, fd: int) -> None:
        self.uid, self.fd = uid, fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the flock
            self.fd = -1


def _uid_dir() -> str:
    for path in (UID_DIR, f"/tmp/dense-grader-uids-{os.geteuid()}"):
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            st = os.lstat(path)
            if st.st_uid == os.geteuid() and not (st.st_mode & 0o077):
                return path
        except OSError:
            continue
    raise OSError("no private folder for uid leases")


def lease_uid(role: str) -> UidLease:
    """The first uid of the role's range that no live process has and no live server holds."""
    base, span = UID_RANGES.get(role, UID_RANGES["student"])
    folder, busy = _uid_dir(), live_uids()
    for uid in range(base, base + span):
        if uid in busy:
            continue
        fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return UidLease(uid, fd)
    raise OSError(f"every {role} uid is in use")


def _own_cgroup(controller: str) -> str | None:
    """Our own cgroup directory in a v1 hierarchy (new cgroups go below it)."""
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle:
                _, names, path = line.rstrip("\n").split(":", 2)
                if controller in names.split(","):
                    full = os.path.join("/sys/fs/cgroup", controller, path.lstrip("/"))
                    return full if os.path.isdir(full) else None
    except OSError:
        pass
    return None


class Cgroups:
    """One worker's fresh cgroups; `paths` is empty where none could be made."""

    def __init__(self, name: str, memory_bytes: int, nproc: int) -> None:
        self.paths: list[str] = []
        self.freezer: str | None = None
        self.cpuacct: str | None = None
        settings: dict[str, dict[str, int]] = {"pids": {"pids.max": nproc}, "memory": {"memory.limit_in_bytes": memory_bytes}, "freezer": {}, "cpuacct": {},
                                               "cpu": {"cpu.cfs_period_us": CPU_PERIOD_US, "cpu.cfs_quota_us": CPU_PERIOD_US}}
        assert tuple(settings) == CONTROLLERS
        for controller, values in settings.items():
            parent = _own_cgroup(controller)
            if parent is None:
                continue
            path = os.path.join(parent, name)
            try:
                os.mkdir(path)  # never an existing one: a used cgroup may be full (SysV shm, page cache)
            except OSError:
                continue  # and never remove one we did not make: it may be another grader's
            try:
                for key, value in values.items():
                    with open(os.path.join(path, key), "w") as handle:
                        handle.write(str(value))
            except OSError:
                _rmdir(path)
                continue
            self.paths.append(path)
            if controller == "freezer":
                self.freezer = path
            elif controller == "cpuacct":
                self.cpuacct = path

    def procs(self) -> set[int]:
        """Every process in the worker's cgroups (reparenting cannot hide one from this)."""
        found: set[int] = set()
        for path in self.paths:
            try:
                with open(os.path.join(path, "cgroup.procs")) as handle:
                    found.update(int(p) for p in handle.read().split())
            except (OSError, ValueError):
                continue
        return found

    def set_frozen(self, frozen: bool) -> bool:
        """Freeze or thaw through the freezer; False when there is none (use signals)."""
        if self.freezer is None:
            return False
        state = "FROZEN" if frozen else "THAWED"
        try:
            with open(os.path.join(self.freezer, "freezer.state"), "w") as handle:
                handle.write(state)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                with open(os.path.join(self.freezer, "freezer.state")) as handle:
                    if handle.read().strip() == state:
                        return True
                time.sleep(0.0005)
        except OSError:
            return False
        return False

    def remove(self) -> list[str]:
        """Remove the (empty) cgroups; return the ones still busy (retried later, never reused)."""
        self.set_frozen(False)
        self.paths = [p for p in self.paths if not _rmdir(p)]
        return self.paths


STALE_AFTER_S = 60.0
"""Age before an empty cgroup of a server this machine's /proc does not show is swept: a server
in another PID namespace (a container sharing the cgroup tree) is invisible, and its fresh
cgroup is empty for the moment between its mkdir and its worker joining."""


def cgroup_name(server_pid: int, ident: int, token: str) -> str:
    """grader-SERVERPID-N-TOKEN: the token (random, one per server) keeps servers whose pids
    coincide (one per PID namespace) from sharing, or removing, each other's cgroups."""
    return f"grader-{server_pid}-{ident}-{token}"


def sweep_stale(prefix: str = "grader-") -> int:
    """Remove empty worker cgroups whose fork server is gone (it was killed before it could
    clean up: names are grader-SERVERPID-N[-TOKEN]) and which are older than STALE_AFTER_S.
    Run by every fork server when it starts."""
    removed = 0
    for controller in CONTROLLERS:
        parent = _own_cgroup(controller)
        try:
            names = os.listdir(parent) if parent else []
        except OSError:
            continue
        for name in names:
            parts = name.split("-")
            if not name.startswith(prefix) or len(parts) not in (3, 4) or not parts[1].isdigit() or os.path.exists(f"/proc/{parts[1]}"):
                continue
            path = os.path.join(parent, name)
            if os.path.isdir(path) and _age(path) > STALE_AFTER_S and _rmdir(path):
                removed += 1
    return removed


def _age(path: str) -> float:
    try:
        return time.time() - os.stat(path).st_mtime
    except OSError:
        return 0.0


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc/PID/task/*/children (no scan of every process)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as handle:
                found += [int(c) for c in handle.read().split()]
        except (OSError, ValueError):
            continue
    return found


def tree(roots: list[int]) -> list[int]:
    """`roots` and all their descendants."""
    out, stack, seen = [], list(roots), set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        stack += children(pid)
    return out


class Tree:
    """One worker's processes: its tree (complete inside a PID namespace, where orphans go to
    the worker, not to the server) and whatever its cgroups hold."""

    def __init__(self, pid: int, cgroups: Cgroups | None) -> None:
        self.pid, self.cgroups = pid, cgroups

    def members(self) -> list[int]:
        return sorted(self.cgroups.procs()) if self.cgroups is not None else []

    def pids(self) -> list[int]:
        return sorted({*tree([self.pid]), *self.members()})

    def thaw(self) -> None:
        if not (self.cgroups is not None and self.cgroups.set_frozen(False)):
            signal_all(self.pids(), signal.SIGCONT)

    def prune(self, reap: Callable[[], None]) -> str:
        """Kill everything but the worker: the namespace's parent (our child) and its PID 1."""
        keep = {self.pid, *children(self.pid)[:1]}
        for _ in range(50):
            others = [p for p in self.pids() if p not in keep]
            if not others:
                break
            signal_all(others, signal.SIGKILL)
            self.thaw()
            reap()
            time.sleep(0.001)
        return "pruned"

    def freeze(self, frozen: bool) -> str:
        """The cgroup freezer, else SIGSTOP/SIGCONT of every process until no new one appears."""
        if self.cgroups is not None and self.cgroups.set_frozen(frozen):
            return "cgroup freezer"
        sig = signal.SIGSTOP if frozen else signal.SIGCONT
        seen: set[int] = set()
        for _ in range(20):  # a fork racing the signal: go round until the set is stable
            pids = set(self.pids())
            signal_all(sorted(pids - seen), sig)
            if pids <= seen:
                break
            seen |= pids
        return "SIGSTOP/SIGCONT of every process"


SETTLE_S = 0.002
"""How long a CPU count is waited for: until the worker's threads are off the CPU (the kernel
adds a task's time when it leaves the CPU or at a tick). A worker blocks within microseconds
of its reply; one still running after 2 ms is busy on its own (its cost)."""


def settled_tasks(tasks_file: str) -> list[bytes]:
    """Until no thread listed in a cgroup's `tasks` is running (state R), or SETTLE_S; the
    threads last seen (none: the cgroup is empty or gone). Raw os reads: it runs twice a
    timed round."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        tids = _read(tasks_file).split()
        if not any(_running(tid) for tid in tids) or time.monotonic() > deadline:
            return tids
        time.sleep(5e-5)  # give the core away: on a busy machine the worker may be waiting for one


def _read(path: str | bytes) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _running(tid: bytes) -> bool:
    return process_state(tid.decode()) == "R"


def process_state(pid: int | str) -> str:
    """The one-letter state of a process or thread in /proc (R, S, T, Z...); "" when it is
    gone or cannot be read."""
    fields = _read(f"/proc/{pid}/stat").rsplit(b")", 1)[-1].split(None, 1)
    return fields[0].decode("ascii", "replace") if fields else ""
