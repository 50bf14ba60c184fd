# Issue 9, class 2 (one student fills the disk and the batch dies), from a method: the first
# layer a worker makes writes 300 MB in 8 MB chunks, half to the working directory and half to
# /tmp, and keeps the files open. Unlike fill_the_disk.py's top-level loop, no slicing of
# statements can leave it out. The worker's writable space must be bounded and emptied with it;
# the next students' files, results and the grader's own temporary files must not be affected.
import os as _os
import tempfile as _tempfile

_CHUNK = b"\0" * (8 << 20)


def _fill(folder, total):
    written, handles = 0, []
    try:
        while written < total:
            handle = open(_os.path.join(folder, f"filler-__TOKEN__-{written >> 20}.bin"), "wb")
            handles.append(handle)
            handle.write(_CHUNK)
            handle.flush()
            written += len(_CHUNK)
    except OSError:
        pass
    return handles


_kept = []


class Dense(Dense):
    def __init__(self, input_units, output_units, learning_rate=0.1):
        super().__init__(input_units, output_units, learning_rate)
        if not _kept:
            _kept.extend(_fill(_os.getcwd(), 150 << 20))
            _kept.extend(_fill(_tempfile.gettempdir(), 150 << 20))
