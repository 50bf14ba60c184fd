"""A student's submission loaded in a sandbox worker, as the checks see it.

`StudentSession` runs the submission's cells statement by statement (a statement that
fails, hangs or kills the worker is skipped and listed, the definitions around it
survive), then serves typed calls: `new`, `call`, `get`, `set`. Every failure of the
student's code becomes a `StudentFailure` with a diagnosis code; the worker is restarted
(and the submission replayed, minus the statements known to be bad) for the next check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..deadline import Deadline
from ..errors import StudentFailure
from ..profiling import Profile
from ..submission import Submission
from . import protocol
from .client import SandboxConfig, WorkerFailure, WorkerProcess
from .cpu_timer import wall_limit
from .definitions import Definitions, note_definitions
from .replies import description, error_fields, is_index
from .slicing import plan_statements

__all__ = ["StudentSession", "Remote", "StatementIssue"]

WorkerFactory = Callable[[SandboxConfig], WorkerProcess]

MAX_LOAD_REPLAYS = 10
"""Replays of the notebook after a statement killed or hung the worker while loading; past
this, the statement that failed, the rest of its cell and every later cell are not run (so
loading always ends; the definitions before them survive)."""
MAX_RESTARTS = 50
"""Worker restarts per submission (each replays the notebook); past this, requests fail at once."""
MAX_ISSUES = 200
"""Statements listed in the report; the rest are counted in one line."""

FAILURE_TEXT = {
    "timeout": "did not finish within {limit:g} s (an infinite loop, or far too slow)",
    "crash": "crashed the Python process: {detail}",
    "output-flood": "printed so much output that it was stopped ({detail})",
    "protocol": "sent an answer the grader cannot read ({detail})",
    "disk-limit": "was stopped: it wrote more than {detail} of files, the sandbox's limit (a dense layer needs no files)",
}
FAILURE_CODES = {"protocol": "crash", "disk-limit": "crash"}
"""Diagnosis codes of the worker failures that have none of their own (MISTAKES.md)."""
DISK_FULL = ("[Errno 28]", "[Errno 27]", "[Errno 122]")
"""ENOSPC, EFBIG, EDQUOT: the worker's writes went past its private tmpfs or RLIMIT_FSIZE."""


@dataclass(frozen=True)
class StatementIssue:
    """A top-level statement of the notebook that did not run cleanly."""

    cell: str
    """Label of the cell, e.g. "cell 7"."""
    line: int
    """First line of the statement within the cell."""
    status: str
    """error, syntax-error, timeout or crash."""
    message: str
    """What went wrong, one line."""
    traceback: str = ""
    """Trimmed student traceback, when there is one."""


@dataclass(frozen=True)
class Remote:
    """A handle to an object that lives in the worker (a layer, a list of layers)."""

    handle: int
    generation: int


def _is_placeholder(error: dict[str, Any]) -> bool:
    return error.get("type") == "NotImplementedError"


def failure_from_error(error: Any, what: str, arrays: list[np.ndarray] = (), disk_bytes: int = SandboxConfig.disk_limit_bytes) -> StudentFailure:
    """Turn the worker's error record into a StudentFailure with the right code (`crash`
    for a record the worker cannot have written: only student code forges replies)."""
    if not isinstance(error, dict) or not isinstance(error.get("type"), str):
        return StudentFailure("crash", f"{what} got a malformed error reply from the student's process (replies are forged only by hostile code).")
    error = error_fields(error)
    failure = _failure_from_error(error, what, disk_bytes)
    failure.error_type = str(error.get("type", ""))
    for name, encoded in error.get("locals", {}).items():
        try:
            value = protocol.decode_value(encoded, list(arrays))
        except protocol.ProtocolError:
            continue
        if isinstance(value, np.ndarray):
            failure.local_arrays[str(name)] = value
    return failure


