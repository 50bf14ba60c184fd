"""Several calls in one request: the grader's side of the worker's `many` op (ops_many.py).

Why: a grading made ~230 round trips, each a pair of wake-ups plus per-request Python;
most are independent calls in a loop (finite differences, per-sample backward passes). A
`CallBatch` collects `new`/`call`/`get`/`set` like `StudentSession` offers them, sends them
in one request and gives back the same values. Safety is the session's: the worker is
restarted and replayed first when dead, old handles are refused, deferred sets travel
with the batch, every reply field is type-checked (a forged reply is a `crash`), and a
failure is the one the single call would have raised, under the same label.

Stopping rule: the calls run in order and stop at the first that fails; `run_partial()`
gives the results before it and that failure, `run()` raises it. A call whose label already
timed out (`session.hung`) fails at once, after the calls before it.

Time: each call keeps a single call's limit (a soft timer in the worker names the call that
overran, which then times out under its own label); the request may take the sum of its
calls' limits, within the grading's deadline. If the reply is lost (the worker died, a call
hid the timer, or student code forged the reply), the calls go again one by one on a fresh
worker, so results and failure are the one-by-one calls'; that needs calls that use only
objects made in the batch (gradcheck's layer is older: there the failure is charged to the
call the worker last announced).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import StudentFailure
from .client import WorkerFailure
from .cpu_timer import wall_limit
from .replies import is_index
from .session import FAILURE_TEXT, Remote, StudentSession, failure_from_error

__all__ = ["CallBatch", "BatchRef"]

MAX_CALLS = 256
"""Calls per request (the worker refuses more than ops_many.MAX_CALLS); a longer batch is sent in parts."""
MAX_ARRAYS = 200
"""Arrays per request and per expected reply, under the protocol's 256 (room for an error's local arrays)."""
HEARTBEAT_S = 1.0
"""The worker announces a call that starts this long after its last message (a long batch of quick calls is not a hung one)."""
GRACE_S = 1.0
"""Seconds past a call's limit the grader waits for the worker's own timeout reply."""


@dataclass(frozen=True)
class BatchRef:
    """The object a `new` (or `keep=True` call) of the same batch will leave in the worker."""

    index: int


class _Lost(Exception):
    """The batch's reply is lost: `failure` is what the caller gets, or None to send the calls
    again one by one; `overdue` is the call the worker's timer named."""

    def __init__(self, failure: StudentFailure | None, overdue: int | None = None) -> None:
        super().__init__()
        self.failure, self.overdue = failure, overdue


@dataclass
class _Sub:
    op: str
    target: str | Remote | BatchRef | None
    what: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    method: str | None = None
    keep: bool = False
    return_args: bool = False
    attrs: tuple[str, ...] = ()


