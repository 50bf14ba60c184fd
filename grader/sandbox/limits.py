"""The sandbox's confinement layers, applied inside a freshly forked worker before student code.

Imported two ways: by the grader (`grader.sandbox.limits`, to build a `SandboxPlan`) and by
the fork server / worker as a sibling module (`limits`), so it depends on the standard
library only. Every layer is tried and its outcome recorded rather than assumed: a layer
the platform refuses (no user namespaces, a read-only cgroup tree, macOS) is reported as
missing in `grade --verbose`, never silently claimed.

Order inside the child (see `enter_sandbox`): new session -> cgroup -> namespaces and
mounts (while we still hold the privilege to mount) -> rlimits -> drop privileges ->
no_new_privs and empty capabilities -> parent-death signal. The uid drop comes after the
mounts because mounting needs privilege, and before student code because everything after
it (RLIMIT_NPROC, file modes) relies on the worker being nobody in particular.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SandboxPlan", "apply_rlimits", "enter_sandbox", "default_hidden_paths", "hide_instructor_path", "instructor_paths", "python_paths", "IS_LINUX", "PLATFORM_NOTE"]

IS_LINUX = sys.platform.startswith("linux")
PLATFORM_NOTE = "sandbox: stronger isolation (namespaces, uid drop, cgroups) is Linux-only; here: process isolation, timeouts, rlimits where POSIX, safe protocol"

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE = 1, 38, 4
CGROUP_V1 = "/sys/fs/cgroup"


@dataclass
class SandboxPlan:
    """Everything the child needs to confine itself; plain data so it crosses the control socket as JSON."""

    workdir: str
    """The worker's fresh working directory (also HOME and TMPDIR)."""
    memory_bytes: int = 2 * 1024**3
    """RLIMIT_AS on CPU-only machines; RLIMIT_DATA where a GPU driver is present (CUDA maps huge address ranges)."""
    cpu_seconds: int = 120
    file_size_bytes: int = 64 * 1024**2
    """RLIMIT_FSIZE: a submission cannot fill the disk."""
    open_files: int = 256
    nproc: int = 64
    """RLIMIT_NPROC and cgroup pids.max; only meaningful once the worker has its own uid."""
    uid: int | None = None
    """When the grader is root: the unprivileged uid (and gid) the worker drops to; unique per worker."""
    hide: list[str] = field(default_factory=list)
    """Directories covered by an empty read-only tmpfs (reference, hidden data, the grader's home)."""
    keep: list[str] = field(default_factory=list)
    """Paths inside hidden directories re-exposed read-only (the Python install, the worker's own code)."""
    private: list[str] = field(default_factory=lambda: ["/tmp", "/var/tmp", "/dev/shm"])
    """World-writable places replaced by a private tmpfs, so stray files vanish with the worker."""
    cgroup: str | None = None
    """Name of a per-worker cgroup (v1 pids/memory) when the tree is writable."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def gpu_present() -> bool:
    """CUDA reserves terabytes of address space, so RLIMIT_AS would break it; RLIMIT_DATA does not."""
    return os.path.exists("/dev/nvidiactl")


def apply_rlimits(plan: SandboxPlan) -> list[str]:
    """CPU, memory, file size, open files, no core dumps (and NPROC when the worker gets its own uid)."""
    try:
        import resource
    except ImportError:  # Windows
        return []
    memory = resource.RLIMIT_DATA if gpu_present() else getattr(resource, "RLIMIT_AS", resource.RLIMIT_DATA)
    limits = [
        ("memory", memory, plan.memory_bytes),
        ("cpu", resource.RLIMIT_CPU, plan.cpu_seconds),
        ("fsize", resource.RLIMIT_FSIZE, plan.file_size_bytes),
        ("nofile", resource.RLIMIT_NOFILE, plan.open_files),
        ("core", resource.RLIMIT_CORE, 0),
    ]
    if plan.uid is not None and hasattr(resource, "RLIMIT_NPROC"):
        limits.append(("nproc", resource.RLIMIT_NPROC, plan.nproc))
    done = []
    for name, which, value in limits:
        try:
            soft, hard = resource.getrlimit(which)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (value, value))
            done.append(name)
        except (ValueError, OSError):
            pass
    return ["rlimits: " + ", ".join(done) + (" (RLIMIT_DATA: GPU present)" if gpu_present() else "")]


def _join_cgroup(plan: SandboxPlan) -> list[str]:
    """Put this process in its own v1 pids+memory cgroup (created here, removed by the server)."""
    joined = []
    for controller, settings in (("pids", {"pids.max": plan.nproc}), ("memory", {"memory.limit_in_bytes": plan.memory_bytes + 256 * 1024**2})):
        path = os.path.join(CGROUP_V1, controller, plan.cgroup or "")
        try:
            os.makedirs(path, exist_ok=True)
            for key, value in settings.items():
                with open(os.path.join(path, key), "w") as handle:
                    handle.write(str(value))
            with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
            joined.append(controller)
        except OSError:
            continue
    return [f"cgroup: {'+'.join(joined)} limits"] if joined else []


def _remount_flags(path: str) -> int:
    """Flags a read-only remount must keep: in a user namespace, dropping a locked flag is refused."""
    flags = os.statvfs(path).f_flag
    out = MS_BIND | MS_REMOUNT | MS_RDONLY
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (getattr(os, "ST_RELATIME", 4096), MS_RELATIME)):
        if flags & st:
            out |= ms
    return out


def _mounts(libc: Any, plan: SandboxPlan, hide_proc: bool) -> None:
    """Private mount tree: hidden dirs under empty tmpfs, kept paths bound back read-only, private /tmp."""
    def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        _check(libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None), f"mount {target}")

    mount("none", "/", None, MS_REC | MS_PRIVATE)
    # Open everything we bind back before covering it: a path under a tmpfs is no longer reachable.
    keep_fds = {p: os.open(p, os.O_PATH) for p in plan.keep if os.path.exists(p)}
    work_fd = os.open(plan.workdir, os.O_PATH)
    hides = [p for p in plan.hide if os.path.isdir(p)]
    privates = [p for p in plan.private if os.path.isdir(p)]
    # One pass, outermost first, so a kept path under a private or hidden folder (a venv
    # inside the checkout, a checkout under /tmp) is bound back *after* what covers it.
    for path in sorted(set(hides) | set(keep_fds) | set(privates), key=lambda p: p.count("/")):
        if path in keep_fds:
            if not os.path.exists(path):
                os.makedirs(path) if os.path.isdir(f"/proc/self/fd/{keep_fds[path]}") else open(path, "w").close()
            mount(f"/proc/self/fd/{keep_fds[path]}", path, None, MS_BIND | MS_REC)
            mount("none", path, None, _remount_flags(path))
        elif not os.path.isdir(path):  # absent here: already under a covering tmpfs
            continue
        elif path in privates:
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
        else:
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    os.makedirs(plan.workdir, exist_ok=True)
    mount(f"/proc/self/fd/{work_fd}", plan.workdir, None, MS_BIND)
    for path in [p for p in hides if os.path.ismount(p)]:  # kept mount points exist: freeze the covering tmpfs
        mount("none", path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for fd in [*keep_fds.values(), work_fd]:
        os.close(fd)
    if hide_proc:
        # Same-uid processes outside (the grader, the user's shell) would otherwise lend
        # their view of the file system through /proc/PID/root.
        mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")


def _namespaces(plan: SandboxPlan) -> list[str]:
    """New mount + network namespaces (inside a new user namespace when not root)."""
    libc = _libc()
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | (0 if root else CLONE_NEWUSER)
    if libc.unshare(flags) != 0:
        if libc.unshare(CLONE_NEWNET | (0 if root else CLONE_NEWUSER)) == 0:
            return ["network namespace (no network)", "mount namespace: unavailable"]
        return ["network namespace: unavailable", "mount namespace: unavailable"]
    if not root:  # map ourselves to ourselves, so files keep their owners
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    notes = ["network namespace (no network)"]
    try:
        _mounts(libc, plan, hide_proc=not root)
        notes.append("mount namespace: reference, hidden data and home hidden; private /tmp" + ("; /proc hidden" if not root else ""))
    except OSError as exc:
        notes.append(f"mount namespace: failed ({exc})")
    return notes


def _drop_privileges(plan: SandboxPlan) -> list[str]:
    """Root only: become a uid nobody else uses (RLIMIT_NPROC then counts only this worker)."""
    if plan.uid is None or os.geteuid() != 0:
        return ["uid drop: not root (worker runs as the grader's user)"]
    os.chown(plan.workdir, plan.uid, plan.uid)
    os.setgroups([])
    os.setresgid(plan.uid, plan.uid, plan.uid)
    os.setresuid(plan.uid, plan.uid, plan.uid)
    return [f"uid drop: uid/gid {plan.uid}"]


def _no_new_privileges(libc: Any) -> list[str]:
    """No setuid binary regains privileges; capabilities kept for mounting are given up."""
    notes = []
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        notes.append("no_new_privs")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) == 0:
        notes.append("capabilities dropped")
    return [", ".join(notes)] if notes else []


def enter_sandbox(plan: SandboxPlan) -> list[str]:
    """Confine the calling (freshly forked, single-threaded) process; return the active layers."""
    os.setsid()
    notes = ["process isolation: own session, whole tree killed after every run (subreaper sweep)"]
    if not IS_LINUX:
        return notes + apply_rlimits(plan) + [PLATFORM_NOTE]
    libc = _libc()
    if plan.cgroup and os.geteuid() == 0:
        notes += _join_cgroup(plan)
    notes += _namespaces(plan)
    os.chdir(plan.workdir)
    notes += apply_rlimits(plan)
    notes += _drop_privileges(plan)
    notes += _no_new_privileges(libc)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
    if os.getppid() == 1:
        os._exit(1)
    return notes


def python_paths() -> list[str]:
    """Directories the worker must still read after hiding: the interpreter, stdlib and site-packages."""
    import site
    import sysconfig

    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(p for p in sysconfig.get_paths().values() if p)
    paths.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    return sorted(p for p in paths if os.path.isdir(p))


USER_DATA_ROOTS = ("/work", "/home", "/srv", "/opt", "/mnt", "/media", "/data", "/workspace")
"""Top-level folders hidden from every worker (kept paths inside them are bound back)."""


_INSTRUCTOR_PATHS: set[str] = set()


def hide_instructor_path(path: str | os.PathLike[str]) -> None:
    """Hide this folder from every worker started from now on (an assignment and its reference,
    wherever the rubric keeps them: they need not be in the source checkout)."""
    if os.path.isdir(path):
        _INSTRUCTOR_PATHS.add(os.path.realpath(path))


def instructor_paths() -> list[str]:
    return sorted(_INSTRUCTOR_PATHS)


def default_hidden_paths(project_root: str) -> list[str]:
    """Where instructor material lives: the source checkout (reference, assignments, .git), the loaded rubrics' folders and references, $HOME."""
    hidden = [os.path.join(project_root, "reference"), os.path.join(project_root, "assignments")]
    if os.path.isdir(os.path.join(project_root, ".git")) or os.path.exists(os.path.join(project_root, "pyproject.toml")):
        hidden.append(project_root)
    hidden += sorted(_INSTRUCTOR_PATHS)
    home = os.path.expanduser("~")
    if home not in ("/", "") and os.path.isdir(home):
        hidden.append(os.path.realpath(home))
    # Where people keep files: another checkout of the grader or a folder of solutions may be
    # world-readable there. The worker needs none of it (Python and the sandbox are bound back).
    hidden += [p for p in USER_DATA_ROOTS if os.path.isdir(p)]
    return sorted({os.path.realpath(p) for p in hidden if os.path.isdir(p)})
