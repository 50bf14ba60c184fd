"""Run `grade_file` for many submissions: a local process pool, or a Dask cluster.

`grade_task` is the unit of work in both: it grades one submission in the usual sandbox
and returns plain data (the report's dict, the HTML text), never raising for a student's
fault, so one bad submission can't stop the batch. It is a module-level function of an
importable module so Dask can ship it to workers by reference.

Timing honesty: every grading process gets GRADER_LOCK_FILE (see grader/timing/exclusive.py).
Grading holds the lock shared; a timing measurement takes it exclusively, so while a
submission is timed no other grading process of this machine runs. The default lock file is
machine-wide (in the temp dir, one per user), so it also covers two batches on one machine
and every Dask worker process on the same host.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.util
import os
import signal
import tempfile
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from ..errors import GraderFailure, InputError
from ..extras import INSTRUCTOR_INSTALL
from ..sandbox.heap import keep_freed_memory
from ..sandbox.limits import name_process
from ..sandbox.resources import process_state
from ..timing.exclusive import LOCK_ENV

__all__ = ["Job", "Options", "TaskResult", "grade_task", "run_local", "run_dask", "default_lock_file"]


@dataclass(frozen=True)
class Job:
    """One submission to grade."""

    student: str
    name: str
    """File-name-safe id (RESULTS/<name>.json)."""
    path: str
    """The submission's path as the instructor gave it; recorded in the report."""
    sha256: str
    content: bytes | None = None
    """The file's bytes, sent to remote (Dask) workers that may not see our disk."""
    error: str = ""
    """Known before grading (e.g. an empty student folder): recorded, not graded."""
    error_kind: str = "missing"
    """The record's error_kind for `error` (missing, or input for a refused link)."""


@dataclass(frozen=True)
class Options:
    """Settings shared by every task of a batch."""

    assignment: str
    seed: int
    device: str
    timeout: float | None
    """Seconds one submission may take in all (a safety net above the sandbox's own limits)."""
    html: bool
    lock_file: str | None
    """GRADER_LOCK_FILE for grading processes; None: the worker host's machine-wide default."""
    feedback: str = "full"
    """What the per-student HTML shows: "full", or "public" (no hidden check's details, before the deadline)."""


@dataclass(frozen=True)
class TaskResult:
    student: str
    name: str
    record: dict[str, Any]
    html: str | None
    notes: tuple[str, ...] = ()


class _Overtime(BaseException):
    """Raised by SIGALRM inside a task that ran past `Options.timeout` (BaseException so no student-failure handler swallows it)."""


class _Stop(BaseException):
    """Raised by SIGTERM inside a task: clean up the sandbox, then the worker exits."""


_worker_state: dict[str, Any] = {"in_task": False, "stopping": False, "budget": 0.0}
_TICK = 0.5
"""Seconds between SIGALRM ticks that count a task's working time."""
BACKSTOP_GRACE = 60.0
"""`grade_file` enforces `Options.timeout` itself (grader/deadline.py) and still writes a report;
the alarm stops a task only this much later, when grading itself hangs."""


def _waiting_for_timing_lock(frame: Any) -> bool:
    """True when the interrupted code is blocked in grader/timing/exclusive.py (waiting for the timing lock).

    That wait is the price of honest timing, not the submission's fault, so it does not
    count against --timeout: otherwise a slow neighbour holding the shared lock would
    make innocent submissions time out.
    """
    return frame is not None and frame.f_code.co_filename.endswith(("exclusive.py",))


def default_lock_file() -> str:
    """One timing lock per machine and user, shared by every batch and Dask worker on the host."""
    return str(Path(tempfile.gettempdir()) / f"grader-timing-{os.getuid()}.lock")


@lru_cache(maxsize=4)
def _assignment(name: str) -> Any:
    from ..assignment import load_assignment

    return load_assignment(name)


def _error(job: Job, options: Options, kind: str, message: str, elapsed: float) -> TaskResult:
    from .store import error_record

    try:
        max_score = _assignment(options.assignment).max_score
    except InputError:
        max_score = 0.0
    record = error_record(job.student, job.path, job.sha256, _assignment_name(options), max_score, options.seed, __version__, kind, message, elapsed)
    html = None
    if options.html and kind == "input":  # the student's file is the cause: their page says why
        from ..report.html import render_error_html

        html = render_error_html(job.path, message)
    return TaskResult(job.student, job.name, record, html)


