"""Several calls in one request (grader/sandbox/batching.py, ops_many.py), on a real worker."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.engine import grade_file
from grader.errors import StudentFailure
from grader.sandbox.cpu_timer import wall_limit
from grader.sandbox.batching import CallBatch
from grader.sandbox.client import SandboxConfig
from grader.sandbox.session import StudentSession
from grader.submission import read_submission

SUBMISSIONS = Path(__file__).parent / "submissions"

LAYER = """\
import numpy as np, os, sys, json, struct

class Dense:
    def __init__(self, n_in, n_out, learning_rate=0.1):
        self.weights = np.zeros((n_in, n_out))
        self.biases = np.zeros(n_out)

    def forward(self, input):
        if input.shape[0] == 3:
            assert input.shape[0] != 3, "three rows"
        if input.shape[0] == 4:
            while True:
                pass
        if input.shape[0] == 7:
            os._exit(3)
        if input.shape[0] == 6:
            try:
                while True:
                    time.sleep(0.01)
            except BaseException:
                while True:
                    pass
        return input @ self.weights + self.biases

import time, gc
FORGE = {}

def forge(kind):
    FORGE["kind"] = kind

_real_forward = Dense.forward
def _forging_forward(self, input):
    kind = FORGE.pop("kind", None)
    if kind:  # write a reply of our own and drop the real one (as tests/attacks/forged_replies.py)
        protocol = sys.modules["protocol"]
        write = protocol.write_message
        fd = next(o for o in gc.get_objects() if type(o).__name__ == "Worker").reply_fd
        def swallow_once(*args, **kwargs):
            protocol.write_message = write
        forged = {"length": {"ok": True, "results": [{"result": {"t": "h", "h": 3}}] * 7},
                  "types": {"ok": True, "results": ["x", 7], "failed": "1"},
                  "failed": {"ok": True, "results": [{"result": {"t": "v", "v": 5.0}}], "failed": 1, "error": ["not", "a", "record"]}}[kind]
        write(fd, forged)
        protocol.write_message = swallow_once
    return _real_forward(self, input)
