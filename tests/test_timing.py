"""The timing benchmark on real submissions: ratios and behaviour, never absolute times.

Each test grades with a rubric holding only `dense-timing`, so the module stays fast.
GPU tests skip unless CuPy and a CUDA device are present.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import multiprocessing
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from grader.timing import exclusive
from grader.assignment import Assignment, load_assignment
from grader.engine import grade_file
from grader.results import CheckResult
from grader.timing.race import expected_outputs, timing_fraction

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "submissions"
ATTACKS = ROOT / "tests" / "timing_submissions"
VECTORISED = ["correct_matmul_operator", "correct_np_dot", "correct_einsum", "correct_tensordot", "correct_ones_column_bias", "correct_float32"]


@pytest.fixture(scope="module")
def timing_only() -> Assignment:
    assignment = load_assignment()
    return dataclasses.replace(assignment, checks=(assignment.check("dense-timing"),))


def timing_result(path: Path, assignment: Assignment, device: str = "cpu") -> CheckResult:
    report = grade_file(path, assignment=assignment, device=device)
    (result,) = report.tests
    return result


def test_curve_is_full_then_smooth_then_zero() -> None:
    values = [timing_fraction(x, 8.0, 15.0) for x in (0.1, 1.0, 8.0, 9.0, 11.0, 13.0, 15.0, 40.0, float("inf"))]
    assert values[:3] == [1.0, 1.0, 1.0] and values[-3:] == [0.0, 0.0, 0.0]
    assert 1.0 > values[3] > values[4] > values[5] > 0.0


def test_closed_form_matches_stepping_the_reference() -> None:
    from reference.dense_layer import dense_sgd_step, dense_forward

    rng = np.random.default_rng(3)
    X, W, b, G = rng.standard_normal((7, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal((7, 3))
    w, c = W, b
    for _ in range(4):
        Z = dense_forward(X, w, c)
        grad_input, w, c = dense_sgd_step(X, w, c, G, 0.01)
    want_Z, want_gi = expected_outputs(X, W, b, G, 0.01, 4)
    np.testing.assert_allclose(Z, want_Z, rtol=1e-12)
    np.testing.assert_allclose(grad_input, want_gi, rtol=1e-12)


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in VECTORISED])
def test_vectorised_styles_get_full_points_every_time(name: str, timing_only: Assignment) -> None:
    runs = 3 if name in ("correct_matmul_operator", "correct_einsum") else 2
    for _ in range(runs):
        result = timing_result(CORPUS / f"{name}.ipynb", timing_only)
        assert result.score == result.max_score, result.output
        assert result.details["outputs_verified"] == "reference"
        assert "python-loop" not in result.diagnoses


def with_budgets(assignment: Assignment, **budgets: float) -> Assignment:
    spec = assignment.check("dense-timing")
    params = dict(spec.params, budgets=dict(spec.params.get("budgets", {}), **budgets))
    return dataclasses.replace(assignment, checks=(dataclasses.replace(spec, params=params),))


def test_a_race_stops_once_its_score_is_certain(timing_only: Assignment) -> None:
    """A layer as fast as the reference is decided after its first pair of rounds when that pair
    is 4× inside the full-points factor, else after two; a race that can never be certain (an
    impossible margin) runs every round, to the same score."""
    decided = timing_result(CORPUS / "correct_matmul_operator.ipynb", timing_only)
    assert decided.score == decided.max_score, decided.output
    student, reference = decided.details["student_rounds_ms"], decided.details["reference_rounds_ms"]
    assert len(student) == len(reference) == (1 if student[0] / reference[0] * 4.0 <= 8.0 else 2), decided.details
    two_pairs = timing_result(CORPUS / "correct_matmul_operator.ipynb", with_budgets(timing_only, first_margin=0.0))
    assert len(two_pairs.details["student_rounds_ms"]) == len(two_pairs.details["reference_rounds_ms"]) == 2, two_pairs.details
    undecided = timing_result(CORPUS / "correct_matmul_operator.ipynb", with_budgets(timing_only, margin=1e6, first_margin=1e6))
    assert undecided.score == undecided.max_score, undecided.output
    assert len(undecided.details["student_rounds_ms"]) == len(undecided.details["reference_rounds_ms"]) == 5, undecided.details


def test_a_kept_twin_skips_its_cold_round_on_data_it_raced_on(timing_only: Assignment) -> None:
    """The twin serves many gradings on the same data; only its first race needs a cold warm-up round."""
    from grader.checks import timing

    timing._close_references()
    first = timing_result(CORPUS / "correct_np_dot.ipynb", timing_only)
    second = timing_result(CORPUS / "correct_np_dot.ipynb", timing_only)
    assert (first.details["reference_warm"], second.details["reference_warm"]) == (False, True)
    assert first.score == second.score == first.max_score, (first.details, second.details)


def test_a_kept_twin_holds_a_bounded_number_of_pools(timing_only: Assignment) -> None:
    """Each race's pool (~25 MB at the CPU size) stays in the twin for the next grading on the
    same data; gradings with other seeds must not pile them up past the kept few."""
    from grader.checks import timing
    from grader.timing.side import KEPT_STASHES

    timing._close_references()
    for seed in range(KEPT_STASHES + 2):
        result = grade_file(CORPUS / "correct_np_dot.ipynb", assignment=timing_only, seed=seed).tests[0]
        assert result.score == result.max_score, result.details
    ((twin, _, memo),) = timing._references.values()
    assert len(memo) == KEPT_STASHES
    assert twin.worker.healthy()


@pytest.mark.parametrize("budgets, rounds", [({"margin": 1.0, "first_margin": 0.0}, 2), ({"margin": 1e6, "first_margin": 1.0}, 1)], ids=["two pairs", "first pair"])
def test_a_loop_far_beyond_the_no_points_factor_is_cut_once_certain(timing_only: Assignment, budgets: dict[str, float], rounds: int) -> None:
    result = timing_result(CORPUS / "python_loop.ipynb", with_budgets(timing_only, **budgets))  # cut once the fastest pair is past 15x
    assert result.score == 0 and "python-loop" in result.diagnoses
    if result.details["student_rounds_ms"]:  # not already cut at its warm-up step
        assert len(result.details["student_rounds_ms"]) == rounds, result.details
        assert result.details["cut_off"].startswith(f"after {rounds} round{'s' if rounds > 1 else ''} "), result.details


def test_per_sample_loop_gets_zero_and_is_named(timing_only: Assignment) -> None:
    result = timing_result(CORPUS / "python_loop.ipynb", timing_only)
    assert result.score == 0, result.details
    assert "python-loop" in result.diagnoses
    # Its ratio is reported however far the race went (all rounds, some, or the warm-up step).
    assert (result.details["slowdown"] or result.details["partial_slowdown"]) > 15, result.details


def test_triple_loop_is_cut_off_quickly(timing_only: Assignment) -> None:
    started = time.perf_counter()
    result = timing_result(CORPUS / "python_triple_loop.ipynb", timing_only)
    assert time.perf_counter() - started < 20  # a behaviour bound: one step alone takes seconds
    assert result.score == 0 and result.details["cut_off"]
    assert "python-loop" in result.diagnoses


def test_patching_every_clock_gains_nothing(timing_only: Assignment) -> None:
    result = timing_result(ATTACKS / "clock_patch_loop.py", timing_only)
    assert result.score == 0, result.details
    assert result.details["slowdown"] is None or result.details["slowdown"] > 8


def test_skipping_work_is_caught_by_the_output_check(timing_only: Assignment) -> None:
    """A layer that returns what it computed for an array it was handed before. Each step takes
    another pair of the pool, so a short race never hands one twice (nothing is skipped, and a
    vectorised layer earns its points); every round run, the pairs come back, and the rounds
    that skip the work are caught."""
    result = timing_result(ATTACKS / "cached_vectorised.py", with_budgets(timing_only, margin=1e6, first_margin=1e6))
    assert result.score == 0, result.details
    assert result.details["outputs_verified"] == "failed", result.details


def test_a_loop_that_skips_work_gets_nothing(timing_only: Assignment) -> None:
    """A per-sample loop that caches: its warm-up step is an honest loop (near the cut-off
    factor, so it may be cut there), its timed steps skip the work (the output check)."""
    result = timing_result(ATTACKS / "cached_loop.py", timing_only)
    assert result.score == 0, result.details
    assert result.details["outputs_verified"] == "failed" or result.details["cut_off"], result.details


STAND_INS = ["stand_in_subclass", "stand_in_imitation", "stand_in_lazy", "float32_when_timed", "wrong_shape_when_timed"]
"""Per-sample loops that, when they believe they are timed, return something else than the plain
float64 array of the expected shape (tests/timing_submissions/, each on top of _loop.py)."""
WRONG_VALUES = ["seen_before", "timing_batch_size", "caller_frame", "filled_later"]
"""Per-sample loops that, when they believe they are timed, return plain arrays of the right
dtype and shape without computing them (cached, uninitialised, right only where sampled, filled later)."""


def on_the_loop(name: str, folder: Path) -> Path:
    """The honest per-sample loop with one attack's `class Dense(Dense)` on top, as one file."""
    path = folder / f"{name}.py"
    path.write_text((ATTACKS / "_loop.py").read_text() + "\n\n" + (ATTACKS / f"{name}.py").read_text())
    return path


