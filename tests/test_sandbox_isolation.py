"""Issue 9's isolation layers, shown directly with real workers (no mocks).

A stopped reference twin is replaced and pipe writes to a stopped worker have deadlines
(class 3); live workers never share a uid and the twin's range is its own; every worker's
cgroup is fresh and removed with it (class 2); SysV IPC objects die with the worker (class 1);
the worker sees only its own processes and an allow-listed file system (class 7). As root,
and again as the unprivileged user `nobody` (user namespaces instead of root) where the
machine allows it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from _unprivileged import unprivileged_python
from grader.sandbox import forkserver, resources
from grader.sandbox.client import SandboxConfig, WorkerFailure, WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "tests" / "submissions" / "correct_python_file.py"
LINUX = sys.platform.startswith("linux")
IS_ROOT = LINUX and os.geteuid() == 0
pytestmark = pytest.mark.skipif(not forkserver.available(), reason="the fork server (and these layers) are Linux-only")

PROBE = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget(0x5EED, 4096, 0o1000 | 0o666)
seen = {
    "uid": os.getuid(), "pid": os.getpid(), "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "root": sorted(os.listdir("/")), "shm": shm,
    "visible": [p for p in (__PATHS__) if os.path.exists(p)],
    "writable": [p for p in ("/tmp", "/var/tmp", "/run/lock", "/var/lock", "/dev/shm") if os.access(p, os.W_OK)],
}
print("PROBE " + json.dumps(seen))
"""
SECRETS = [str(ROOT / "reference"), str(ROOT / "tests" / "submissions"), str(ROOT / "assignments"), "/var/local", "/autograder", "/home", "/etc/passwd"]


def _probe(worker: WorkerProcess) -> dict:
    source = PROBE.replace("__PATHS__", ", ".join(repr(p) for p in SECRETS))
    reply, _ = worker.request({"op": "exec_cell", "label": "probe", "source": source, "timeout": 5.0})
    assert all(r["status"] == "ok" for r in reply["statements"]), reply
    for _ in range(200):  # the output drain is a thread: give it the printed line
        line = [x for x in worker.student_output().splitlines() if x.startswith("PROBE ")]
        if line:
            return json.loads(line[-1][len("PROBE "):])
        time.sleep(0.01)
    raise AssertionError(f"the probe printed nothing: {worker.student_output()!r}")


def _host_sysv_keys() -> set[int]:
    rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    return {int(r.split()[0]) for r in rows if r.split()}


def test_worker_sees_only_itself_and_the_allow_list() -> None:
    with WorkerProcess(SandboxConfig()) as worker:
        seen = _probe(worker)
        layers = " | ".join(worker.layers)
        assert 0x5EED not in _host_sysv_keys() or "IPC namespace: unavailable" in layers
    if "PID namespace" in layers and "/proc: private" in layers:
        assert seen["pid"] == 1 and seen["procs"] == [1], seen  # no other grader's command line
    if "file system: allow-list" in layers:
        assert seen["visible"] == [], f"outside the allow-list: {seen['visible']}"
        assert set(seen["writable"]) == {"/tmp", "/var/tmp", "/run/lock", "/var/lock", "/dev/shm"}
    else:
        pytest.skip(f"no mount namespace here: {layers}")
    assert seen["shm"] >= 0
    assert 0x5EED not in _host_sysv_keys(), "a SysV segment of the worker outlived it"


def test_uids_are_unique_per_live_worker_and_the_twin_has_its_own() -> None:
    if not IS_ROOT:
        pytest.skip("workers get uids of their own only when the grader is root")
    workers = [WorkerProcess(SandboxConfig()) for _ in range(3)] + [WorkerProcess(dataclasses.replace(SandboxConfig(), role="reference"))]
    try:
        uids = [_probe(w)["uid"] for w in workers]
    finally:
        for w in workers:
            w.close()
    assert len(set(uids)) == 4, uids
    assert all(200_000 <= u < 300_000 for u in uids[:3]) and 300_000 <= uids[3] < 310_000, uids


def test_cgroup_is_fresh_and_removed_with_the_worker() -> None:
    if not IS_ROOT:
        pytest.skip("cgroups are made only when the grader is root")
    paths = []
    for _ in range(2):
        with WorkerProcess(SandboxConfig()) as worker:
            tree = resources.tree([worker.process.pid])
            memory = [line.split(":", 2)[2] for line in Path(f"/proc/{tree[-1]}/cgroup").read_text().splitlines() if ":memory:" in line]
            if not memory or "grader-" not in memory[0]:
                pytest.skip(f"no memory cgroup here: {memory}")
            path = Path("/sys/fs/cgroup/memory") / memory[0].lstrip("/")
            assert int((path / "memory.usage_in_bytes").read_text()) < 64 * 2**20, "a worker started in a used cgroup"
            paths.append(path)
        for _ in range(100):
            if not path.exists():
                break
            time.sleep(0.01)
        assert not path.exists(), f"{path} was kept after the worker"
    assert paths[0] != paths[1]


