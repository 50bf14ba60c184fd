"""The worker's file system: an allow-list, built in its own mount namespace.

Instead of covering what must stay hidden (a deny-list always misses a folder: a class under
/var/local, results under /autograder), the worker gets a new, empty root (a tmpfs) into
which only what it needs is bound read-only: the Python install (interpreter, stdlib,
site-packages with numpy), the system's shared libraries, `grader/sandbox` (the worker's own
code), a few `/dev` nodes and `/etc` files. Writable places are fresh tmpfs (`/tmp`,
`/var/tmp`, `/run/lock`, `/var/lock`, `/dev/shm`) plus the worker's own working directory;
`/proc` is a new proc mount (the worker is PID 1 of its own PID namespace, so it sees only
its own processes). Then `pivot_root` (or `chroot` where the old root is no mount point) and
the old root is detached: nothing else of the machine is reachable.

Every writable place, the working directory included, is a folder of ONE size-capped tmpfs
(`scratch_bytes`): whatever a student writes anywhere counts against one bound (writes past
it fail with ENOSPC), lives in the worker's memory cgroup (tmpfs pages are charged to the
process that writes them), never touches the grader's disk, and is gone with the worker.

Runs in the confined child before student code, as root or inside a user namespace;
standard library only (imported beside `limits.py` by the fork server).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

__all__ = ["build_root", "allowed", "WRITABLE", "DEV_NODES", "ETC_FILES", "SYSTEM_LIBS"]

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217}

WRITABLE = ("/tmp", "/var/tmp", "/run/lock", "/var/lock", "/dev/shm")
"""Each a folder of the worker's one private tmpfs: whatever a student leaves there vanishes with the worker."""
SCRATCH_INODES = 65536
"""Files and folders the scratch tmpfs may hold (each inode costs kernel memory the size cap does not count)."""
DEV_NODES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf")
SYSTEM_LIBS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/cuda")
"""Shared libraries the interpreter's extension modules (and CUDA) load; distribution files only."""


def _remount_flags(path: str) -> int:
    """Flags a read-only remount must keep: in a user namespace, dropping a locked flag is refused."""
    flags = os.statvfs(path).f_flag
    out = MS_BIND | MS_REMOUNT | MS_RDONLY
    for st, ms in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC), (os.ST_NOATIME, MS_NOATIME),
                   (os.ST_NODIRATIME, MS_NODIRATIME), (getattr(os, "ST_RELATIME", 4096), MS_RELATIME)):
        if flags & st:
            out |= ms
    return out


def _allowed(paths: list[str]) -> tuple[list[str], dict[str, str]]:
    """(real paths to bind, symlinks to recreate): nested paths dropped (their parent's bind
    shows them), symlinked paths (`/lib -> usr/lib`) kept as links with their targets bound."""
    links: dict[str, str] = {}
    real: set[str] = set()
    for path in paths:
        path = os.path.abspath(path)
        if not os.path.lexists(path):
            continue
        if os.path.islink(path):
            links[path] = os.readlink(path)
        real.add(os.path.realpath(path))
    ordered = sorted(real, key=lambda p: (p.count("/"), p))
    kept: list[str] = []
    for path in ordered:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept, links