def with_curve(assignment: Assignment, **curve: float) -> Assignment:
    spec = assignment.check("dense-timing")
    params = dict(spec.params, curve=dict(spec.params.get("curve", {}), **curve))
    return dataclasses.replace(assignment, checks=(dataclasses.replace(spec, params=params),))


def ignoring_speed(assignment: Assignment) -> Assignment:
    """Full points at any speed, every round run: a zero there is the output check's."""
    return with_curve(with_budgets(assignment, margin=1e12, first_margin=1e12), full_within=1e9, zero_beyond=2e9)


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in STAND_INS + WRONG_VALUES])
def test_timing_cannot_be_won_without_the_work(name: str, timing_only: Assignment, tmp_path: Path) -> None:
    """Spotting the timed calls (batch size, an array seen before, the caller's frame) pays
    nothing: a stand-in stops the race, plain arrays that were not computed fail the full-value
    check of steps picked afterwards. Under a curve that gives full points at any speed the
    score is still 0, so the zero is the verification's, not the loop's slowness; the honest
    loop under that curve keeps its points (its outputs verify against the reference). That
    race runs every round, so the pool's pairs come back (seen_before's cue)."""
    path = on_the_loop(name, tmp_path)
    result = timing_result(path, timing_only)
    assert result.score == 0, result.details
    assert bool(result.details.get("stand_in")) == (name in STAND_INS), result.details
    any_speed = timing_result(path, ignoring_speed(timing_only))
    assert any_speed.score == 0 and any_speed.details["outputs_verified"] == "failed", any_speed.details
    if name in STAND_INS:
        assert any_speed.details["stand_in"] and "plain numpy.ndarray of float64" in any_speed.details["stand_in"], any_speed.details
        assert re.search(r"In the timed run your (forward|backward) returned .+ instead of a plain numpy\.ndarray of float64 with shape \(8192, (8|16)\), "
                         r"so no timing points: return the plain array your layer computes", any_speed.output), any_speed.output
    else:
        assert not any_speed.details["stand_in"], any_speed.details