def _stop_tree(pid: int) -> None:
    for p in resources.tree([pid]):
        os.kill(p, signal.SIGSTOP)


def test_write_to_a_stopped_worker_has_a_deadline() -> None:
    import numpy as np

    with WorkerProcess(SandboxConfig()) as worker:
        _stop_tree(worker.process.pid)
        started = time.monotonic()
        with pytest.raises(WorkerFailure) as failed:
            worker.request({"op": "seed", "seed": 1}, [np.zeros(4 * 2**20 // 8)], timeout=1.0)
        assert failed.value.kind == "timeout"
        assert time.monotonic() - started < 5.0


def test_a_stopped_twin_is_replaced_and_the_next_student_keeps_its_score() -> None:
    """The harm of class 3: with the twin stopped, every later timing used to hang."""
    from grader.assignment import load_assignment
    from grader.checks import timing
    from grader.engine import grade_file

    assignment = load_assignment()
    sandbox = dataclasses.replace(assignment.sandbox, statement_timeout=1.0, request_timeout=2.0, startup_timeout=10.0)
    assignment = dataclasses.replace(assignment, sandbox=sandbox)
    first = grade_file(str(CORRECT), assignment=assignment)
    assert first.score == first.max_score
    twin = [session for session, *_ in timing._references.values() if session.worker is not None and session.worker.alive][-1]
    assert twin.config.role == "reference"
    twin_pid = twin.worker.process.pid
    _stop_tree(twin_pid)
    for _ in range(100):  # signal delivery is asynchronous
        if not twin.worker.healthy():
            break
        time.sleep(0.01)
    assert not twin.worker.healthy()
    started = time.monotonic()
    second = grade_file(str(CORRECT), assignment=assignment)
    assert time.monotonic() - started < 60
    assert second.score == first.score and [t.score for t in second.tests] == [t.score for t in first.tests]
    fresh = [session for session, *_ in timing._references.values() if session.worker is not None and session.worker.alive][-1]
    assert fresh.worker.process.pid != twin_pid and fresh.worker.healthy()


UNPRIVILEGED = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from grader.sandbox.client import SandboxConfig, WorkerProcess
with WorkerProcess(SandboxConfig()) as worker:
    reply, _ = worker.request({"op": "exec_cell", "label": "probe", "source": sys.argv[2], "timeout": 5.0})
    layers = list(worker.layers)
print("LAYERS " + json.dumps(layers))
print(worker.student_output())
"""


@pytest.fixture(scope="module")
def nobody_python(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """An interpreter `nobody` may run, with readable copies of this checkout's sources (and of
    numpy where nobody cannot read it): the checkout itself may live in a private folder."""
    if not IS_ROOT:
        pytest.skip("already unprivileged: the other tests are the unprivileged variant")
    made = unprivileged_python(tmp_path_factory.mktemp("nobody"))
    if isinstance(made, str):
        pytest.skip(made)
    return made


def test_unprivileged_worker_gets_the_same_isolation(nobody_python: tuple[str, Path]) -> None:
    source = PROBE.replace("__PATHS__", ", ".join(repr(p) for p in SECRETS))
    python, sources = nobody_python
    done = subprocess.run([python, "-I", "-c", UNPRIVILEGED, str(sources), source], capture_output=True, text=True, timeout=60,
                          user=65534, group=65534, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp"})
    assert done.returncode == 0, done.stderr[-2000:]
    layers = json.loads([x for x in done.stdout.splitlines() if x.startswith("LAYERS ")][0][len("LAYERS "):])
    seen = json.loads([x for x in done.stdout.splitlines() if x.startswith("PROBE ")][0][len("PROBE "):])
    joined = " | ".join(layers)
    if "namespaces: unavailable" in joined:
        pytest.skip(f"no user namespaces for unprivileged users here: {joined}")
    assert "uid drop: not root" in joined and seen["uid"] == 65534
    assert "IPC namespace (" in joined and "file system: allow-list" in joined, joined
    assert seen["visible"] == [] and seen["procs"] == [1], seen
    assert 0x5EED not in _host_sysv_keys()


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total


def test_a_tree_of_busy_processes_gets_one_core_at_most() -> None:
    """Class 1 (batch fairness): a submission that forks busy helpers slows itself, not the
    other jobs. Its whole tree, three spinning helpers on a machine with two or more cores,
    is held to about one core by its cpu cgroup's quota."""
    if not IS_ROOT or (os.cpu_count() or 1) < 2:
        pytest.skip("the cpu quota is set only when the grader is root, and shows only with 2+ cores")
    spin = "import os\nfor _ in range(3):\n    if os.fork() == 0:\n        while True:\n            pass\n"
    with WorkerProcess(SandboxConfig()) as worker:
        if not any("one core at most" in layer for layer in worker.layers):
            pytest.skip(f"no cpu cgroup here: {worker.layers}")
        worker.request({"op": "exec_cell", "label": "spin", "source": spin, "timeout": 5.0})
        pids = resources.tree([worker.process.pid])
        before, started = _cpu_ticks(pids), time.monotonic()
        time.sleep(1.0)
        cores = (_cpu_ticks(pids) - before) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - started)
        assert cores < 1.3, f"the tree used {cores:.2f} cores"


def test_freeze_stops_the_whole_tree_and_prune_keeps_only_the_worker() -> None:
    """Class 4a: what timing relies on. A forked helper spins; frozen it burns nothing; after
    prune only the worker is left, and it still serves."""
    spin = "import os\nif os.fork() == 0:\n    while True:\n        pass\n"
    with WorkerProcess(SandboxConfig()) as worker:
        reply, _ = worker.request({"op": "exec_cell", "label": "spin", "source": spin, "timeout": 5.0})
        pids = resources.tree([worker.process.pid])
        assert len(pids) >= 3, pids  # the namespace's parent, the worker, the helper
        how = worker.control("freeze")
        assert how in ("cgroup freezer", "SIGSTOP/SIGCONT of every process"), how
        before = _cpu_ticks(pids)
        time.sleep(0.5)
        frozen_ticks = _cpu_ticks(pids) - before
        worker.control("thaw")
        before = _cpu_ticks(pids)
        time.sleep(0.5)
        running_ticks = _cpu_ticks(pids) - before
        assert frozen_ticks <= 1 and running_ticks >= 5, (frozen_ticks, running_ticks)
        assert worker.control("prune") == "pruned"
        left = [p for p in resources.tree([worker.process.pid]) if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]
        assert len(left) == 2, left
        reply, _ = worker.request({"op": "seed", "seed": 3})
        assert reply.get("ok"), reply


def test_a_worker_closed_while_another_thread_polls_it_closes_cleanly() -> None:
    """A batch's watchdog or a helper thread may ask whether a worker is alive while the
    worker is being closed: the status pipe is read and closed by one thread only, so neither
    side selects on a closed (or reused) descriptor."""
    import threading

    for _ in range(10):
        worker = WorkerProcess(SandboxConfig())
        errors: list[BaseException] = []
        stop = threading.Event()

        def poll_until_stopped(worker: WorkerProcess = worker, errors: list[BaseException] = errors) -> None:
            try:
                while not stop.is_set():
                    worker.alive
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        pollers = [threading.Thread(target=poll_until_stopped) for _ in range(3)]
        for thread in pollers:
            thread.start()
        try:
            worker.close()
        finally:
            stop.set()
            for thread in pollers:
                thread.join(timeout=5.0)
        assert not errors, errors
        assert worker.process is not None and worker.process.poll() is not None  # reaped, status known


def test_a_worker_killed_from_two_threads_while_its_cpu_count_is_read_fails_nowhere() -> None:
    """A flooding worker is killed by the output drain's thread while the grading thread reads
    its CPU count or kills it too: the count's descriptor is closed once, by one of them."""
    import threading

    for _ in range(10):
        worker = WorkerProcess(SandboxConfig())
        if worker.cpu_seconds(settled=False) is None:
            worker.close()
            pytest.skip("no cpuacct cgroup for the worker here (not root)")
        errors: list[BaseException] = []
        go = threading.Barrier(4)

        def race(action: Any, worker: WorkerProcess = worker, errors: list[BaseException] = errors) -> None:
            try:
                go.wait()
                for _ in range(50):
                    action(worker)
            except BaseException as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        actions = [lambda w: w.kill(), lambda w: w.kill(), lambda w: w.cpu_seconds(settled=False), lambda w: w.cpu_seconds(settled=False)]
        threads = [threading.Thread(target=race, args=(action,)) for action in actions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30.0)
        worker.close()
        assert not errors, errors


def test_suite_runs_from_a_private_folder(tmp_path: Path) -> None:
    """A clone other users cannot read (under /root, in a mode-700 home): the unprivileged and
    the uid-dropping isolation tests pass from there, run with the clone's own code."""
    if not IS_ROOT:
        pytest.skip("other users (nobody, the workers' uids) exist for this test only when it runs as root")
    if not (ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git checkout: nothing to clone")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    clone = private / "dense-grader"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120, capture_output=True)
    os.chmod(private, 0o700)
    probe = "import grader, sys; print(grader.__file__)"
    env = dict(os.environ, PYTHONPATH=str(clone), PYTHONDONTWRITEBYTECODE="1")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=clone).stdout.startswith(str(clone))
    tests = ["test_unprivileged_worker_gets_the_same_isolation", "test_worker_sees_only_itself_and_the_allow_list"]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "inner"), "-rs",
                           "tests/test_sandbox_isolation.py", "-k", " or ".join(tests)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=clone)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    if "skipped" in done.stdout:  # e.g. no user namespaces for unprivileged users on this machine
        pytest.skip("the clone's run skipped: " + " | ".join(x for x in done.stdout.splitlines() if x.startswith("SKIPPED")))
    assert "2 passed" in done.stdout, done.stdout[-3000:]
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o700, "the test opened the private folder up"
