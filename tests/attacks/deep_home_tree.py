# Class 6: a 3000-level directory tree in the worker's home. shutil.rmtree recursed once per
# level: RecursionError in the grader's cleanup, and /tmp/grade-* left behind.
import os as _os

_top = _os.open(_os.environ["HOME"], _os.O_RDONLY)
_os.mkdir("deep-__TOKEN__", dir_fd=_top)
_fd = _os.open("deep-__TOKEN__", _os.O_RDONLY, dir_fd=_top)
for _ in range(3000):
    _os.mkdir("d", dir_fd=_fd)
    _next = _os.open("d", _os.O_RDONLY, dir_fd=_fd)
    _os.close(_fd)
    _fd = _next
_os.mkdir("locked", dir_fd=_fd)
_os.chmod("locked", 0, dir_fd=_fd)
_os.close(_fd)
_os.close(_top)
