"""Setting up the sandbox is the grader's job: a failure there is retried once, then reported in
one sentence with the worker's own reason (exit status 2 for `grade`), never a traceback and
never the student's fault; many graders of different users set up workers at once correctly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _unprivileged import readable_by_others, unprivileged_python
from conftest import ROOT, SUBMISSIONS, copy_assignment, grade_command
from grader.errors import GraderFailure
from grader.sandbox import forkserver
from grader.sandbox.client import SandboxConfig, WorkerProcess

LINUX = sys.platform.startswith("linux")
IS_ROOT = LINUX and os.geteuid() == 0
CORRECT = SUBMISSIONS / "correct_python_file.py"
WALL_CLOCK_CHECKS = {"dense-timing", "network-learns"}
"""Checks that measure time. An unprivileged grader has no cgroup CPU clock, so it times on the
wall clock (its timing lock is its own user's), which other users' load changes: for those
runs these checks must be graded, not equal (set-up is what this test is about)."""


@pytest.mark.skipif(not forkserver.available(), reason="the fork server (and its set-up in the child) is Linux-only")
def test_setup_failure_is_retried_then_reported_with_the_workers_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder allowed into every worker that the worker's own /proc hides
    (GRADER_SANDBOX_ALLOW=/proc/self: the server's /proc/PID, absent from the worker's PID
    namespace): the worker cannot bind it and exits (status 71) with its reason on stderr. The
    grader starts it a second time, then raises one sentence that carries that reason."""
    if not _has_mount_namespace():
        pytest.skip("no mount namespace here: no allow-list to build")
    monkeypatch.setenv("GRADER_SANDBOX_ALLOW", "/proc/self")
    server = forkserver.ForkServer()
    monkeypatch.setattr(forkserver, "_SHARED", server)
    try:
        with pytest.raises(GraderFailure) as failed:
            WorkerProcess(SandboxConfig())
        assert server.counter == 2, "the set-up was not retried exactly once"
    finally:
        server.close()
    message = str(failed.value)
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")
    assert message.startswith("the sandbox for the student's code could not be set up, also on a second try (sandbox: file system isolation failed:")
    assert "No such file or directory" in message and "not of the submission" in message


def _has_mount_namespace() -> bool:
    with WorkerProcess(SandboxConfig()) as worker:
        return any(layer.startswith("file system: allow-list") for layer in worker.layers)


@pytest.mark.skipif(not forkserver.available(), reason="the fork server (and its set-up in the child) is Linux-only")
def test_concurrent_setup_survives_an_allowed_folder_removed_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork server lists the allow-list once; a folder of it removed while it runs (another
    user uninstalling a package from a shared install during a batch) is skipped by the next
    workers instead of stopping every one of them."""
    allowed = tmp_path / "course-data"
    allowed.mkdir()
    monkeypatch.setenv("GRADER_SANDBOX_ALLOW", str(allowed))
    server = forkserver.ForkServer()
    monkeypatch.setattr(forkserver, "_SHARED", server)
    try:
        with WorkerProcess(SandboxConfig()) as worker:  # the allow-list is listed (and kept) here
            if not any(layer.startswith("file system: allow-list") for layer in worker.layers):
                pytest.skip(f"no mount namespace here: {worker.layers}")
            reply, _ = worker.request({"op": "exec_cell", "label": "see", "source": f"import os\nprint('SEES', os.path.isdir({str(allowed)!r}))\n", "timeout": 5.0})
        allowed.rmdir()
        with WorkerProcess(SandboxConfig()) as again:
            again.request({"op": "exec_cell", "label": "see", "source": f"import os\nprint('SEES', os.path.isdir({str(allowed)!r}))\n", "timeout": 5.0})
            assert again.alive
    finally:
        server.close()
    assert "SEES True" in worker.student_output() and "SEES False" in again.student_output()


@pytest.mark.parametrize("cause", [pytest.param("allow-list", id="worker-exits-71-with-its-reason"), pytest.param("start-up-limit", id="worker-never-ready")])
def test_setup_failure_exits_2_with_one_sentence(cause: str, tmp_path: Path) -> None:
    """`grade` whose workers cannot be set up: exit status 2, one sentence on stderr that carries
    the reason, no report, no traceback. Real conditions: a folder allowed into the worker that
    its own /proc hides (GRADER_SANDBOX_ALLOW=/proc/self: the worker exits 71 saying so), or a
    rubric's start-up limit no worker can meet (1 ms)."""
    env = dict(os.environ)
    args = [str(CORRECT)]
    if cause == "allow-list":
        if not forkserver.available():
            pytest.skip("the allow-list is built by fork-server workers (Linux)")
        env["GRADER_SANDBOX_ALLOW"] = "/proc/self"
    else:
        assignment = copy_assignment(tmp_path / "slow_start")
        toml = assignment / "assignment.toml"
        toml.write_text(toml.read_text().replace("[sandbox]\n", "[sandbox]\nstartup_timeout = 0.001\n", 1))
        args += ["--assignment", str(assignment)]
    done = subprocess.run([*grade_command(), *args], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    if cause == "allow-list" and done.returncode == 0 and "file system: not isolated" in subprocess.run(
            [*grade_command(), *args, "--verbose"], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env).stdout:
        pytest.skip("no mount namespace here: no allow-list to build")
    assert done.returncode == 2, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert re.fullmatch(r"grade: the sandbox for the student's code could not be set up, also on a second try \(.+\); .* not of the submission: grade it again once it is fixed\.", lines[0]), lines[0]
    reason = "sandbox: file system isolation failed: [Errno 2] No such file or directory" if cause == "allow-list" else "no answer within 0.001 s"
    assert reason in lines[0], lines[0]
    assert done.stdout == ""


def _shared_copy(folder: Path) -> tuple[Path, Path]:
    """The submission and its public-check bundle where every user can read them."""
    from grader.student.release import release

    folder.mkdir(mode=0o755)
    submission = folder / "alice.py"
    shutil.copy(CORRECT, submission)
    bundle = folder / "bundle"
    release("dense_layer", bundle)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    return submission, bundle


def test_concurrent_setup_of_many_graders_gives_the_same_results(tmp_path: Path) -> None:
    """12 `grade` and `grade check` processes at once (as root, some as other, unprivileged
    users, as on a shared course server): every one finishes with the same correct result and
    no traceback."""
    submission, bundle = _shared_copy(tmp_path / "shared")
    baseline = subprocess.run([*grade_command(), str(submission), "--format", "json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert baseline.returncode == 0, baseline.stderr[-2000:]
    expected = json.loads(baseline.stdout)
    others: tuple[str, Path] | None = None
    if IS_ROOT:
        made = unprivileged_python(tmp_path / "users")
        others = made if not isinstance(made, str) else None
    # The full grade reads the instructor extra (scikit-learn's digits); where this install is
    # private (a clone in a mode-700 folder), other users can run only the student's `grade check`.
    instructor_readable = all(readable_by_others(Path(importlib.util.find_spec(name).origin)) for name in ("sklearn", "matplotlib"))
    runs = []
    for index in range(12):
        user = None
        if others is not None and index % 4 >= 2:
            user = 65534 if index % 4 == 2 else 61000 + index  # nobody, and a uid with no account at all
        check = index % 2 == 1 or (user is not None and not instructor_readable)
        args = ["check", str(submission), "--bundle", str(bundle)] if check else [str(submission), "--format", "json"]
        command = [others[0], "-m", "grader.cli", *args] if user is not None and others is not None else [*grade_command(), *args]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8"} if user is not None else dict(os.environ)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/" if user is not None else ROOT, env=env,
                                   **({"user": user, "group": user, "extra_groups": []} if user is not None else {}))
        runs.append((check, user, process))
    for check, user, process in runs:
        out, err = process.communicate(timeout=600)
        who = f"{'grade check' if check else 'grade'} as {user if user is not None else os.geteuid()}"
        assert process.returncode == 0, f"{who}: exit {process.returncode}\n{err[-2000:]}"
        assert "Traceback" not in err and "status 71" not in out + err, f"{who}:\n{err[-2000:]}"
        if check:
            assert "Every public check passed." in out, f"{who}:\n{out[-2000:]}"
        else:
            got = {t["name"]: (t["score"], t["output"][:300]) for t in json.loads(out)["tests"]}
            unclocked = WALL_CLOCK_CHECKS if user is not None else set()
            assert {n: s for n, (s, _) in got.items() if n not in unclocked} == {t["name"]: t["score"] for t in expected["tests"] if t["name"] not in unclocked}, f"{who}: {got}"
            assert set(got) == {t["name"] for t in expected["tests"]}, who


def test_concurrent_setup_never_takes_or_removes_another_graders_cgroup() -> None:
    """Two fork servers whose pids coincide (one per PID namespace, on one cgroup tree) once
    made the same cgroup names, and the second removed the first's fresh, still empty cgroup.
    Names carry a per-server token; a name that is taken is left alone, never removed."""
    from grader.sandbox import resources

    if not IS_ROOT:
        pytest.skip("worker cgroups are made only when the grader is root")
    name = resources.cgroup_name(os.getpid(), 1, os.urandom(4).hex())
    first = resources.Cgroups(name, 256 * 2**20, 8)
    if not first.paths:
        pytest.skip("no writable cgroup v1 tree here")
    try:
        second = resources.Cgroups(name, 256 * 2**20, 8)
        assert second.paths == [] and all(os.path.isdir(p) for p in first.paths)
        assert resources.cgroup_name(7, 1, "a") != resources.cgroup_name(7, 1, "b")
        assert resources.sweep_stale() >= 0 and all(os.path.isdir(p) for p in first.paths)  # ours, and young: kept
    finally:
        assert first.remove() == []


def test_setup_failure_in_a_batch_is_a_grader_error_with_one_sentence(tmp_path: Path) -> None:
    """In `grade batch` the same failure is recorded as the grader's error (one sentence, no
    traceback) for the submission, and the gradebook is written."""
    assignment = copy_assignment(tmp_path / "slow_start")
    toml = assignment / "assignment.toml"
    toml.write_text(toml.read_text().replace("[sandbox]\n", "[sandbox]\nstartup_timeout = 0.001\n", 1))
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(CORRECT, folder / "alice.py")
    results = tmp_path / "results"
    done = subprocess.run([*grade_command(), "batch", str(folder), "--out", str(results), "--assignment", str(assignment), "--jobs", "1", "--no-html"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 1 and "failed to grade" in done.stderr, done.stderr[-2000:]  # batch: every submission failed
    assert "Traceback" not in done.stdout + done.stderr
    record = json.loads((results / "alice.json").read_text())
    assert record["error_kind"] == "grader" and "Traceback" not in record["error"] and "\n" not in record["error"], record
    assert "could not be set up, also on a second try" in record["error"]
    assert (results / "gradebook.csv").read_text().count("\n") == 2
