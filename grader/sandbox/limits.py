"""The sandbox's confinement layers, applied inside a freshly forked worker before student code.

Imported two ways: by the grader (`grader.sandbox.limits`, to build a `SandboxPlan`) and by
the fork server / worker as a sibling module (`limits`), so it depends on the standard
library only. Every layer is tried and its outcome recorded rather than assumed: a layer
the platform refuses (no user namespaces, a read-only cgroup tree, macOS) is reported as
missing in `grade --verbose`, never silently claimed.

Order inside the child (see `enter_sandbox`): new session -> cgroup (made fresh by the
server) -> unshare mount/network/IPC/PID namespaces -> fork (the child is PID 1 of its PID
namespace; the parent only waits) -> allow-listed root with a private /proc (rootfs.py,
while we still hold the privilege to mount) -> rlimits -> drop to the worker's own uid ->
no_new_privs and empty capabilities -> parent-death signal. The uid drop comes after the
mounts because mounting needs privilege, and before student code because everything after
it (RLIMIT_NPROC, file modes, signals to other uids) relies on the worker being nobody in
particular.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import signal
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SandboxPlan", "apply_rlimits", "enter_sandbox", "SandboxError", "CGROUP_CONTROLLERS", "hide_instructor_path", "registered_instructor_paths", "python_paths", "IS_LINUX", "PLATFORM_NOTE"]

IS_LINUX = sys.platform.startswith("linux")
PLATFORM_NOTE = "sandbox: stronger isolation (namespaces, uid drop, cgroups) is Linux-only; here: process isolation, timeouts, rlimits where POSIX, safe protocol"

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x10000000, 0x40000000, 0x08000000, 0x20000000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE, PR_SET_NAME = 1, 38, 4, 15
CGROUP_V1 = "/sys/fs/cgroup"
CGROUP_CONTROLLERS = ("pids", "memory", "freezer")


@dataclass
class SandboxPlan:
    """Everything the child needs to confine itself; plain data so it crosses the control socket as JSON."""

    workdir: str
    """The worker's fresh working directory (also HOME and TMPDIR)."""
    memory_bytes: int = 2 * 1024**3
    """RLIMIT_AS on CPU-only machines; RLIMIT_DATA where a GPU driver is present (CUDA maps huge address ranges)."""
    cpu_seconds: int = 120
    file_size_bytes: int = 64 * 1024**2
    """RLIMIT_FSIZE: no one file grows past this (capped by disk_bytes); a write past it fails with EFBIG."""
    disk_bytes: int = 64 * 1024**2
    """What the worker may write in all (working folder, HOME, /tmp, /var/tmp, /dev/shm): the
    size of its one private tmpfs; without a mount namespace the grader measures its folder."""
    open_files: int = 256
    nproc: int = 64
    """RLIMIT_NPROC and cgroup pids.max; only meaningful once the worker has its own uid."""
    uid: int | None = None
    """When the grader is root: the unprivileged uid (and gid) the worker drops to; unique per worker."""
    keep: list[str] = field(default_factory=list)
    """The allow-list: paths bound read-only into the worker's otherwise empty root (the Python
    install, the worker's own code); see rootfs.py for what else it gets."""
    hide: list[str] = field(default_factory=list)
    """Folders inside the allow-list kept out of sight (an installed reference package)."""
    cgroups: list[str] = field(default_factory=list)
    """The worker's fresh cgroup directories (v1 pids/memory/freezer), made by the fork server."""
    role: str = "student"
    """student or reference: the reference twin gets a uid from a range of its own."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    """Loaded once (by the fork server, before it forks): find_library runs a subprocess."""
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def name_process(name: str) -> None:
    """What `ps`, `top` and perf show for this process (15 bytes at most): which part of the
    grader it is, instead of one more "python"."""
    if IS_LINUX:
        _libc().prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


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
        ("fsize", resource.RLIMIT_FSIZE, min(plan.file_size_bytes, plan.disk_bytes)),
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


def join_cgroup(plan: SandboxPlan) -> list[str]:
    """Move this process into the worker's own cgroups, made fresh (and limited) by the fork server."""
    joined = []
    for path in plan.cgroups:
        try:
            with open(os.path.join(path, "cgroup.procs"), "w") as handle:
                handle.write(str(os.getpid()))
            joined.append(os.path.relpath(path, CGROUP_V1).split(os.sep)[0])
        except OSError:
            continue
    quota = ", the whole tree one core at most" if "cpu" in joined else ""
    return [f"cgroup: fresh {'+'.join(joined)} cgroup{quota}, removed after the worker"] if joined else []


IPC_NOTE = "IPC namespace (SysV shm, queues and semaphores private, gone with the worker)"


