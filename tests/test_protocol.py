"""The wire format: arrays round-trip exactly; anything that could run code is refused."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct

import numpy as np
import pytest

from grader.sandbox import protocol


def _roundtrip(header: dict, arrays: list[np.ndarray]) -> tuple[dict, list[np.ndarray]]:
    r, w = os.pipe()
    protocol.write_message(w, header, arrays)
    os.close(w)
    with os.fdopen(r, "rb") as stream:
        return protocol.read_message(stream)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool", "complex128"])
def test_numeric_arrays_roundtrip(dtype: str) -> None:
    array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    header, arrays = _roundtrip({"x": 1}, [array])
    assert header["x"] == 1
    assert arrays[0].dtype == array.dtype and np.array_equal(arrays[0], array)


def _raw_message(header: dict, blobs: list[bytes]) -> io.BytesIO:
    payload = json.dumps(dict(header, n_arrays=len(blobs))).encode()
    data = protocol.MAGIC + struct.pack("<I", len(payload)) + payload
    for blob in blobs:
        data += struct.pack("<Q", len(blob)) + blob
    return io.BytesIO(data)


def test_object_arrays_are_refused_never_unpickled(tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    np.save(buffer, np.array([Evil()], dtype=object), allow_pickle=True)
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(_raw_message({}, [buffer.getvalue()]))
    assert not marker.exists()


def test_pickle_bytes_are_not_a_message() -> None:
    with pytest.raises(protocol.ProtocolError, match="bad magic"):
        protocol.read_message(io.BytesIO(pickle.dumps({"score": 100})))


def test_oversized_array_is_refused_before_reading() -> None:
    stream = io.BytesIO(protocol.MAGIC + struct.pack("<I", 15) + b'{"n_arrays": 1}' + struct.pack("<Q", 1 << 40))
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.read_message(stream)


def test_truncated_message() -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.read_message(io.BytesIO(protocol.MAGIC + struct.pack("<I", 100) + b"{}"))


@pytest.mark.parametrize("value", [{"t": "zz"}, {"t": "a", "i": 5}, {"t": "v", "v": [1]}, "plain"], ids=["unknown-tag", "bad-index", "non-scalar", "untagged"])
def test_bad_values_are_refused(value: object) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_value(value, [])


def test_large_arrays_written_from_their_own_memory_arrive_whole_through_partial_writes() -> None:
    """Arrays of ZERO_COPY_BYTES or more go out as views (writev), so a full pipe cuts the
    write anywhere, also inside an array; a reader that starts late still gets every byte,
    and a reader that never starts stops the writer at its deadline."""
    import fcntl
    import threading
    import time

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(400_000), np.arange(10.0), rng.standard_normal((300, 700)).T, np.arange(40_000, dtype=">i4"), np.ones(70_000, dtype=bool)]
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
    received: dict[str, tuple[dict, list[np.ndarray]]] = {}

    def late_reader() -> None:
        time.sleep(0.2)
        with os.fdopen(r, "rb") as stream:
            received["message"] = protocol.read_message(stream)

    thread = threading.Thread(target=late_reader)
    thread.start()
    protocol.write_message(w, {"x": 1}, arrays, deadline=time.monotonic() + 10)
    os.close(w)
    thread.join()
    header, back = received["message"]
    assert header == {"x": 1, "n_arrays": len(arrays)}
    assert all(a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b) for a, b in zip(arrays, back))

    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
    with pytest.raises(TimeoutError):
        protocol.write_message(w, {"x": 1}, arrays, deadline=time.monotonic() + 0.2)
    os.close(r)
    os.close(w)


def test_the_graders_reader_gets_small_in_place_and_chunked_arrays_whole_and_writeable() -> None:
    """The grader's pipe reader fills 64 KiB..16 MiB reads in place and grows its buffer for
    larger ones; every array arrives exact, writeable, and owning its memory."""
    import threading
    import time

    from grader.sandbox.pipes import IN_PLACE_MAX, DeadlineReader

    arrays = [np.arange(7.0), np.arange(200_000.0), np.arange(IN_PLACE_MAX // 8 + 1000, dtype=np.float64)]
    r, w = os.pipe()
    writer = threading.Thread(target=lambda: (protocol.write_message(w, {"x": 1}, arrays), os.close(w)))
    writer.start()
    reader = DeadlineReader(r)
    reader.deadline = time.monotonic() + 30
    header, back = protocol.read_message(reader)
    writer.join()
    os.close(r)
    assert header["x"] == 1
    for sent, got in zip(arrays, back):
        assert np.array_equal(sent, got) and got.flags.writeable
        got[0] = -1.0  # its own memory: nothing else changes
    assert [a[0] for a in back] == [-1.0, -1.0, -1.0] and arrays[1][0] == 0.0