class CallBatch:
    """Calls collected for one round trip; use once (`run` or `run_partial`)."""

    def __init__(self, session: StudentSession, timeout: float | None = None) -> None:
        self.session = session
        self.timeout = session.config.request_timeout if timeout is None else timeout
        """Seconds each call may take, as for a single call."""
        self._subs: list[_Sub] = []

    def __len__(self) -> int:
        return len(self._subs)

    # -- building ----------------------------------------------------------------------
    def _add(self, sub: _Sub) -> int:
        for ref in [sub.target, *_refs(sub.args), *_refs(sub.kwargs.values())]:
            if isinstance(ref, BatchRef) and not (0 <= ref.index < len(self._subs) and self._subs[ref.index].keep):
                raise ValueError("a BatchRef must name an earlier call of this batch that keeps its result")
        self._subs.append(sub)
        return len(self._subs) - 1

    def call(self, target: str | Remote | BatchRef, *args: Any, method: str | None = None, what: str | None = None, keep: bool = False, return_args: bool = False, **kwargs: Any) -> int:
        """Like `StudentSession.call`; returns the index of its result."""
        label = what or (f"{target}.{method}" if isinstance(target, str) and method else str(target))
        return self._add(_Sub("call", target, label, args, kwargs, method, keep, return_args))

    def new(self, class_name: str, *args: Any, **kwargs: Any) -> BatchRef:
        """Like `StudentSession.new`: later calls of this batch may use the object."""
        what = f"{class_name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
        return BatchRef(self.call(class_name, *args, keep=True, what=what, **kwargs))

    def make_list(self, items: list[Remote | BatchRef]) -> BatchRef:
        """Like `StudentSession.make_list`: a list of held objects (a network), kept in the worker."""
        return BatchRef(self._add(_Sub("make_list", None, "building a network", (list(items),), keep=True)))

    def get(self, obj: Remote | BatchRef, *attrs: str) -> int:
        """Like `StudentSession.get` (one value, or a tuple for several attributes)."""
        return self._add(_Sub("get", obj, f"reading {', '.join(attrs)}", attrs=attrs))

    def set(self, obj: Remote | BatchRef, **values: Any) -> int:
        """Like `StudentSession.set` (its result is None)."""
        return self._add(_Sub("set", obj, f"setting {', '.join(values)}", kwargs=values))

    # -- running -----------------------------------------------------------------------
    def run(self) -> list[Any]:
        """Every call's result, in order; raises the first call's failure as the call would."""
        results, failure = self.run_partial()
        if failure is not None:
            raise failure
        return results

    def run_partial(self) -> tuple[list[Any], StudentFailure | None]:
        """The results of the calls before the first failure, and that failure (or None)."""
        if not getattr(self.session, "sends_batches", True):  # e.g. the student's own kernel: no round trips to save
            return self._replay(len(self._subs), None)
        split = self._split()
        if split < len(self._subs):  # too many calls or arrays for one message: the head first
            head = CallBatch(self.session, self.timeout)
            head._subs = self._subs[:split]
            results, failure = head.run_partial()
            if failure is not None:
                return results, failure
            tail = CallBatch(self.session, self.timeout)
            tail._subs = [_rebased(sub, results, split) for sub in self._subs[split:]]
            more, failure = tail.run_partial()
            return results + more, failure
        session = self.session
        stop: StudentFailure | None = None
        count = len(self._subs)
        for index, sub in enumerate(self._subs):
            if sub.what in session.hung:  # it would fail at once, after the ones before it ran
                count, stop = index, session.hung[sub.what]
                break
        if count == 0:
            return [], stop
        session.ensure_alive()  # before encoding: a restart must never meet an old handle
        arrays: list[np.ndarray] = []
        headers: list[dict[str, Any]] = []
        for sub in self._subs[:count]:
            try:
                headers.append(self._encode(sub, arrays))
            except StudentFailure as failure:  # an old handle: the calls before it still run
                count, stop = len(headers), failure
                break
        if count == 0:
            return [], stop
        try:
            reply, out = self._send(headers, arrays)
            results, failure = self._read(reply, out, count)
        except _Lost as lost:
            if lost.failure is not None:
                return [], lost.failure
            results, failure = self._replay(count, lost.overdue)
        return results, failure or stop

    def _split(self) -> int:
        """How many calls fit in one request: at most MAX_CALLS, and MAX_ARRAYS arrays each way."""
        sent = replied = 0
        for index, sub in enumerate(self._subs):
            sent += sum(isinstance(v, np.ndarray) for v in _refs([*sub.args, *sub.kwargs.values()]))
            replied += len(sub.attrs) if sub.op == "get" else (1 + len(sub.args) * sub.return_args) if sub.op == "call" else 0
            if index and (index >= MAX_CALLS or sent > MAX_ARRAYS or replied > MAX_ARRAYS):
                return index
        return len(self._subs)

    def _encode(self, sub: _Sub, arrays: list[np.ndarray]) -> dict[str, Any]:
        session = self.session
        header: dict[str, Any] = {"op": sub.op}
        if sub.op == "make_list":
            header["handles"] = [self._value(item, arrays)["h"] for item in sub.args[0]]
        elif isinstance(sub.target, (BatchRef, Remote)):
            header["handle"] = self._value(sub.target, arrays)["h"]
        else:
            header["name"] = sub.target
        if sub.op == "call":
            header.update(method=sub.method, keep=sub.keep, return_args=sub.return_args, args=[self._value(a, arrays) for a in sub.args], kwargs={k: self._value(v, arrays) for k, v in sub.kwargs.items()})
        elif sub.op == "get":
            header["attrs"] = list(sub.attrs)
        else:
            header["values"] = {k: session._encode(v, arrays) for k, v in sub.kwargs.items()}
        return header

    def _value(self, value: Any, arrays: list[np.ndarray]) -> dict[str, Any]:
        """`StudentSession._encode`, plus objects made earlier in this batch (`{"ref": k}`)."""
        if isinstance(value, BatchRef):
            return {"t": "h", "h": {"ref": value.index}}
        if isinstance(value, (list, tuple)) and any(isinstance(v, BatchRef) for v in _refs(value)):
            return {"t": "l", "items": [self._value(v, arrays) for v in value]}
        return self.session._encode(value, arrays)

    def _send(self, headers: list[dict[str, Any]], arrays: list[np.ndarray]) -> tuple[dict[str, Any], list[np.ndarray]]:
        """One `many` request; a dead or hung worker fails the call it was running."""
        session = self.session
        header, arrays, deferred = session._with_deferred({"op": "many", "calls": headers, "timeout": self.timeout, "heartbeat": HEARTBEAT_S}, arrays)
        if session.deadline.expired:
            raise StudentFailure("timeout", f"{self._subs[0].what} was not run: {session.deadline.describe()}.")
        limit = session.deadline.cap(self.timeout)
        overall = min(session.deadline.at(), time.monotonic() + len(headers) * wall_limit(self.timeout) + GRACE_S)
        session.profile.count("requests")
        session.profile.count("batched-calls", len(headers))
        announced: dict[str, int] = {"at": 0}

        def on_progress(note: Any) -> float | None:
            overdue = note.get("overdue") if isinstance(note, dict) else None
            key, index = ("overdue", overdue) if overdue is not None else ("at", note)
            if is_index(index) and 0 <= index < len(headers):
                announced[key] = index
            # A call overran: its timeout reply follows at once, unless the call hides the timer.
            return time.monotonic() + GRACE_S if key == "overdue" else None

        try:
            # Each call's limit is CPU seconds in the worker; the wall-clock backstop is longer.
            reply, out = session._worker().request(header, arrays, timeout=wall_limit(limit) + HEARTBEAT_S + GRACE_S, on_progress=on_progress, deadline=overall)
        except WorkerFailure as failure:
            session.flag_flood(failure)
            overdue = announced.get("overdue")
            if len(headers) > 1 and self._replayable():
                self._kill()
                raise _Lost(None, overdue) from None
            what = self._subs[overdue].what if overdue is not None else self._blamed(announced["at"])
            raise _Lost(self._worker_failure(failure, what, limit)) from None
        if not reply.get("ok"):
            failed = reply.get("pre_failed")
            if is_index(failed) and 0 <= failed < len(deferred):
                raise _Lost(failure_from_error(reply.get("error"), deferred[failed], out, self.session.config.disk_limit_bytes))
            raise self._malformed(self._subs[0].what)
        return reply, out

    def _replayable(self) -> bool:
        """Whether the calls can be sent again one by one on a fresh worker: they use no
        object made before the batch (its handle dies with the worker)."""
        return not any(isinstance(v, Remote) for sub in self._subs for v in [sub.target, *_refs(sub.args), *_refs(sub.kwargs.values())])

    def _replay(self, count: int, overdue: int | None) -> tuple[list[Any], StudentFailure | None]:
        """The batch's reply was lost (the worker died, hid its timer or forged the reply):
        the calls again, one request each, as the session sends them, so the results before
        the failure and the failure itself are the one-by-one calls'. A call the worker's timer
        named overdue is not run again: it times out under its own name."""
        session = self.session
        made: dict[int, Remote] = {}
        swap = lambda v: made[v.index] if isinstance(v, BatchRef) else [swap(i) for i in v] if isinstance(v, list) else v  # noqa: E731
        results: list[Any] = []
        for index, sub in enumerate(self._subs[: count if overdue is None else overdue]):
            target, args, kwargs = swap(sub.target), [swap(a) for a in sub.args], {k: swap(v) for k, v in sub.kwargs.items()}
            try:
                if sub.op == "call":
                    value = session.call(target, *args, method=sub.method, what=sub.what, keep=sub.keep, return_args=sub.return_args, timeout=self.timeout, **kwargs)
                elif sub.op == "get":
                    value = session.get(target, *sub.attrs)
                elif sub.op == "set":
                    value = session.set(target, **kwargs)
                else:
                    value = session.make_list(args[0])
            except StudentFailure as failure:
                return results, failure
            if isinstance(value, Remote):
                made[index] = value
            results.append(value)
        if overdue is None:
            return results, None
        limit = session.deadline.cap(self.timeout)
        return results, self._worker_failure(WorkerFailure("timeout", "overdue"), self._subs[overdue].what, limit)

    def _blamed(self, announced: int) -> str:
        """The call a worker that died (or blocked its timer) was running, when its timer did
        not name it and the batch cannot be sent again: the first call from the last one it
        announced on (gets and sets rarely run the student's code)."""
        for sub in self._subs[announced:]:
            if sub.op == "call":
                return sub.what
        return self._subs[announced].what

    def _worker_failure(self, failure: WorkerFailure, what: str, limit: float) -> StudentFailure:
        """What `StudentSession._request` makes of a failed request, for the call that was running."""
        return self.session.failure_of(failure, what, limit)

    def _read(self, reply: dict[str, Any], out: list[np.ndarray], count: int) -> tuple[list[Any], StudentFailure | None]:
        """Decode each sub-reply as the single request would; a forged shape is a crash."""
        raw, failed = reply.get("results"), reply.get("failed")
        expected = failed if is_index(failed) and 0 <= failed < count else count
        if not isinstance(raw, list) or len(raw) != expected or ("failed" in reply and expected == count) or not all(isinstance(r, dict) for r in raw):
            raise self._malformed(self._subs[0].what)
        results: list[Any] = []
        for sub, sub_reply in zip(self._subs, raw):
            try:
                results.append(self._result(sub, sub_reply, out))
            except StudentFailure as failure:
                return results, failure
        if expected == count:
            return results, None
        sub = self._subs[expected]
        if reply.get("timeout") is True:
            self._kill()
            return results, self._worker_failure(WorkerFailure("timeout", "overdue"), sub.what, self.session.deadline.cap(self.timeout))
        return results, failure_from_error(reply.get("error"), sub.what, out, self.session.config.disk_limit_bytes)

    def _result(self, sub: _Sub, sub_reply: Any, out: list[np.ndarray]) -> Any:
        session = self.session
        if sub.op == "set":
            return None
        if sub.op == "get":
            found = sub_reply.get("values") if isinstance(sub_reply.get("values"), dict) else {}
            values = tuple(session._decode(found.get(a), out) for a in sub.attrs)
            return values[0] if len(values) == 1 else values
        result = session._decode(sub_reply.get("result"), out)
        if sub.op == "make_list" and not isinstance(result, Remote):
            raise StudentFailure("crash", "building a network got a malformed reply from the student's process.")
        if sub.keep and not isinstance(result, Remote):
            raise StudentFailure("crash", f"{sub.what} did not leave an object in the student's process (malformed reply).")
        if sub.return_args:
            args_back = sub_reply.get("args")
            if not isinstance(args_back, list) or len(args_back) != len(sub.args):
                raise StudentFailure("crash", f"{sub.what} got a malformed reply from the student's process (its arguments did not come back).")
            return result, [session._decode(a, out) for a in args_back]
        return result

    def _malformed(self, what: str) -> _Lost:
        """A reply the worker cannot have written (only student code forges them): sent again
        one by one where possible, else a crash of the first call."""
        self.session.last_failure_code = "crash"
        self._kill()  # a forger's process is not trusted with the next call either
        if len(self._subs) > 1 and self._replayable():
            return _Lost(None)
        return _Lost(StudentFailure("crash", f"{what} {FAILURE_TEXT['protocol'].format(detail='a malformed batch reply')}."))

    def _kill(self) -> None:
        """End the worker as a single call's timeout does: the next request restarts it."""
        worker = self.session.worker
        if worker is not None and worker.process is not None:
            worker.kill()
            try:
                worker.process.wait(timeout=5)
            except Exception:  # noqa: BLE001 - reaped later by close(); alive stays True only if unkillable
                pass


def _refs(values: Any) -> list[Any]:
    """The values, with the items of lists and tuples among them (where BatchRefs may hide)."""
    found: list[Any] = []
    for value in values:
        found += _refs(value) if isinstance(value, (list, tuple)) else [value]
    return found


def _rebased(sub: _Sub, made: list[Any], offset: int) -> _Sub:
    """A call of a batch's tail: objects its head made are now handles, later refs move back."""
    def swap(value: Any) -> Any:
        if isinstance(value, BatchRef):
            return made[value.index] if value.index < offset else BatchRef(value.index - offset)
        return type(value)(swap(v) for v in value) if isinstance(value, (list, tuple)) else value

    return _Sub(sub.op, swap(sub.target), sub.what, tuple(swap(a) for a in sub.args), {k: swap(v) for k, v in sub.kwargs.items()}, sub.method, sub.keep, sub.return_args, sub.attrs)
