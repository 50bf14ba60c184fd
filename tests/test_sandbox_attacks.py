"""Real hostile submissions (tests/attacks/) against the real sandbox: no mocks.

Each attack is the same honest-but-wrong layer (`tests/attacks/_honest.py`) plus one
attack. It is graded in a subprocess (outer timeout: a broken sandbox fails the test, not
the machine), followed in the same grader process by an honest correct submission. For each
we assert: grading finished; the attack scored no more than its honest code alone; the next
submission still got full marks; no process is left (this pytest process is a child
subreaper, so anything that escaped the grader's tree is reparented to us and shows up as
our child); no marker file appeared outside the worker; nothing reached a listener on
127.0.0.1. Runs as root (uid drop asserted) and as a normal user (root-only checks skip).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ROOT / "tests" / "attacks"
CORRECT = ROOT / "tests" / "submissions" / "correct_python_file.py"
LINUX = sys.platform.startswith("linux")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OUTER_TIMEOUT = 90

ATTACK_NAMES = sorted(p.stem for p in ATTACKS.glob("*.py") if not p.name.startswith("_"))


def _children() -> list[int]:
    """Our own direct children, from /proc (no psutil)."""
    found: list[int] = []
    for tid in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            found += [int(c) for c in Path(f"/proc/{os.getpid()}/task/{tid}/children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def _describe(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


@pytest.fixture(scope="module", autouse=True)
def subreaper() -> None:
    """Become a child subreaper: escaped grandchildren are reparented to us, so we can see them."""
    if not LINUX:
        pytest.skip("the process accounting of these tests reads Linux /proc")
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _reap_strays() -> list[str]:
    """Kill and reap whatever is left among our children (but this process's own fork server)."""
    from grader.sandbox import forkserver

    own = {forkserver._SHARED.process.pid} if forkserver._SHARED is not None else set()
    strays = []
    for _ in range(50):
        pids = [pid for pid in _children() if pid not in own]
        if not pids:
            break
        for pid in pids:
            strays.append(_describe(pid))
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
    return [s for s in strays if s != "?"]


def _grade(*paths: Path) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, str(ATTACKS / "_drive.py"), *map(str, paths)],
        capture_output=True, text=True, timeout=OUTER_TIMEOUT, env=env, cwd=ROOT,
    )
    assert done.returncode == 0, f"grading crashed:\n{done.stderr[-3000:]}"
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULTS ")]
    assert line, f"no results:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return json.loads(line[-1][len("RESULTS "):])


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> float:
    """What the honest code underneath every attack earns on its own."""
    path = tmp_path_factory.mktemp("honest") / "honest.py"
    path.write_text((ATTACKS / "_honest.py").read_text())
    result = _grade(path)[0]
    assert 0 < result["score"] < result["max_score"]
    _reap_strays()
    return float(result["score"])


def _marker_files(token: str) -> list[str]:
    """Files an attack left outside its (removed) working directory."""
    hits = []
    places = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run/lock"), Path("/var/lock"), Path.home(), ROOT, ROOT / "results", ROOT / "tests", ROOT / "grader", ROOT / "grader" / "sandbox", Path("/autograder/results")]
    for place in places:
        try:
            entries = list(place.iterdir())
        except OSError:
            continue
        for entry in entries:
            if token in entry.name:
                hits.append(str(entry))
            elif entry.name == "results.json" and entry.is_file():
                try:
                    if token in entry.read_text(errors="replace"):
                        hits.append(str(entry))
                except OSError:
                    pass
    for source in list((ROOT / "grader").rglob("*.py")) + [Path.home() / ".bashrc"]:
        try:
            if token in source.read_text(errors="replace"):
                hits.append(str(source))
        except OSError:
            pass
    return hits


TIMING_GAMES = {"burn_cpu_while_reference_runs", "zeros_for_big_batches", "fake_array_for_big_batches"}
"""Attacks on the benchmark: their timing check must score 0, as their honest code would."""


def _sysv_objects(token: str) -> list[str]:
    """SysV IPC objects on the host whose key comes from the attack's token (see sysv_ipc_and_lock_folders.py)."""
    first = int(token[:7], 16)
    found = []
    for kind in ("shm", "msg", "sem"):
        try:
            rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        found += [f"{kind} {row.split()[0]}" for row in rows if row.split() and first <= int(row.split()[0]) < first + 64]
    return found


