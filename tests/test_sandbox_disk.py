"""A worker's writable space is bounded and goes with it (the disk-filling class of failure).

Every writable place of a worker (its working folder, HOME, /tmp, /var/tmp, /dev/shm) is a
folder of one private, size-capped tmpfs where the machine gives a mount namespace; without
one, each file is capped by RLIMIT_FSIZE and the working folder is measured and the worker
killed past the bound. Real workers, real writes, real `grade` and `grade batch` subprocesses.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, grade_command
from grader.sandbox import forkserver
from grader.sandbox.client import SandboxConfig, WorkerFailure, WorkerProcess
from grader.sandbox.disk import folder_bytes

LINUX = sys.platform.startswith("linux")
IS_ROOT = LINUX and os.geteuid() == 0
MB = 2**20
LIMIT = SandboxConfig().disk_limit_bytes

FILL = r'''
import os as _os

def _fill_the_disk(total=2 << 30, chunk=8 << 20):
    """About 2 GB in 8 MB chunks, round-robin over every writable place; the first refused write raises."""
    block = b"\xa5" * chunk
    places = [_os.getcwd(), "/tmp", "/dev/shm", _os.environ["HOME"], "/var/tmp"]
    handles = [open(_os.path.join(p, "fill-__TOKEN__-%d.bin" % i), "wb") for i, p in enumerate(places)]
    for n in range(total // chunk):
        handle = handles[n % len(handles)]
        handle.write(block)
        handle.flush()
'''


def _writes(worker: WorkerProcess, places: str) -> dict:
    """Fill `places` in the worker; what each write got: bytes written and the error that stopped it."""
    source = FILL.replace("__TOKEN__", "probe") + (
        "import json\nseen = {}\n"
        f"for _place in {places}:\n"
        "    _done = 0\n"
        "    try:\n"
        "        with open(_os.path.join(_place, 'probe.bin'), 'wb') as _f:\n"
        "            for _ in range(256):\n"
        "                _f.write(b'x' * (8 << 20)); _f.flush(); _done += 8 << 20\n"
        "        seen[_place] = [_done, 'none']\n"
        "    except OSError as _e:\n"
        "        seen[_place] = [_done, _e.errno]\n"
        "print('WROTE ' + json.dumps(seen))\n"
    )
    reply, _ = worker.request({"op": "exec_cell", "label": "fill", "source": source, "timeout": 10.0}, timeout=30.0)
    assert all(r.get("status") == "ok" for r in reply["statements"]), reply
    for _ in range(200):
        line = [x for x in worker.student_output().splitlines() if x.startswith("WROTE ")]
        if line:
            return json.loads(line[-1][len("WROTE "):])
        worker.request({"op": "stats"})
    raise AssertionError(worker.student_output())


@pytest.fixture()
def grader_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The grader's own temporary folder for this test (workers' folders are made in it)."""
    folder = tmp_path / "grader-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.skipif(not forkserver.available(), reason="the private tmpfs needs the fork server (Linux)")
def test_disk_filling_is_bounded_across_every_writable_place(grader_tmp: Path) -> None:
    """The working folder, HOME, /tmp, /dev/shm and /var/tmp share ONE bound: 2 GB asked, the
    bound given in all, ENOSPC/EFBIG past it; nothing lands in the grader's temp folder and
    nothing outlives the worker."""
    with WorkerProcess(SandboxConfig()) as worker:
        if not any(layer.startswith("disk: the working folder") for layer in worker.layers):
            pytest.skip(f"no mount namespace here (the fallback has its own test): {worker.layers}")
        seen = _writes(worker, '[_os.getcwd(), "/tmp", "/dev/shm", "/var/tmp"]')
        during = folder_bytes(str(grader_tmp))
        workdir = worker.workdir
    assert sum(done for done, _ in seen.values()) <= LIMIT, seen
    assert {error for _, error in seen.values()} <= {27, 28}, seen  # EFBIG (one file at the cap) or ENOSPC
    assert seen["/tmp"][1] == 28 and seen["/dev/shm"][1] == 28, "the bound is shared, not one per place"
    assert during < MB, f"the worker's writes reached the grader's disk: {during} bytes"
    assert not os.path.exists(workdir) and list(grader_tmp.iterdir()) == []