def _failure_from_error(error: dict[str, Any], what: str, disk_bytes: int) -> StudentFailure:
    where = f" ({error.get('where', '?')}, line {error['line']})" if error.get("line") else ""
    if error.get("type") == "MemoryError":
        return StudentFailure("memory-limit", f"{what} ran out of memory{where}: it allocates far more than a dense layer needs.", error.get("traceback", ""))
    if error.get("type") in ("OSError", "IOError") and str(error.get("message", "")).startswith(DISK_FULL):
        return StudentFailure("exception", f"{what} wrote more than {disk_bytes // 2**20} MB of files{where}, the sandbox's limit: a dense layer needs no files, so write none.", error.get("traceback", ""))
    if _is_placeholder(error):
        # The sentence names the placeholder's cell and line; its traceback says no more unless
        # the placeholder sits below another frame of the student's (a helper it calls).
        trace = error.get("traceback", "")
        return StudentFailure("not-implemented", f"{what} still raises NotImplementedError{where}: replace the placeholder with your code.", trace if trace.count('  File "') > 1 else "")
    return StudentFailure(
        "exception",
        f"{what} raised {error.get('type')}: {error.get('message')}{where}.",
        error.get("traceback", ""),
    )


class StudentSession:
    """The submission, running in a worker, behind a small typed API."""

    def __init__(
        self,
        submission: Submission,
        config: SandboxConfig,
        worker_factory: WorkerFactory = WorkerProcess,
        seed: int = 0,
        deadline: Deadline | None = None,
        graded_names: tuple[str, ...] = (),
    ) -> None:
        self.submission = submission
        self.deadline = deadline or Deadline(None)
        """The overall time limit of this grading run (grader/deadline.py)."""
        self.load_replays = 0
        self.dropped_issues = 0
        self.stop_at: dict[int, int] = {}
        """Per cell index: the statement from which on nothing runs (set when replaying gives up)."""
        self.graded_names = graded_names
        """Slicing roots: only the statements these names need are run (none given: every statement)."""
        self.not_needed: dict[int, set[int]] | None = None
        """Per cell index, the statements the slicing plan leaves out (None: not planned yet)."""
        self.statement_counts: dict[int, int] = {}
        self.config = config
        self.worker_factory = worker_factory
        self.seed = seed
        self.generation = 0
        self.worker: WorkerProcess | None = None
        self.bad_statements: dict[int, set[int]] = {}
        self.issues: dict[tuple[str, int], StatementIssue] = {}
        self.output_flooded = False
        self.restarts = 0
        self._outputs: list[str] = []
        self.hung: dict[str, StudentFailure] = {}
        """Calls that timed out once: later calls of the same kind fail at once, not after another timeout."""
        self.last_failure_code = "crash"
        self.definitions: Definitions = {}
        """Where each top-level class/function name was bound, in notebook order (redefinitions)."""
        self._deferred: list[tuple[dict[str, Any], list[np.ndarray], str, int]] = []
        """`set` requests waiting to travel with the next request: (header, arrays, what, generation)."""
        self.profile: Profile = Profile()
        """Per-phase counters (the engine passes its own); see grader/profiling.py."""

    # -- lifecycle ----------------------------------------------------------------------
    def without(self, skip: dict[int, set[int]]) -> StudentSession:
        """A fresh session on the same submission that also leaves out `skip` (cell index ->
        statements), reusing this one's slicing plan (every definition of a graded name is in
        it) and its known-bad statements, under the same deadline. Not started."""
        again = StudentSession(self.submission, self.config, self.worker_factory, self.seed, self.deadline, self.graded_names)
        again.not_needed, again.statement_counts = self.not_needed, dict(self.statement_counts)
        again.bad_statements = {cell: set(stmts) for cell, stmts in self.bad_statements.items()}
        for cell, stmts in skip.items():
            again.bad_statements.setdefault(cell, set()).update(stmts)
        return again

    def start(self) -> None:
        """Start a worker and run the cells of the submission in it (what grading needs of them)."""
        self.profile.worker_clock = self._worker_clock
        self._restart_worker()
        if self.not_needed is None:
            with self.profile.phase("plan"):
                self.not_needed = plan_statements(self)
        self._load_all()

    def _load_all(self) -> None:
        """Run every cell; a statement that kills or hangs the worker is skipped on replay.

        Bounded: after MAX_LOAD_REPLAYS replays, a statement that fails again stops loading
        there (it, the rest of its cell and the later cells are not run), so each further
        replay gets strictly shorter; the overall deadline stops loading where it is.
        """
        with self.profile.phase("statements"):
            self._replay()
        self._reseed()

    def _reseed(self) -> None:
        """numpy's global generator back to the run's seed once the notebook is loaded: what
        the checks draw from it must not depend on which statements loading ran (a training
        loop the slicing plan leaves out draws from it too)."""
        if self.worker is None or not self.worker.alive:
            return
        try:
            self.worker.request({"op": "seed", "seed": self.seed})
        except WorkerFailure:
            pass  # the next request's ensure_alive() restarts and reloads it

    def _replay(self) -> None:
        while True:
            try:
                for cell in self.submission.cells:
                    self._load_cell(cell)
                return
            except _ReplayNeeded as replay:
                if self.deadline.expired:
                    self._note(StatementIssue(replay.cell.label, 0, "timeout", f"{self.deadline.describe()} while the notebook was loading; the rest of it was not run."))
                    return
                self.load_replays += 1
                if self.load_replays > MAX_LOAD_REPLAYS:
                    self._give_up_from(replay.cell, replay.statement)
                if self.restarts >= MAX_RESTARTS:
                    return  # ensure_alive() reports it to the checks
                self._restart_worker()

    def _give_up_from(self, cell: Any, statement: int) -> None:
        """Run nothing from `statement` of `cell` on, nor any later cell: loading must end."""
        self.stop_at[cell.index] = max(0, statement)
        for later in self.submission.cells:
            if later.index > cell.index:
                self.bad_statements.setdefault(later.index, set()).add(-1)
        issue = StatementIssue(cell.label, 0, "crash", f"the notebook stopped the process {self.load_replays} times while loading; from statement {statement + 1} of {cell.label} on, nothing more was run (at most {MAX_LOAD_REPLAYS} replays).")
        self.issues[(issue.cell, issue.line)] = issue  # replaces the first kill's note: this one says more

    def _load_cell(self, cell: Any) -> None:
        current: list[int] = [-1]
        skip = self.bad_statements.setdefault(cell.index, set())
        unused = (self.not_needed or {}).get(cell.index, set())
        if -1 in skip or (unused and len(unused) == self.statement_counts.get(cell.index)):
            return
        try:
            reply, _ = self._worker().request(
                {"op": "exec_cell", "label": cell.label, "source": cell.source, "skip": sorted(skip | unused), "timeout": self.config.statement_timeout, "stop_at": self.stop_at.get(cell.index)},
                timeout=wall_limit(self.config.statement_timeout) + 2.0,  # statements are limited in CPU seconds; this is the backstop
                on_progress=lambda index: current.__setitem__(0, index) if is_index(index) else None,
                deadline=self.deadline.at(),
            )
        except WorkerFailure as failure:
            # The statement in progress killed or hung the worker: skip it from now on
            # (-1: the cell died before its first statement, so the whole cell is skipped).
            if not self.deadline.expired:
                skip.add(current[0])
                status = "timeout" if failure.kind == "timeout" else failure.kind
                where = "a statement of the cell" if current[0] >= 0 else "the cell"
                self._note(StatementIssue(cell.label, 0, status, f"{where} stopped the process: {failure}"))
            self.flag_flood(failure)
            raise _ReplayNeeded(cell, current[0]) from None
        results = reply.get("statements")
        for result in results if isinstance(results, list) else []:
            if not isinstance(result, dict) or not is_index(result.get("stmt")):
                continue  # a forged reply (student code can write to the channel): ignore it
            status = str(result.get("status"))[:40]
            if status == "ok":
                note_definitions(self.definitions, cell.index, cell.label, result)
            if status in ("ok", "skipped"):
                continue
            if status == "timeout":
                skip.add(result["stmt"])
            error = error_fields(result.get("error"))
            message = f"{error.get('type', status)}: {error.get('message', 'took longer than the statement limit and was skipped')}"
            line = result.get("line")
            line = line if is_index(line) else 0
            self._note(StatementIssue(cell.label, line, status, message[:300], error.get("traceback", "")))

    def _note(self, issue: StatementIssue) -> None:
        if len(self.issues) >= MAX_ISSUES and (issue.cell, issue.line) not in self.issues:
            self.dropped_issues += 1
            return
        self.issues.setdefault((issue.cell, issue.line), issue)

    def _restart_worker(self) -> None:
        if self.worker is not None:
            self._retire(self.worker)
            self.restarts += 1
        self.generation += 1
        with self.profile.phase("worker-start"):
            self.worker = self.worker_factory(self.config)
            self.worker.request({"op": "seed", "seed": self.seed})

    def _worker_clock(self) -> tuple[int, float] | None:
        """(generation, CPU seconds) of the current worker, for the profile's per-phase count."""
        count = getattr(self.worker, "cpu_seconds", None)  # a live kernel's stand-in has none
        cpu = count(settled=False) if count is not None else None
        return None if cpu is None else (self.generation, cpu)

    def _retire(self, worker: WorkerProcess) -> None:
        """Close a worker, keeping its output and (when it still answers) its CPU seconds."""
        if worker.alive:
            try:
                reply, _ = worker.request({"op": "stats"}, timeout=1.0)
                cpu = reply.get("cpu")
                if isinstance(cpu, (int, float)) and 0 <= cpu < 1e6:
                    self.profile.count("worker-cpu", float(cpu))
            except WorkerFailure:
                pass
        self._outputs.append(worker.student_output())
        worker.close()

    def _worker(self) -> WorkerProcess:
        if self.worker is None:
            raise RuntimeError("session not started")
        return self.worker

    def ensure_alive(self) -> None:
        """Restart and replay the submission if the last request killed the worker (within bounds)."""
        if self.worker is None or not self.worker.alive:
            if self.deadline.expired:
                raise StudentFailure("timeout", f"not run: {self.deadline.describe()}.")
            if self.restarts >= MAX_RESTARTS:
                raise StudentFailure("crash", f"not run: the student's process died {self.restarts} times, and grading restarts it at most {MAX_RESTARTS} times.")
            self._restart_worker()
            self._load_all()

    def flag_flood(self, failure: WorkerFailure) -> None:
        if failure.kind == "output-flood":
            self.output_flooded = True

    def close(self) -> None:
        if self.worker is not None:
            self._retire(self.worker)
            self.worker = None

    def student_output(self) -> str:
        return "\n".join(o for o in self._outputs if o)

    def __enter__(self) -> StudentSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ------------------------------------------------------------------------
    def _encode(self, value: Any, arrays: list[np.ndarray]) -> dict[str, Any]:
        if isinstance(value, Remote):
            if value.generation != self.generation:
                raise StudentFailure(self.last_failure_code, "an earlier failure in this check restarted the student's process, so this check cannot go on.")
            return {"t": "h", "h": value.handle}
        if isinstance(value, (list, tuple)):
            return {"t": "l", "items": [self._encode(v, arrays) for v in value]}
        if isinstance(value, np.ndarray):
            arrays.append(value)
            return {"t": "a", "i": len(arrays) - 1}
        return protocol.encode_value(value, arrays)

    def _request(self, header: dict[str, Any], arrays: list[np.ndarray], what: str, timeout: float | None = None) -> tuple[dict[str, Any], list[np.ndarray]]:
        if what in self.hung:
            raise self.hung[what]
        self.ensure_alive()
        header, arrays, deferred = self._with_deferred(header, arrays)
        limit = self.config.request_timeout if timeout is None else timeout
        if self.deadline.expired:
            raise StudentFailure("timeout", f"{what} was not run: {self.deadline.describe()}.")
        limit = self.deadline.cap(limit)
        self.profile.count("requests")
        try:
            reply, out = self._worker().request(header, arrays, timeout=limit)
        except WorkerFailure as failure:
            self.flag_flood(failure)
            raise self.failure_of(failure, what, limit) from None
        if not reply.get("ok"):
            failed = reply.get("pre_failed")
            if is_index(failed) and 0 <= failed < len(deferred):
                what = deferred[failed]
            raise failure_from_error(reply.get("error"), what, out, self.config.disk_limit_bytes)
        return reply, out

    def failure_of(self, failure: WorkerFailure, what: str, limit: float) -> StudentFailure:
        """What a failed request means for the student's `what`; a timeout marks it hung."""
        text = FAILURE_TEXT.get(failure.kind, "{detail}").format(limit=limit, detail=failure)
        code = FAILURE_CODES.get(failure.kind, failure.kind)
        student_failure = StudentFailure(code, f"{what} {text}.")
        self.last_failure_code = code
        if code == "timeout":
            self.hung[what] = student_failure
        return student_failure

    def _with_deferred(self, header: dict[str, Any], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray], list[str]]:
        """Attach the deferred `set`s to this request (the worker runs them first): one round
        trip instead of two. Timed requests go alone: the sets are sent ahead of them."""
        if not self._deferred:
            return header, arrays, []
        pending, self._deferred = self._deferred, []
        if any(generation != self.generation for *_, generation in pending):
            raise StudentFailure(self.last_failure_code, "an earlier failure in this check restarted the student's process, so this check cannot go on.")
        if header.get("op") == "bench":
            for pre, pre_arrays, what, _ in pending:
                self._request(pre, pre_arrays, what)
            return header, arrays, []
        arrays = list(arrays)
        pre_headers = []
        for pre, pre_arrays, _, _ in pending:
            offset = len(arrays)
            arrays += pre_arrays
            pre_headers.append(dict(pre, values={k: _shift(v, offset) for k, v in pre["values"].items()}))
        return dict(header, pre=pre_headers), arrays, [what for _, _, what, _ in pending]

    def _decode(self, encoded: Any, arrays: list[np.ndarray]) -> Any:
        try:
            return self._decode_value(encoded, arrays)
        except RecursionError:  # a forged reply nesting lists a thousand deep
            raise StudentFailure("crash", "the student's process sent a value nested too deeply to read.") from None

    def _decode_value(self, encoded: Any, arrays: list[np.ndarray]) -> Any:
        if isinstance(encoded, dict) and encoded.get("t") == "h" and isinstance(encoded.get("h"), int):
            return Remote(int(encoded["h"]), self.generation)
        if isinstance(encoded, dict) and encoded.get("t") == "l" and isinstance(encoded.get("items"), list):
            return [self._decode_value(v, arrays) for v in encoded["items"]]
        if isinstance(encoded, dict) and encoded.get("t") == "missing":
            return MISSING
        try:
            return protocol.decode_value(encoded, arrays)
        except protocol.ProtocolError as exc:
            raise StudentFailure("crash", f"the student's process sent an invalid value ({exc}).") from None

    def define(self, source: str, label: str) -> None:
        """Run grader-written helper code (probe layers) in the student's namespace."""
        reply, _ = self._request({"op": "exec_cell", "label": label, "source": source, "skip": [], "timeout": self.config.statement_timeout}, [], label)
        results = reply.get("statements")
        if not isinstance(results, list):
            raise StudentFailure("crash", f"the grader's {label} got a malformed reply from the student's process.")
        for result in results:
            status = result.get("status") if isinstance(result, dict) else "malformed"
            if status != "ok":
                raise _not_defined(label, error_fields(result.get("error") if isinstance(result, dict) else None).get("message", str(status)[:80]))

    def install(self, op: str, label: str) -> None:
        """Define grader code that a worker plug-in keeps compiled (grader/sandbox/ops_*.py) in the
        student's namespace: what `define` does, without parsing the source in every worker."""
        reply, _ = self._request({"op": op}, [], label)
        if "failed" in reply:
            raise _not_defined(label, error_fields(reply["failed"]).get("message", "malformed reply"))

    def describe(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """Which graded names the submission defines, and as what."""
        reply, _ = self._request({"op": "describe", "names": names}, [], "describing the submission")
        found = reply.get("names")
        if not isinstance(found, dict) or not all(isinstance(found.get(n), dict) for n in names):
            raise StudentFailure("crash", "the student's process sent a malformed description (replies are forged only by hostile code).")
        return {n: description(found[n]) for n in names}

    def call(self, target: str | Remote, *args: Any, method: str | None = None, what: str | None = None, keep: bool = False, return_args: bool = False, timeout: float | None = None, **kwargs: Any) -> Any:
        """Call a function or class by name, or a method of a remote object."""
        label = what or (f"{target}.{method}" if isinstance(target, str) and method else str(target))
        if label in self.hung:
            raise self.hung[label]
        self.ensure_alive()  # before encoding: a restart must never meet an old handle
        arrays: list[np.ndarray] = []
        header: dict[str, Any] = {
            "op": "call",
            "method": method,
            "args": [self._encode(a, arrays) for a in args],
            "kwargs": {k: self._encode(v, arrays) for k, v in kwargs.items()},
            "keep": keep,
            "return_args": return_args,
        }
        if isinstance(target, Remote):
            header["handle"] = self._encode(target, arrays)["h"]
        else:
            header["name"] = target
        reply, out = self._request(header, arrays, label, timeout)
        result = self._decode(reply.get("result"), out)
        if keep and not isinstance(result, Remote):
            raise StudentFailure("crash", f"{label} did not leave an object in the student's process (malformed reply).")
        if return_args:
            args_back = reply.get("args")
            if not isinstance(args_back, list) or len(args_back) != len(args):
                raise StudentFailure("crash", f"{label} got a malformed reply from the student's process (its arguments did not come back).")
            return result, [self._decode(a, out) for a in args_back]
        return result

    def new(self, class_name: str, *args: Any, **kwargs: Any) -> Remote:
        """Construct an object of the student's class; it stays in the worker."""
        what = f"{class_name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
        return self.call(class_name, *args, keep=True, what=what, **kwargs)

    def make_list(self, items: list[Remote]) -> Remote:
        self.ensure_alive()  # before encoding: a restart must never meet an old handle
        arrays: list[np.ndarray] = []
        handles = [self._encode(i, arrays)["h"] for i in items]
        reply, _ = self._request({"op": "make_list", "handles": handles}, arrays, "building a network")
        result = self._decode(reply.get("result"), [])
        if not isinstance(result, Remote):
            raise StudentFailure("crash", "building a network got a malformed reply from the student's process.")
        return result

    def get(self, obj: Remote, *attrs: str) -> Any:
        """Read attributes of a remote object (MISSING where absent); one value or a tuple."""
        self.ensure_alive()  # before encoding: a restart must never meet an old handle
        arrays: list[np.ndarray] = []
        header = {"op": "get", "handle": self._encode(obj, arrays)["h"], "attrs": list(attrs)}
        reply, out = self._request(header, arrays, f"reading {', '.join(attrs)}")
        found = reply.get("values") if isinstance(reply.get("values"), dict) else {}
        values = tuple(self._decode(found.get(a), out) for a in attrs)
        return values[0] if len(values) == 1 else values

    def set(self, obj: Remote, defer: bool = False, **values: Any) -> None:
        """Assign attributes of a remote object (the grader sets weights and biases).

        `defer`: send the assignment with the next request instead of on its own (its
        failure, if any, is then raised by that request, under this assignment's name)."""
        self.ensure_alive()  # before encoding: a restart must never meet an old handle
        arrays: list[np.ndarray] = []
        header = {"op": "set", "handle": self._encode(obj, arrays)["h"], "values": {k: self._encode(v, arrays) for k, v in values.items()}}
        what = f"setting {', '.join(values)}"
        if defer:
            self._deferred.append((header, arrays, what, self.generation))
            return
        self._request(header, arrays, what)

    def bench(self, header: dict[str, Any], arrays: list[np.ndarray], what: str, timeout: float | None = None) -> tuple[dict[str, Any], list[np.ndarray]]:
        """Send a timing request (grader/sandbox/ops_timing.py); the caller reads the clock
        around it, so call `ensure_alive()` first to keep a replay out of the timed region."""
        return self._request(header, list(arrays), what, timeout)


def _not_defined(label: str, detail: str) -> StudentFailure:
    """Grader code (`define`, `install`) that the student's namespace kept from being defined."""
    return StudentFailure("crash", f"the grader's {label} could not be defined in the student's process ({detail}).")


def _shift(encoded: Any, offset: int) -> Any:
    """An encoded value whose array indices move by `offset` (its arrays join another message's)."""
    if isinstance(encoded, dict) and encoded.get("t") == "a":
        return dict(encoded, i=encoded["i"] + offset)
    if isinstance(encoded, dict) and encoded.get("t") == "l":
        return dict(encoded, items=[_shift(v, offset) for v in encoded["items"]])
    return encoded


class _ReplayNeeded(Exception):
    """A cell killed the worker while loading: restart and replay from the first cell."""

    def __init__(self, cell: Any, statement: int) -> None:
        super().__init__(cell.label)
        self.cell, self.statement = cell, statement


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