def _unshare() -> tuple[list[str], bool, bool]:
    """New mount, network, IPC and PID namespaces (inside a new user namespace when not root).

    Returns (notes, mount namespace made, PID namespace made). The PID namespace applies to
    the *next* child: the caller forks, and that child is PID 1 of a namespace of its own."""
    libc = _libc()
    root = os.geteuid() == 0
    uid, gid = os.getuid(), os.getgid()
    user = 0 if root else CLONE_NEWUSER
    attempts = (
        (CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID, ["network namespace (no network)", IPC_NOTE, "PID namespace"]),
        (CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC, ["network namespace (no network)", IPC_NOTE, "PID namespace: unavailable"]),
        (CLONE_NEWNET, ["network namespace (no network)", "IPC namespace: unavailable", "mount namespace: unavailable"]),
    )
    for flags, notes in attempts:
        if libc.unshare(flags | user) == 0:
            break
    else:
        return ["namespaces: unavailable (no network, mount, IPC or PID namespace: the worker shares the machine's)"], False, False
    if not root:  # map ourselves to ourselves, so files keep their owners
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    return notes, bool(flags & CLONE_NEWNS), bool(flags & CLONE_NEWPID)


DISK_WATCHED = "disk: no private tmpfs here"


def disk_fallback_note(disk_bytes: int) -> str:
    """Said in --verbose where the writable places cannot be a private tmpfs (no mount namespace)."""
    mb = disk_bytes // 2**20
    return f"{DISK_WATCHED}: each file at most {mb} MB (RLIMIT_FSIZE), the working folder measured and the worker killed past {mb} MB; /tmp and /dev/shm are the machine's"


class SandboxError(RuntimeError):
    """A layer that must hold could not be applied: the worker does not start."""


def _file_system(plan: SandboxPlan, mount_ns: bool, new_pid: bool) -> list[str]:
    """The allow-listed root (rootfs.py) when we have a mount namespace."""
    if not mount_ns:
        return ["file system: not isolated (no mount namespace here)", disk_fallback_note(plan.disk_bytes)]
    import rootfs

    try:
        return rootfs.build_root(_libc(), plan.keep, plan.workdir, new_pid, plan.hide, plan.disk_bytes)
    except OSError as exc:  # half-built: never run student code over a root in an unknown state
        raise SandboxError(f"file system isolation failed: {exc}") from None


def _wait_and_mirror(pid: int) -> None:
    """The PID namespace's parent: wait for its PID 1 (the worker), then die the way it died."""
    os.closerange(0, 1 << 16)  # hold no pipe end: the grader must see EOF when the worker dies
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(70)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)


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
    """Confine the calling (freshly forked, single-threaded) process; return the active layers.

    On Linux this forks once more: the calling process stays outside as the parent of the
    worker's PID namespace (it only waits, then exits as the worker did) and the function
    returns in the child, PID 1 of that namespace, with every layer applied."""
    os.setsid()
    notes = ["process isolation: own session, whole tree killed after every run (subreaper sweep)"]
    if not IS_LINUX:
        return notes + apply_rlimits(plan) + [PLATFORM_NOTE]
    libc = _libc()
    if plan.cgroups and os.geteuid() == 0:
        notes += join_cgroup(plan)
    namespaces, mount_ns, new_pid = _unshare()
    child = os.fork()
    if child != 0:
        name_process(f"grade-{plan.role}-ns")
        _wait_and_mirror(child)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not new_pid and os.getppid() == 1:
        os._exit(1)
    notes += namespaces + _file_system(plan, mount_ns, new_pid)
    os.chdir(plan.workdir)
    notes += apply_rlimits(plan)
    notes += _drop_privileges(plan)
    notes += _no_new_privileges(libc)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # after setuid, which clears it
    return notes


_INSTRUCTOR_PATHS: set[str] = set()


def hide_instructor_path(path: str | os.PathLike[str]) -> None:
    """Keep this folder out of sight of every worker started from now on, even inside an allowed
    folder (an assignment and its reference, wherever the rubric keeps them)."""
    if os.path.isdir(path):
        _INSTRUCTOR_PATHS.add(os.path.realpath(path))


def registered_instructor_paths() -> list[str]:
    return sorted(_INSTRUCTOR_PATHS)


def instructor_paths(project_root: str) -> list[str]:
    """Instructor material that an allowed folder may contain: the reference package wherever
    it is installed, and the checkout's reference/ and assignments/."""
    import importlib.util

    found = [os.path.join(project_root, "reference"), os.path.join(project_root, "assignments")]
    try:
        spec = importlib.util.find_spec("reference")
    except (ImportError, ValueError):
        spec = None
    found += list(spec.submodule_search_locations or []) if spec else []
    return sorted({os.path.realpath(p) for p in found if os.path.isdir(p)})


def python_paths() -> list[str]:
    """The Python install the worker reads (the allow-list): interpreter, stdlib, site-packages."""
    import site
    import sysconfig

    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(p for p in sysconfig.get_paths().values() if p)
    paths.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    # numpy (and CuPy) wherever they were found, e.g. through a .pth file of another install.
    import importlib.util

    for name in ("numpy", "numpy.libs", "cupy", "cupy_backends", "fastrlock", "nvidia"):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for location in (spec.submodule_search_locations or []) if spec else []:
            paths.add(os.path.realpath(location))
    if os.path.isdir("/usr/share/zoneinfo"):
        paths.add("/usr/share/zoneinfo")
    return sorted(p for p in paths if os.path.isdir(p))