@functools.lru_cache(maxsize=4)
def allowed(allow: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """What to bind and which links to recreate; the fork server calls it once before forking."""
    return _allowed([*allow, *SYSTEM_LIBS, *ETC_FILES, *DEV_NODES, *_nvidia_nodes()])


def build_root(libc: Any, allow: list[str], workdir: str, new_proc: bool, hide: list[str] = (), scratch_bytes: int = 64 * 1024**2) -> list[str]:
    """Make the allow-listed root and enter it; return notes. Raises OSError on failure.

    `hide`: folders inside allowed ones that must stay out of sight all the same (the
    reference package when the grader is installed into the same site-packages).
    `scratch_bytes`: what the worker may write in all, every writable place together."""
    def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None) != 0:
            import ctypes

            errno = ctypes.get_errno()
            raise OSError(errno, f"mount {target}: {os.strerror(errno)}")

    mount("none", "/", None, MS_REC | MS_PRIVATE)
    paths, links = allowed(tuple(allow))
    # Open every source before covering anything: /tmp is covered next.
    fds = _open_sources(paths)
    root = "/tmp"
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    inside: Callable[[str], str] = lambda p: root + p  # noqa: E731
    scratch = _scratch(mount, inside("/.scratch"), scratch_bytes)
    for link, target in links.items():
        os.makedirs(inside(os.path.dirname(link)), exist_ok=True)
        os.symlink(target, inside(link))
    targets = sorted({*fds, *WRITABLE, "/proc", workdir}, key=lambda p: (p.count("/"), p))
    proc_note = "/proc: empty"
    for path in targets:
        at = inside(path)
        if os.path.islink(at) or any(os.path.islink(inside(path[: i])) for i in range(1, len(path)) if path[i] == "/"):
            continue  # reached through a recreated link (its target is bound in its own right)
        if path in fds:
            source = f"/proc/self/fd/{fds[path]}"
            if os.path.isdir(source):
                os.makedirs(at, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(at), exist_ok=True)
                open(at, "w").close()
            mount(source, at, None, MS_BIND | MS_REC)
            mount("none", at, None, _remount_flags(at))
        elif path in WRITABLE or path == workdir:
            os.makedirs(at, exist_ok=True)
            mount(scratch(path, 0o700 if path == workdir else 0o1777), at, None, MS_BIND)
        else:  # /proc, before the pivot: in a user namespace a new proc needs a visible one beside it
            os.makedirs(at, exist_ok=True)
            proc_note = _proc(mount, new_proc, at)
    for fd in fds.values():
        os.close(fd)
    libc.umount2(inside("/.scratch").encode(), MNT_DETACH)  # its folders stay bound where they are used
    os.rmdir(inside("/.scratch"))
    for path in hide:
        if os.path.isdir(inside(path)):
            mount("tmpfs", inside(path), "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=555")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        if not os.path.lexists(inside(f"/dev/{name}")):
            os.symlink(target, inside(f"/dev/{name}"))
    notes = ["file system: allow-list (Python install, system libraries, grader/sandbox read-only; private /tmp, /var/tmp, /run/lock, /var/lock, /dev/shm; nothing else)",
             f"disk: the working folder, HOME, /tmp, /var/tmp, /dev/shm share one private tmpfs of {scratch_bytes // 2**20} MB (its pages count in the worker's memory cgroup where it has one; gone with the worker)"]
    notes.append(_pivot(libc, mount, root))
    notes.append(proc_note)
    mount("none", "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    return notes


def _open_sources(paths: list[str]) -> dict[str, int]:
    """O_PATH descriptors of the folders and files to bind. The fork server lists them once and
    keeps the list: one removed since (a package uninstalled from a shared install while a
    batch runs) has nothing left to show and is skipped, not a reason to refuse every worker."""
    fds: dict[str, int] = {}
    for path in paths:
        try:
            fds[path] = os.open(path, os.O_PATH)
        except FileNotFoundError:
            continue
    return fds


def _scratch(mount: Callable[..., None], at: str, size: int) -> Callable[[str, int], str]:
    """Mount the worker's one writable tmpfs at `at`; returns a function giving a fresh
    folder of it (with the given mode) for each writable place."""
    os.makedirs(at, exist_ok=True)
    mount("tmpfs", at, "tmpfs", MS_NOSUID | MS_NODEV, f"size={max(size, 4096)},nr_inodes={SCRATCH_INODES},mode=755")

    def folder(path: str, mode: int) -> str:
        made = os.path.join(at, path.strip("/").replace("/", "-") or "root")
        os.mkdir(made)
        os.chmod(made, mode)  # mkdir's mode passes through the umask
        return made

    return folder


def _pivot(libc: Any, mount: Callable[..., None], root: str) -> str:
    """pivot_root into `root` and detach the old one; chroot where pivot_root is refused."""
    import platform

    os.makedirs(root + "/.old", exist_ok=True)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is not None and libc.syscall(number, root.encode(), (root + "/.old").encode()) == 0:
        os.chdir("/")
        libc.umount2(b"/.old", MNT_DETACH)
        os.rmdir("/.old")
        return "root: pivot_root, old root detached"
    os.chdir(root)
    os.chroot(".")
    os.chdir("/")
    return "root: chroot (pivot_root refused here)"


def _proc(mount: Callable[..., None], new_proc: bool, at: str) -> str:
    """A proc of the worker's own PID namespace; where refused, an empty read-only /proc."""
    if new_proc:
        try:
            mount("proc", at, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            return "/proc: private (own PID namespace: only the worker's processes)"
        except OSError as exc:
            why = str(exc)
    else:
        why = "no PID namespace"
    mount("tmpfs", at, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "size=4k,mode=555")
    return f"/proc: empty ({why})"


def _nvidia_nodes() -> list[str]:
    """GPU device nodes, when present (CuPy timing in the worker needs them)."""
    try:
        return [f"/dev/{n}" for n in os.listdir("/dev") if n.startswith("nvidia")]
    except OSError:
        return []