def _assignment_name(options: Options) -> str:
    try:
        return str(_assignment(options.assignment).name)
    except InputError:
        return options.assignment


def grade_task(job: Job, options: Options) -> TaskResult:
    """Grade one submission; every failure becomes a recorded error, never an exception."""
    os.environ[LOCK_ENV] = options.lock_file or os.environ.get(LOCK_ENV) or default_lock_file()
    if job.error:
        return _error(job, options, job.error_kind, job.error, 0.0)
    started = time.perf_counter()
    alarm = options.timeout is not None and threading.current_thread() is threading.main_thread()
    with tempfile.TemporaryDirectory(prefix="grade-batch-") as scratch:
        path = Path(job.path)
        if job.content is not None:
            path = Path(scratch) / Path(job.path).name
            path.write_bytes(job.content)
        _worker_state["in_task"] = True
        try:
            if alarm:
                _worker_state["budget"] = float(options.timeout or 0) + BACKSTOP_GRACE
                signal.setitimer(signal.ITIMER_REAL, _TICK, _TICK)
            try:
                from ..engine import grade_file

                report = grade_file(path, assignment=_assignment(options.assignment), seed=options.seed, device=options.device, timeout=options.timeout)
            finally:
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
        except InputError as exc:
            return _error(job, options, "input", str(exc), time.perf_counter() - started)
        except GraderFailure as exc:  # the grader's own set-up (the sandbox) failed: its sentence, no traceback
            return _error(job, options, "grader", str(exc), time.perf_counter() - started)
        except _Overtime:
            return _error(job, options, "timeout", f"grading took longer than {options.timeout:g} s, so it was stopped; grade it alone with `grade` to see where it hangs.", time.perf_counter() - started)
        except Exception as exc:  # a grader bug: recorded loudly, but the class goes on
            tail = traceback.format_exc(limit=-3)
            return _error(job, options, "grader", f"grader error ({type(exc).__name__}: {exc}); this is a bug in the grader, not the student's fault.\n{tail}", time.perf_counter() - started)
        finally:
            _worker_state["in_task"] = False
            if _worker_state["stopping"]:
                os._exit(1)
        record = report.to_dict()
        record["submission"] = job.path
        html, notes = (None, ())
        if options.html:
            from ..timing.exclusive import grading_phase

            wall, cpu = time.perf_counter(), time.process_time()
            with grading_phase():  # plotting is CPU work: never beside a timing measurement
                html, notes = _render_html(report, scratch, options.feedback)
            phases = record.setdefault("profile", {}).setdefault("phases", {})
            phases["html"] = {"wall": round(time.perf_counter() - wall, 5), "cpu": round(time.process_time() - cpu, 5)}
    return TaskResult(job.student, job.name, record, html, notes)


def _render_html(report: Any, scratch: str, feedback: str = "full") -> tuple[str | None, tuple[str, ...]]:
    """HTML feedback when grader.report.html exists; its absence or failure never loses the JSON."""
    try:
        from ..report.html import write_html
    except ImportError:
        return None, ("HTML feedback skipped: grader.report.html is not available in this grader version.",)
    target = Path(scratch) / "feedback.html"
    try:
        write_html(report, target, feedback)
        return target.read_text(encoding="utf-8"), ()
    except Exception as exc:  # noqa: BLE001 - the JSON result matters more than the HTML
        return None, (f"HTML feedback failed: {type(exc).__name__}: {exc}",)


# ---------------------------------------------------------------- local process pool