Dense.forward = _forging_forward
"""


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> StudentSession:
    path = tmp_path_factory.mktemp("batch") / "sub.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(LAYER)]
    nbformat.write(nb, str(path))
    session = StudentSession(read_submission(path), SandboxConfig(request_timeout=1.0))
    session.start()
    yield session
    session.close()


def _batch_of_forwards(session: StudentSession, layer, rows: list[int]) -> CallBatch:
    batch = CallBatch(session)
    for n in rows:
        batch.call(layer, np.arange(n * 2.0).reshape(n, 2), method="forward", what=f"forward of {n}")
    return batch


def test_a_batch_returns_what_separate_calls_return_in_one_round_trip(session: StudentSession) -> None:
    layer = session.new("Dense", 2, 3)
    session.set(layer, weights=np.arange(6.0).reshape(2, 3), biases=np.ones(3))
    single = [session.call(layer, np.arange(n * 2.0).reshape(n, 2), method="forward") for n in (1, 2, 5)]
    session.set(layer, defer=True, biases=np.ones(3))  # a deferred set travels with the batch
    before = session.profile.counts["requests"]
    batch = CallBatch(session)
    for n in (1, 2, 5):
        batch.call(layer, np.arange(n * 2.0).reshape(n, 2), method="forward")
    fresh = batch.new("Dense", 2, 3)  # a layer made and used within the same batch
    batch.set(fresh, weights=np.ones((2, 3)))
    batch.call(fresh, np.ones((1, 2)), method="forward", return_args=True)
    batch.get(fresh, "weights", "biases")
    results = batch.run()
    assert session.profile.counts["requests"] == before + 1
    for got, want in zip(results[:3], single):
        np.testing.assert_array_equal(got, want)
    assert results[4] is None
    out, (arg,) = results[5]
    np.testing.assert_array_equal(out, np.full((1, 3), 2.0))
    np.testing.assert_array_equal(arg, np.ones((1, 2)))
    np.testing.assert_array_equal(results[6][0], np.ones((2, 3)))
    np.testing.assert_array_equal(session.get(results[3], "weights"), np.ones((2, 3)))  # the kept object lives on


def test_a_batch_too_big_for_one_message_goes_in_parts(session: StudentSession) -> None:
    layer = session.new("Dense", 2, 3)
    batch = CallBatch(session)
    for n in range(1, 151):  # 150 arrays out, 300 back: over the protocol's 256 per message
        batch.call(layer, np.ones((n % 2 + 1, 2)), method="forward", return_args=True)
    before = session.profile.counts["requests"]
    results = batch.run()
    assert session.profile.counts["requests"] == before + 2
    assert [out.shape[0] for out, _ in results] == [n % 2 + 1 for n in range(1, 151)]


def test_the_kth_failure_is_the_single_calls_and_earlier_results_are_kept(session: StudentSession) -> None:
    layer = session.new("Dense", 2, 3)
    with pytest.raises(StudentFailure) as alone:
        session.call(layer, np.zeros((3, 2)), method="forward", what="forward of 3")
    results, failure = _batch_of_forwards(session, layer, [1, 2, 3, 5]).run_partial()
    assert [r.shape for r in results] == [(1, 3), (2, 3)]
    assert failure is not None
    for field in ("code", "message", "traceback", "error_type"):
        assert getattr(failure, field) == getattr(alone.value, field)
    assert failure.local_arrays.keys() == alone.value.local_arrays.keys() and "input" in failure.local_arrays
    np.testing.assert_array_equal(failure.local_arrays["input"], np.arange(6.0).reshape(3, 2))
    with pytest.raises(StudentFailure, match="three rows"):
        _batch_of_forwards(session, layer, [1, 3]).run()


@pytest.mark.parametrize("rows, swallowed", [(4, False), (6, True)])
def test_a_hung_call_times_out_under_its_own_name_and_the_session_recovers(session: StudentSession, rows: int, swallowed: bool) -> None:
    layer = session.new("Dense", 2, 3)
    started = time.monotonic()
    results, failure = _batch_of_forwards(session, layer, [1, 2, rows, 1]).run_partial()
    took = time.monotonic() - started
    assert failure is not None and failure.code == "timeout"
    assert failure.message == f"forward of {rows} did not finish within 1 s (an infinite loop, or far too slow)."
    # Not the whole batch's: the call's own limit, 1 CPU-s for the busy loop; the sleeping one
    # uses no CPU, so the wall-clock backstop stops it (3 s), then 1 s grace as it hides the timer.
    assert took < (wall_limit(1.0) + 1.8 if swallowed else 2.0), took
    assert [r.shape for r in results] == ([(1, 3), (2, 3)] if not swallowed else [])
    # The label is now known to hang: a later batch stops there at once, after the calls before it.
    results, again = _batch_of_forwards(session, session.new("Dense", 2, 3), [2, rows]).run_partial()
    assert again is failure and [r.shape for r in results] == [(2, 3)]
    assert session.worker is not None and session.worker.alive


def test_a_call_that_kills_the_worker_fails_as_alone_and_the_calls_before_it_keep_their_results(session: StudentSession) -> None:
    with pytest.raises(StudentFailure) as alone:
        session.call(session.new("Dense", 2, 3), np.zeros((7, 2)), method="forward", what="forward of 7")
    batch = CallBatch(session)  # fresh layers only: after the worker died, the calls go again one by one
    for n in (1, 2, 7, 1):
        batch.call(batch.new("Dense", 2, 3), np.ones((n, 2)), method="forward", what=f"forward of {n}")
    results, failure = batch.run_partial()
    assert failure is not None and (failure.code, failure.message) == (alone.value.code, alone.value.message)
    assert failure.code == "crash" and failure.message.startswith("forward of 7 crashed the Python process")
    assert [getattr(r, "shape", None) for r in results[1::2]] == [(1, 3), (2, 3)] and len(results) == 5  # the third layer was made


@pytest.mark.parametrize("kind", ["length", "types", "failed"])
def test_a_forged_batch_reply_is_a_crash_never_a_grader_error(session: StudentSession, kind: str) -> None:
    layer = session.new("Dense", 2, 3)
    session.call("forge", kind)
    results, failure = _batch_of_forwards(session, layer, [1, 2]).run_partial()
    assert failure is not None and failure.code == "crash" and "malformed" in failure.message
    assert results == ([] if kind != "failed" else [5.0])
    session.ensure_alive()  # restarted and replayed: the forging switch is off again
    assert session.call(session.new("Dense", 2, 3), np.ones((1, 2)), method="forward").shape == (1, 3)


def test_a_correct_notebook_needs_far_fewer_round_trips() -> None:
    report = grade_file(SUBMISSIONS / "correct_np_dot.ipynb")
    assert report.score == report.max_score
    assert report.profile["counts"]["requests"] <= 90  # 199 one call per request; 58 batched