def test_disk_filling_is_bounded_without_a_mount_namespace(grader_tmp: Path) -> None:
    """The fallback (no private tmpfs): the working folder is measured and the worker killed
    past the bound; the failure names the bound; the folder is removed with the worker."""
    worker = WorkerProcess(SandboxConfig(), use_forkserver=False)
    assert any(layer.startswith("disk: no private tmpfs here") for layer in worker.layers), worker.layers
    spread = "import os\nfor i in range(256):\n    open(os.path.join(os.getcwd(), f'part-{i}.bin'), 'wb').write(b'x' * (4 << 20))\n"
    try:
        with pytest.raises(WorkerFailure) as failed:
            worker.request({"op": "exec_cell", "label": "fill", "source": spread, "timeout": 20.0}, timeout=30.0)
        assert failed.value.kind == "disk-limit" and str(failed.value) == f"{LIMIT // MB} MB"
        assert folder_bytes(worker.workdir) < 4 * LIMIT  # stopped within a poll of the bound, not at 1 GB
    finally:
        worker.close()
    assert list(grader_tmp.iterdir()) == []


def _fill_submission(folder: Path, token: str) -> Path:
    """A correct Dense layer whose ReLU.forward fills the disk: the ReLU checks are its own to lose."""
    source = (SUBMISSIONS / "correct_python_file.py").read_text()
    relu = "        return np.maximum(input, 0)\n"
    assert relu in source
    source = FILL.replace("__TOKEN__", token) + "\n" + source.replace(relu, "        _fill_the_disk()\n" + relu, 1)
    path = folder / "fills_the_disk.py"
    path.write_text(source)
    return path


def _left_behind(token: str) -> list[str]:
    places = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path.home()]
    return [str(p) for place in places if place.is_dir() for p in place.iterdir() if token in p.name]


def _run(args: list[str], tmpdir: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONUNBUFFERED="1", COLUMNS="120")
    return subprocess.run([*grade_command(), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.skipif(not forkserver.available(), reason="the private tmpfs needs the fork server (Linux)")
def test_disk_filling_submission_loses_only_its_own_checks(tmp_path: Path) -> None:
    token = uuid.uuid4().hex[:12]
    grader_tmp = tmp_path / "grader-tmp"
    grader_tmp.mkdir()
    done = _run([str(_fill_submission(tmp_path, token)), "--format", "json", "--verbose"], grader_tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    if not any("disk: the working folder" in note for note in report["notes"]):
        pytest.skip(f"no mount namespace here: {report['notes']}")
    tests = {t["name"]: t for t in report["tests"]}
    assert tests["relu-forward"]["score"] == 0
    assert f"wrote more than {LIMIT // MB} MB of files" in tests["relu-forward"]["output"]
    assert all(t["score"] == t["max_score"] for name, t in tests.items() if name.startswith("dense-")), {n: t["score"] for n, t in tests.items()}
    assert _left_behind(token) == []
    assert folder_bytes(str(grader_tmp)) == 0, list(grader_tmp.rglob("*"))


@pytest.fixture()
def small_tmpdir(tmp_path: Path) -> Path:
    """A 64 MB file system for the grader's TMPDIR (a tmpfs mounted here; root only)."""
    if not IS_ROOT or not shutil.which("mount"):
        pytest.skip("mounting a small file system needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=1777", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.skipif(not forkserver.available(), reason="the private tmpfs needs the fork server (Linux)")
def test_disk_filling_batch_on_a_small_tmpdir_writes_the_gradebook(tmp_path: Path, small_tmpdir: Path) -> None:
    token = uuid.uuid4().hex[:12]
    folder = tmp_path / "class"
    folder.mkdir()
    _fill_submission(folder, token).rename(folder / "mallory.py")
    shutil.copy(SUBMISSIONS / "correct_python_file.py", folder / "alice.py")
    shutil.copy(SUBMISSIONS / "forward_wrong.ipynb", folder / "bob.ipynb")
    alone = {name: json.loads(_run([str(folder / file), "--format", "json"], tmp_path).stdout) for name, file in (("alice", "alice.py"), ("bob", "bob.ipynb"))}
    results = tmp_path / "results"
    done = _run(["batch", str(folder), "--out", str(results), "--jobs", "2", "--no-html"], small_tmpdir)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "No space left" not in done.stdout + done.stderr and "Traceback" not in done.stderr
    with open(results / "gradebook.csv", newline="") as handle:
        book = {row["id"]: row for row in csv.DictReader(handle)}
    assert sorted(book) == ["alice", "bob", "mallory"]
    for name, report in alone.items():
        assert book[name]["status"] == "ok" and float(book[name]["total"]) == pytest.approx(report["score"]), (name, book[name])
    assert book["mallory"]["status"] == "ok" and float(book["mallory"]["relu-forward"]) == 0
    assert _left_behind(token) == []
    assert folder_bytes(str(small_tmpdir)) < MB, list(small_tmpdir.rglob("*"))