def _init_worker(parent_pid: int, lock_file: str) -> None:
    """Pool worker set-up: ignore Ctrl-C (the parent decides), clean up on SIGTERM, die with the parent."""
    os.environ[LOCK_ENV] = lock_file
    keep_freed_memory()
    name_process("grade-job")
    # A pool process leaves through multiprocessing, which runs finalizers but no atexit hook:
    # run those hooks as its last finalizer, so what grading keeps per process (the timing
    # check's reference twin, its home folder) is closed as when `grade` exits.
    multiprocessing.util.Finalize(None, atexit._run_exitfuncs, exitpriority=0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def on_term(signum: int, frame: Any) -> None:
        _worker_state["stopping"] = True
        if _worker_state["in_task"]:
            raise _Stop()  # unwinds grade_file, whose finally kills the sandbox
        atexit._run_exitfuncs()  # idle: close what the process keeps before leaving
        os._exit(1)

    def on_alarm(signum: int, frame: Any) -> None:
        if not _worker_state["in_task"] or _waiting_for_timing_lock(frame):
            return
        _worker_state["budget"] -= _TICK
        if _worker_state["budget"] <= 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
            raise _Overtime()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_alarm)

    def watchdog() -> None:
        # A SIGKILLed batch can't stop its pool; orphaned workers notice and leave.
        while _alive(parent_pid):
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    # Workers print nothing (results travel back as data); holding the caller's stdout or
    # stderr would keep `grade batch | tee log` open after the batch itself has died.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    threading.Thread(target=watchdog, name="batch-watchdog", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether the batch process still runs; a zombie (killed, not yet reaped) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return process_state(pid) != "Z"  # unreadable ("") counts as alive, as os.kill said


def _pool(jobs: int, lock_file: str) -> ProcessPoolExecutor:
    # forkserver: workers do not inherit the parent's RESULTS lock or progress thread, and
    # start warm (numpy and the grader preloaded once in the server).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "grader.engine", "grader.batch.execute", "grader.report.html"])  # missing ones are skipped
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(), lock_file))


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: cancel what has not started and SIGTERM the workers (each kills its sandbox)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # private, but the only handle on the workers
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        try:
            process.terminate()
        except (OSError, AttributeError):
            pass
    deadline = time.monotonic() + 5
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))


def run_local(jobs: list[Job], options: Options, n_jobs: int, on_result: Callable[[TaskResult], None]) -> None:
    """Grade `jobs` on a pool of `n_jobs` processes, calling `on_result` in this process as each finishes.

    A pool whose worker dies (OOM killer, a signal) breaks every running task; those are
    regraded one at a time in a fresh pool, and one that breaks it again is recorded as a
    crashed-worker error, so an innocent neighbour is never blamed.
    """
    lock_file = options.lock_file or default_lock_file()
    suspects = _run_pool(jobs, options, n_jobs, lock_file, on_result)
    for job in suspects:
        again = _run_pool([job], options, 1, lock_file, on_result)
        for lost in again:
            on_result(_error(lost, options, "crashed-worker", "the grading process died while grading this submission (killed, or out of memory); it was tried twice.", 0.0))


def _run_pool(jobs: list[Job], options: Options, n_jobs: int, lock_file: str, on_result: Callable[[TaskResult], None]) -> list[Job]:
    if not jobs:
        return []
    pool = _pool(max(1, min(n_jobs, len(jobs))), lock_file)
    broken: list[Job] = []
    try:
        pending: dict[Future[TaskResult], Job] = {pool.submit(grade_task, job, options): job for job in jobs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken.append(job)
                    continue
                on_result(result)
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    return broken


# ---------------------------------------------------------------- Dask


def run_dask(address: str, jobs: list[Job], options: Options, on_result: Callable[[TaskResult], None], log: Callable[[str], None]) -> None:
    """Grade on a Dask cluster; each worker runs the same `grade_task` (and sandbox).

    Files travel as bytes, so workers need no shared disk. For honest timing run workers
    with one thread each (`dask worker --nthreads 1`): the timing lock is per process.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError(f"--scheduler needs Dask, which is not installed: {INSTRUCTOR_INSTALL}.") from None
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address} ({exc}).") from None
    try:
        workers = client.scheduler_info().get("workers", {})
        threads = {w.get("nthreads", 1) for w in workers.values()}
        log(f"Dask cluster {address}: {len(workers)} worker(s), {sum(w.get('nthreads', 1) for w in workers.values())} thread(s)")
        if any(t > 1 for t in threads):
            log("warning: Dask workers with more than one thread grade side by side in one process; timing is only honest with --nthreads 1.")
        shipped = [replace(job, content=None if job.error else Path(job.path).read_bytes()) for job in jobs]
        futures = {client.submit(grade_task, job, options, pure=False): job for job in shipped}
        for future in as_completed(list(futures)):
            job = futures.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # KilledWorker and friends: record, go on
                result = _error(job, options, "crashed-worker", f"the Dask worker failed while grading this submission ({type(exc).__name__}: {exc}).", 0.0)
            on_result(result)
    finally:
        client.close()