def test_the_honest_loop_verifies_and_keeps_zero(timing_only: Assignment, tmp_path: Path) -> None:
    """The loop under every attack: 0 of 2 with `python-loop` on the real curve; full points,
    verified against the reference, under a curve that ignores speed."""
    path = tmp_path / "loop.py"
    path.write_text((ATTACKS / "_loop.py").read_text())
    result = timing_result(path, timing_only)
    assert result.score == 0 and "python-loop" in result.diagnoses, result.details
    any_speed = timing_result(path, ignoring_speed(timing_only))
    assert any_speed.score == any_speed.max_score and any_speed.details["outputs_verified"] == "reference", any_speed.details
    assert len(any_speed.details["student_rounds_ms"]) == 5, any_speed.details  # every round ran: pool pairs came back


def test_timing_attacks_keep_their_correctness_grades(tmp_path: Path) -> None:
    """Every attack behaves honestly outside the benchmark: every other check grades it exactly
    as it grades the loop underneath."""
    assignment = load_assignment()
    untimed = dataclasses.replace(assignment, checks=tuple(c for c in assignment.checks if c.name != "dense-timing"))
    loop = tmp_path / "loop.py"
    loop.write_text((ATTACKS / "_loop.py").read_text())
    honest = {t.name: t.score for t in grade_file(loop, assignment=untimed).tests}
    assert honest["dense-forward"] > 0, honest
    for name in STAND_INS + WRONG_VALUES:
        graded = {t.name: t.score for t in grade_file(on_the_loop(name, tmp_path), assignment=untimed).tests}
        assert graded == honest, (name, graded, honest)


