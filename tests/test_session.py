"""Loading a submission statement by statement, and surviving what it does, in a real worker."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.errors import StudentFailure
from grader.sandbox.client import SandboxConfig, WorkerProcess
from grader.sandbox.session import StudentSession
from grader.submission import read_submission

FAST = SandboxConfig(statement_timeout=0.5, request_timeout=3.0)


def _notebook(tmp_path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    path = tmp_path / "sub.ipynb"
    nbformat.write(nb, str(path))
    return path


def _session(path: Path, config: SandboxConfig = FAST) -> StudentSession:
    session = StudentSession(read_submission(path), config)
    session.start()
    return session


def test_failing_and_hanging_statements_are_skipped_definitions_survive(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path,
        "import numpy as np\nfrom keras.datasets import mnist\nX_train = mnist.load_data()",
        "def double(x):\n    return 2 * x\nwhile True:\n    pass\ndef triple(x):\n    return 3 * x",
        "plt.show()",
    )
    session = _session(path)
    try:
        assert session.call("double", np.ones(2)).tolist() == [2.0, 2.0]
        assert session.call("triple", np.ones(1)).tolist() == [3.0]
        statuses = {(i.cell, i.line): i.status for i in session.issues.values()}
        assert statuses == {("cell 1, code cell 1", 2): "error", ("cell 1, code cell 1", 3): "error", ("cell 2, code cell 2", 3): "timeout", ("cell 3, code cell 3", 1): "error"}
    finally:
        session.close()


def test_syntax_error_loses_only_its_statement(tmp_path: Path) -> None:
    path = _notebook(tmp_path, "def good():\n    return 1\n\ndef bad(:\n    pass\n\ndef also_good():\n    return 2")
    session = _session(path)
    try:
        assert session.call("good") == 1 and session.call("also_good") == 2
        issue = next(iter(session.issues.values()))
        assert issue.status == "syntax-error" and issue.line == 4
    finally:
        session.close()


def test_exit_during_load_is_survived(tmp_path: Path) -> None:
    path = _notebook(tmp_path, "def f():\n    return 5", "import os\nos._exit(0)", "def g():\n    return 6")
    session = _session(path)
    try:
        assert session.call("f") == 5 and session.call("g") == 6
        assert any(i.status == "crash" for i in session.issues.values())
    finally:
        session.close()


def test_request_failures_have_codes_and_the_worker_restarts(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path,
        "import os, numpy as np\n"
        "def boom():\n    raise NotImplementedError\n"
        "def die():\n    os._exit(3)\n"
        "def spin():\n    while True:\n        pass\n"
        "def bad():\n    return [1][5]\n"
        "def ok(x):\n    return x + 1",
    )
    session = _session(path)
    try:
        expected = {"boom": "not-implemented", "die": "crash", "spin": "timeout", "bad": "exception"}
        for name, code in expected.items():
            with pytest.raises(StudentFailure) as info:
                session.call(name)
            assert info.value.code == code, info.value
        assert session.call("ok", np.zeros(1)).tolist() == [1.0]
        with pytest.raises(StudentFailure, match="bad raised IndexError"):
            session.call("bad")
    finally:
        session.close()


def test_hung_call_fails_fast_the_second_time(tmp_path: Path) -> None:
    session = _session(_notebook(tmp_path, "def spin():\n    while True:\n        pass"), SandboxConfig(statement_timeout=0.5, request_timeout=1.0))
    try:
        with pytest.raises(StudentFailure):
            session.call("spin")
        restarts = session.restarts
        with pytest.raises(StudentFailure, match="did not finish"):
            session.call("spin")
        assert session.restarts == restarts  # no second wait, no second worker
    finally:
        session.close()


def test_trimmed_traceback_points_to_the_cell_line(tmp_path: Path) -> None:
    session = _session(_notebook(tmp_path, "x = 1", "def f(a):\n    y = a\n    return y[10]"))
    try:
        with pytest.raises(StudentFailure) as info:
            session.call("f", np.zeros(3))
        assert 'File "<submission cell 2, code cell 2>", line 3, in f' in info.value.traceback
        assert "grader" not in info.value.traceback and "worker.py" not in info.value.traceback
    finally:
        session.close()


def test_close_kills_the_process_group(tmp_path: Path) -> None:
    # A forked child (the worker's file system has no /usr/bin/sleep; inside a PID namespace
    # its own pid means nothing outside, so the host pid comes from the worker's tree).
    path = _notebook(tmp_path, "import os, time\nif os.fork() == 0:\n    time.sleep(60)\n    os._exit(0)\ndef ready():\n    return 1")
    session = _session(path)
    assert session.call("ready") == 1
    from grader.sandbox import forkserver, resources

    process = session.worker.process
    tree = resources.tree([process.pid]) if isinstance(process, forkserver.ForkedProcess) else [process.pid]
    pid = tree[-1]
    os.kill(pid, 0)  # alive while grading
    session.close()
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.05)


def test_object_from_before_a_restart_fails_cleanly_never_reaches_the_new_worker(tmp_path: Path) -> None:
    path = _notebook(tmp_path, "import os\nclass Box:\n    def value(self):\n        return 1\ndef die():\n    os._exit(1)")
    session = _session(path)
    try:
        box = session.new("Box")
        assert session.call(box, method="value") == 1
        with pytest.raises(StudentFailure) as died:
            session.call("die")
        assert died.value.code == "crash"
        with pytest.raises(StudentFailure) as stale:
            session.call(box, method="value")
        assert stale.value.code == "crash" and "unknown handle" not in stale.value.message
        assert session.call(session.new("Box"), method="value") == 1  # the replayed worker serves new objects
    finally:
        session.close()


class _BusyWorkers:
    """Other jobs of a full batch: one sandbox worker more than cores, each spinning (workers,
    not plain processes: each has its own cpu cgroup, as a batch's workers do, and the
    scheduler shares the cores between cgroups)."""

    def __init__(self, seconds: float) -> None:
        self.workers = [WorkerProcess(SandboxConfig(statement_timeout=seconds + 5.0)) for _ in range((os.cpu_count() or 1) + 1)]
        spin = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass"
        self.threads = [threading.Thread(target=self._spin, args=(w, spin, seconds), daemon=True) for w in self.workers]
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _spin(worker: WorkerProcess, source: str, seconds: float) -> None:
        try:
            worker.request({"op": "exec_cell", "label": "spin", "source": source, "timeout": seconds + 5.0}, timeout=seconds + 10.0)
        except Exception:  # noqa: BLE001 - closed under it at the end of the test
            pass

    def close(self) -> None:
        """Kill first and let each thread see its worker die, then close: closing a worker's
        pipes while its thread still reads them would hand the descriptors to whoever opens next."""
        for worker in self.workers:
            worker.kill()
        for thread in self.threads:
            thread.join(timeout=5.0)
        for worker in self.workers:
            worker.close()


def test_statement_limits_count_cpu_seconds_so_a_busy_machine_changes_no_verdict(tmp_path: Path) -> None:
    """An honest statement needing ~0.3 CPU-s under a 0.5 s limit runs while every core is busy
    with other workers (its wall time then exceeds the limit); a busy loop is still cut."""
    work = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.3:\n    pass\nDONE = 1"
    path = _notebook(tmp_path, work, "def spin():\n    return 1\nwhile True:\n    pass\nAFTER = 2\ndef both():\n    return DONE + AFTER")
    busy = _BusyWorkers(8.0)
    try:
        time.sleep(0.3)  # the busy workers are spinning
        session = _session(path)
        try:
            assert session.call("spin") == 1 and session.call("both") == 3
            statuses = {(i.cell, i.line): i.status for i in session.issues.values()}
            assert statuses == {("cell 2, code cell 2", 3): "timeout"}, statuses  # DONE's statement was not cut
        finally:
            session.close()
    finally:
        busy.close()


def test_a_statement_that_waits_is_stopped_by_the_wall_clock_backstop(tmp_path: Path) -> None:
    """A sleep uses no CPU, so the CPU limit never fires; the wall clock stops it at
    WALL_FACTOR times the limit, and the statements after it run."""
    from grader.sandbox.cpu_timer import wall_limit

    path = _notebook(tmp_path, "import time\ntime.sleep(30)\ndef after():\n    return 1")
    started = time.monotonic()
    session = _session(path, SandboxConfig(statement_timeout=0.3, request_timeout=3.0))
    try:
        loaded = time.monotonic() - started
        statuses = {(i.cell, i.line): i.status for i in session.issues.values()}
        assert statuses == {("cell 1, code cell 1", 2): "timeout"}, statuses
        assert session.call("after") == 1
        assert 0.9 * wall_limit(0.3) <= loaded < 10.0, loaded
    finally:
        session.close()
