"""Fewer, cheaper round trips: the .npy fast path and deferred assignments, on a real worker."""

from __future__ import annotations

import io
import struct

import nbformat
import numpy as np
import pytest

from grader.errors import StudentFailure
from grader.sandbox import protocol
from grader.sandbox.client import SandboxConfig
from grader.sandbox.session import StudentSession
from grader.submission import read_submission

ARRAYS = [
    np.arange(35.0).reshape(7, 5), np.arange(3), np.zeros((0, 3)), np.ones((2, 3), dtype=np.float32),
    np.array([True, False]), np.asfortranarray(np.arange(12.0).reshape(3, 4)), np.arange(12.0).reshape(3, 4).T,
    np.array([1 + 2j]), np.zeros((1,) * 5, dtype=np.int8), np.arange(4, dtype=">i4"),
]


@pytest.mark.parametrize("array", [pytest.param(a, id=f"{a.dtype}-{a.shape}") for a in ARRAYS])
def test_npy_bytes_are_numpys_and_read_back_exactly(array: np.ndarray) -> None:
    expected = io.BytesIO()
    np.lib.format.write_array(expected, np.ascontiguousarray(array), allow_pickle=False)
    blob = protocol._array_bytes(array)
    assert blob == expected.getvalue()
    for _ in range(2):  # the second read of the same header comes from the cache of headers seen
        back = protocol._parse_array(blob)
        assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)
        assert back.flags.writeable
    assert protocol._array_bytes(array) == blob  # a cached header writes the same bytes


@pytest.mark.parametrize("seen_before", [False, True])
def test_a_header_that_lies_about_the_size_is_refused(seen_before: bool) -> None:
    blob = protocol._array_bytes(np.zeros((4, 4)))
    protocol._LAYOUTS.clear()
    if seen_before:  # the header's layout is cached: the size is still checked
        protocol._parse_array(blob)
    with pytest.raises(protocol.ProtocolError, match="size does not match"):
        protocol._parse_array(blob[:-8])
    with pytest.raises(protocol.ProtocolError, match="size does not match"):
        protocol._parse_array(blob + b"\0" * 8)


def test_the_header_caches_stay_bounded_whatever_shapes_arrive() -> None:
    for n in range(protocol.MAX_CACHED_HEADERS + 10):
        protocol._parse_array(protocol._array_bytes(np.zeros(n % 2000, dtype=np.int8)))
        protocol._parse_array(protocol._array_bytes(np.zeros((1, n), dtype=np.int8)))
    assert 0 < len(protocol._LAYOUTS) <= protocol.MAX_CACHED_HEADERS
    assert 0 < len(protocol._HEADERS) <= protocol.MAX_CACHED_HEADERS


def test_an_unusual_header_goes_to_numpys_reader_which_refuses_objects() -> None:
    text = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header = (text + " " * (64 - (10 + len(text) + 1) % 64) + "\n").encode("latin1")
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 8
    assert protocol._parse_plain_npy(blob) is None
    with pytest.raises(protocol.ProtocolError):
        protocol._parse_array(blob)


SETTER_FAILS = """\
import numpy as np

class Dense:
    def __init__(self, n_in, n_out, learning_rate=0.1):
        self._w = np.zeros((n_in, n_out))
        self.biases = np.zeros(n_out)

    @property
    def weights(self):
        return self._w

    @weights.setter
    def weights(self, value):
        raise ValueError("weights are read-only here")

    def forward(self, input):
        return input @ self._w + self.biases
"""


def _session(tmp_path, source: str) -> StudentSession:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, str(tmp_path / "sub.ipynb"))
    session = StudentSession(read_submission(tmp_path / "sub.ipynb"), SandboxConfig(request_timeout=5.0))
    session.start()
    return session


def test_a_deferred_assignment_travels_with_the_next_call_and_fails_under_its_own_name(tmp_path) -> None:
    with _session(tmp_path, SETTER_FAILS) as session:
        layer = session.new("Dense", 3, 2)
        before = session.profile.counts["requests"]
        session.set(layer, defer=True, biases=np.ones(2))
        assert session.profile.counts["requests"] == before  # nothing sent yet
        out = session.call(layer, np.ones((4, 3)), method="forward")
        assert session.profile.counts["requests"] == before + 1
        np.testing.assert_array_equal(out, np.ones((4, 2)))  # the assignment ran first
        session.set(layer, defer=True, weights=np.ones((3, 2)), biases=np.zeros(2))
        with pytest.raises(StudentFailure, match=r"setting weights, biases raised ValueError: weights are read-only here"):
            session.call(layer, np.ones((4, 3)), method="forward")