def test_wrong_but_vectorised_code_is_timed_on_its_own_outputs(timing_only: Assignment) -> None:
    """Values are other checks' business: a fast layer that is wrong keeps its timing points."""
    result = timing_result(CORPUS / "forward_missing_bias.ipynb", timing_only)
    assert result.score == result.max_score, result.output
    assert result.details["outputs_verified"] == "own-code"


def _cuda_available() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


needs_gpu = pytest.mark.skipif(not _cuda_available(), reason="needs CuPy and a CUDA device")


@needs_gpu
@pytest.mark.parametrize("name", ["correct_matmul_operator", "correct_einsum", "correct_ones_column_bias"])
def test_gpu_vectorised_full_points_and_flops(name: str, timing_only: Assignment) -> None:
    result = timing_result(CORPUS / f"{name}.ipynb", timing_only, device="gpu")
    assert result.details["device"] == "gpu", result.output
    assert result.score == result.max_score, result.output
    assert result.details["student_flops"] > 0 and 0 < result.details["fraction_of_peak"]


@needs_gpu
def test_gpu_per_sample_loop_gets_zero(timing_only: Assignment) -> None:
    result = timing_result(CORPUS / "python_loop.ipynb", timing_only, device="gpu")
    assert result.score == 0


def test_auto_without_a_gpu_times_on_the_cpu(timing_only: Assignment) -> None:
    if _cuda_available():
        pytest.skip("a GPU is present")
    result = timing_result(CORPUS / "correct_matmul_operator.ipynb", timing_only, device="auto")
    assert result.details["device"] == "cpu" and result.score == result.max_score


def _kernel_counts_worker_cpu() -> bool:
    """Root with cgroup v1 cpuacct: the fork server gives every worker a CPU counter."""
    return os.geteuid() == 0 and os.path.isdir("/sys/fs/cgroup/cpuacct")


def _hold_shared_and_burn(lock: str, stop: float) -> None:
    """Another job of a batch: grading (the shared lock) and keeping a core busy."""
    os.environ[exclusive.LOCK_ENV] = lock
    with exclusive.grading_phase():
        while time.time() < stop:
            pass


def _burn(stop: float) -> None:
    while time.time() < stop:
        pass


@pytest.mark.skipif(not _kernel_counts_worker_cpu(), reason="needs root and a cgroup v1 cpuacct hierarchy")
def test_cpu_clock_needs_no_quiet_machine(timing_only: Assignment, tmp_path: Path, monkeypatch) -> None:
    """On the CPU clock the race takes no exclusive lock: another job that is grading (holding
    the shared lock) and both cores kept busy neither stall it nor move the score."""
    lock = str(tmp_path / "timing.lock")
    monkeypatch.setenv(exclusive.LOCK_ENV, lock)
    context = multiprocessing.get_context("fork")
    stop = time.time() + 120
    others = [context.Process(target=_hold_shared_and_burn, args=(lock, stop)), context.Process(target=_burn, args=(stop,))]
    for process in others:
        process.start()
    try:
        time.sleep(0.2)
        for name in ("correct_np_dot", "correct_einsum"):
            result = timing_result(CORPUS / f"{name}.ipynb", timing_only)
            assert result.details["clock"] == "cpu", result.details
            assert result.score == result.max_score, result.details
        assert all(p.is_alive() for p in others)  # still grading: the race never waited for them
        loop = timing_result(CORPUS / "python_loop.ipynb", timing_only)
        assert loop.score == 0 and "python-loop" in loop.diagnoses
    finally:
        for process in others:
            process.kill()
            process.join()


def test_wall_clock_where_the_kernel_counts_nothing(timing_only: Assignment, monkeypatch) -> None:
    """Without the fork server there are no per-worker cgroups: the race falls back to the
    wall clock (and holds the machine exclusively), with the same verdicts."""
    monkeypatch.setenv("GRADER_FORKSERVER", "0")
    result = timing_result(CORPUS / "correct_np_dot.ipynb", timing_only)
    assert result.details["clock"] == "wall", result.details
    assert result.score == result.max_score, result.details