@pytest.mark.parametrize("attack", [pytest.param(name, id=name) for name in ATTACK_NAMES])
def test_attack_is_contained(attack: str, baseline: float, tmp_path: Path) -> None:
    token = uuid.uuid4().hex[:12]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    source = (ATTACKS / "_honest.py").read_text() + "\n\n" + (ATTACKS / f"{attack}.py").read_text()
    source = source.replace("__TOKEN__", token).replace("__PORT__", str(listener.getsockname()[1])).replace("__ROOT__", str(ROOT))
    submission = tmp_path / f"{attack}.py"
    submission.write_text(source)
    # The next student's file sits in a class folder outside the old deny-list (issue 9's
    # /var/local case, as root), named on the grader's command line: read_other_students hunts it.
    class_folder = Path(f"/var/local/grader-class-{token}") if IS_ROOT and Path("/var/local").is_dir() else tmp_path / "class"
    class_folder.mkdir(mode=0o755)
    next_student = class_folder / "alice.py"
    next_student.write_text(CORRECT.read_text())
    next_student.chmod(0o644)
    try:
        results = _grade(submission, next_student)
        if attack == "detached_writer":
            time.sleep(2.0)  # the daemon would have written its file by now
        strays = _reap_strays()
        try:
            connection, _ = listener.accept()
            connection.close()
            reached = True
        except (socket.timeout, BlockingIOError):
            reached = False
    finally:
        listener.close()
        next_student.unlink()
        class_folder.rmdir()
    attacked, honest = results
    assert attacked["score"] <= baseline + 1e-9, f"{attack} scored {attacked['score']} > honest {baseline}"
    assert honest["score"] == honest["max_score"], f"the next submission was harmed: {honest}"
    assert strays == [], f"processes left behind: {strays}"
    assert not reached, "the submission reached a server on 127.0.0.1"
    assert _marker_files(token) == []
    assert _sysv_objects(token) == [], "SysV IPC objects outlived grading"
    assert honest["checks"]["dense-timing"][0] == honest["checks"]["dense-timing"][1], f"the next student's timing was harmed: {honest['checks']}"
    if attack in TIMING_GAMES:
        assert attacked["checks"]["dense-timing"][0] == 0, f"{attack} earned timing points: {attacked['checks']['dense-timing']}"
    notes = "\n".join(attacked["notes"])
    assert "safe protocol" in notes
    if IS_ROOT:
        assert "uid drop: uid/gid" in notes
    if "network namespace (no network)" not in notes and attack == "connect_localhost":
        pytest.skip("no network namespace on this machine: nothing else stops the connection")


def test_reference_is_not_reachable_from_the_worker() -> None:
    """Directly: the reference and the hidden data are neither visible nor importable."""
    from grader.sandbox.client import SandboxConfig, WorkerProcess

    probe = (
        "import os, sys\n"
        f"seen = [p for p in ({str(ROOT / 'reference' / 'dense_layer.py')!r}, {str(ROOT / 'assignments')!r}) if os.path.exists(p)]\n"
        # An editable install leaves an empty namespace package named `reference` behind
        # (its finder maps the name to the hidden folder): what must fail is loading the code.
        "try:\n    import reference.dense_layer\n    seen.append('import')\nexcept ImportError:\n    pass\n"
        "print('SEEN', seen, [p for p in sys.path if 'reference' in p])\n"
    )
    with WorkerProcess(SandboxConfig()) as worker:
        reply, _ = worker.request({"op": "exec_cell", "label": "probe", "source": probe, "timeout": 5.0})
        assert all(r["status"] == "ok" for r in reply["statements"])
        layers = worker.layers
    output = worker.student_output()
    if not any("file system: allow-list" in layer for layer in layers):
        pytest.skip(f"no mount namespace here: {layers}")
    assert "SEEN [] []" in output, output
    assert _reap_strays() == []


def test_worker_runs_unprivileged_when_root() -> None:
    if not IS_ROOT:
        pytest.skip("the uid drop only happens when the grader runs as root")
    from grader.sandbox.client import SandboxConfig, WorkerProcess

    with WorkerProcess(SandboxConfig()) as worker:
        reply, _ = worker.request({"op": "exec_cell", "label": "uid", "source": "import os\nprint('UID', os.getuid(), os.getgid())\n", "timeout": 5.0})
    assert "UID 0" not in worker.student_output()
    assert "UID " in worker.student_output()
