"""The report's profile says where a grading's CPU goes, the student's worker included."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.engine import grade_file
from grader.profiling import Profile
from grader.sandbox import forkserver

SUBMISSIONS = Path(__file__).parent / "submissions"


def test_worker_cpu_is_counted_per_phase_and_a_replaced_worker_from_its_start() -> None:
    clock = iter([(1, 2.0), (1, 2.5), (1, 3.0), (2, 0.25), None, None])
    profile = Profile()
    profile.worker_clock = lambda: next(clock)
    with profile.phase("same worker"):
        pass
    with profile.phase("replaced"):  # a crash replayed in a new worker: 0.25 s of its own
        pass
    with profile.phase("no count"):
        pass
    phases = profile.to_dict()["phases"]
    assert phases["same worker"]["worker"] == 0.5 and phases["replaced"]["worker"] == 0.25
    assert "worker" not in phases["no count"]


@pytest.mark.skipif(not forkserver.available(), reason="needs the fork server's cgroups (Linux)")
def test_a_grading_profile_splits_the_workers_cpu_between_the_checks() -> None:
    report = grade_file(SUBMISSIONS / "correct_np_dot.ipynb")
    phases = report.profile["phases"]
    if "worker" not in phases["check:dense-forward"]:
        pytest.skip("no cpuacct cgroup for the worker here (not root)")
    per_phase = sum(p.get("worker", 0.0) for p in phases.values())
    # The profile's phases cover the worker's life from its first request; training 90 steps costs
    # more than one forward call.
    assert 0.0 < per_phase <= report.profile["counts"]["worker-cpu"] + 0.05
    assert phases["check:network-learns"]["worker"] > phases["check:dense-forward"]["worker"] > 0.0