def test_race_inputs_are_drawn_once_and_the_generator_moves_on_the_same() -> None:
    """Kept race data must be exactly what drawing gives, leave the generator exactly where
    drawing leaves it, and be read-only (it is shared by every grading in the process)."""
    from grader.checks.timing import race_inputs
    from grader.timing.race import race_orders

    first_rng, second_rng, plain = (np.random.default_rng([7, 11]) for _ in range(3))
    first = race_inputs(first_rng, (64, 5, 3), 4, 1e-4, pool=3)
    second = race_inputs(second_rng, (64, 5, 3), 4, 1e-4, pool=3)
    assert second is first
    X, G = plain.standard_normal((64, 5)), plain.standard_normal((64, 3))
    params = [(plain.standard_normal((5, 3)), plain.standard_normal(3)) for _ in range(6)]
    orders = race_orders(plain, 64, 3)
    np.testing.assert_array_equal(first.closed_form.X, X)
    np.testing.assert_array_equal(first.closed_form.G, G)
    np.testing.assert_array_equal(first.closed_form.orders, orders)
    for (W, b), (W0, b0) in zip(first.params, params):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
    assert second_rng.random() == plain.random()
    assert not first.closed_form.X.flags.writeable and not first.params[0][0].flags.writeable and not first.closed_form.orders.flags.writeable


@pytest.mark.parametrize("convention", ["sum", "mean"])
def test_closed_form_matches_stepping_through_the_pool(convention: str) -> None:
    """Each step of a timed run takes another pool pair; the closed form of any step's outputs
    must be what stepping the layer through those pairs gives, whole."""
    from grader.timing.race import ClosedForm, race_orders

    rng = np.random.default_rng(5)
    X, G, W, b = rng.standard_normal((50, 4)), rng.standard_normal((50, 3)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    orders = race_orders(rng, 50, 4)
    assert len({tuple(o[0]) for o in orders}) == 4 and all(sorted(o[0]) == list(range(50)) for o in orders)
    closed_form, order, lr = ClosedForm(X, G, orders, 1e-2), [2, 0, 3, 1, 2], 1e-2
    n = 50 if convention == "mean" else 1
    w, c = W, b
    for step, p in enumerate(order):
        X_p, G_p = X[orders[p, 0]], G[orders[p, 1]]
        Z, grad_input = X_p @ w + c, G_p @ w.T
        want_Z, want_gi = closed_form.outputs(W, b, order[: step + 1], convention)
        np.testing.assert_allclose(want_Z, Z, rtol=1e-12)
        np.testing.assert_allclose(want_gi, grad_input, rtol=1e-12)
        w, c = w - lr * X_p.T @ G_p / n, c - lr * G_p.sum(axis=0) / n


@pytest.mark.skipif(not _kernel_counts_worker_cpu(), reason="needs root and a cgroup v1 cpuacct hierarchy")
def test_a_cpu_count_that_does_not_move_falls_back_to_the_wall_clock(timing_only: Assignment) -> None:
    """The count is the kernel's, read from the worker's cgroup; if the process doing the
    work is not counted there (it could not join), its rounds would read as 0 s. The race
    then measures by the wall clock instead of dividing by zero or scoring nonsense."""
    from grader.checks import timing

    timing._close_references()  # other tests' twins: the grading below makes the only one
    timing_result(CORPUS / "correct_np_dot.ipynb", timing_only)
    (twin,) = [session for session, *_ in timing._references.values()]
    tasks = Path(twin.worker.process.cpu_usage_file).parent
    members = [int(p) for p in (tasks / "cgroup.procs").read_text().split()]
    parents = {pid: int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in members}
    working = [pid for pid, parent in parents.items() if parent in members]  # PID 1 of its namespace, below the waiter
    assert working, members
    for pid in working:  # the waiter stays: the cgroup is not empty, its count just stops moving
        (tasks.parent / "cgroup.procs").write_text(str(pid))
    result = timing_result(CORPUS / "correct_np_dot.ipynb", timing_only)
    assert result.details["clock"] == "wall", result.details
    assert result.score == result.max_score, result.details
    assert all(ms > 0 for ms in result.details["reference_rounds_ms"]), result.details
    twin.close()
