"""Several ordinary requests in one round trip (loaded through worker.EXTRA_OP_MODULES).

Why: each request/reply round trip wakes both processes (~100 us of CPU here) and the
checks make hundreds of independent calls per grading (finite differences, per-sample
backward passes). `many` runs a list of `call`/`get`/`set` sub-requests in order, each
with its own deferred `pre` sets, and replies with one result per sub-request; it stops at
the first that raises and sends the results so far plus that one's error record, so the
grader raises exactly the failure the single request would have raised.

A sub-request may name the object kept by an earlier one of the same batch (a `keep` call
or a `make_list`) as `{"ref": k}`: as its target, an argument's handle or a list item (e.g.
`new` then `call`), so a fresh layer, its parameters, its backward and the read-back
travel together.

Per-call time limit: each sub-request runs under a soft timer of `timeout` CPU seconds
(with its wall-clock backstop, cpu_timer.py); when it fires the handler announces the index
(`{"progress": {"overdue": k}}`) before raising, so a call that swallows the exception is still named when the grader's hard timeout kills
the worker. A heartbeat (`{"progress": k}`) goes out when a sub-request starts more than
`heartbeat` seconds after the last message, so a long batch of quick calls never looks hung.

Depends on numpy and the standard library (and the worker object it is given).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

import cpu_timer
import protocol

__all__ = ["OPS", "MAX_CALLS"]

MAX_CALLS = 512
"""Sub-requests per batch (the grader sends far fewer); more is a protocol error."""
_SUB_OPS = ("call", "get", "set", "make_list")


class _CallTimeout(BaseException):
    """The soft per-call timer fired (a BaseException: `except Exception` does not hide it)."""


def _resolved(sub: dict[str, Any], kept: dict[int, int]) -> dict[str, Any]:
    """The sub-request with each `{"ref": k}` (its target, a handle among its arguments or in
    a list it builds) replaced by the handle sub-request k kept."""
    sub = dict(sub)
    if isinstance(sub.get("handle"), dict):
        sub["handle"] = _handle(sub["handle"], kept)
    if isinstance(sub.get("handles"), list):
        sub["handles"] = [_handle(h, kept) if isinstance(h, dict) else h for h in sub["handles"]]
    for key in ("args", "kwargs", "pre"):
        if key in sub:
            sub[key] = _in_values(sub[key], kept)
    return sub


def _handle(ref: dict[str, Any], kept: dict[int, int]) -> int:
    index = ref.get("ref")
    if not isinstance(index, int) or index not in kept:
        raise protocol.ProtocolError(f"bad reference {index!r} in a batch")
    return kept[index]


def _in_values(value: Any, kept: dict[int, int]) -> Any:
    if isinstance(value, dict):
        if value.get("t") == "h" and isinstance(value.get("h"), dict):
            return dict(value, h=_handle(value["h"], kept))
        return {k: _in_values(v, kept) for k, v in value.items()}
    if isinstance(value, list):
        return [_in_values(v, kept) for v in value]
    return value


def op_many(worker: Any, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    """Run the sub-requests in order; stop at the first that raises or overruns its limit."""
    calls, timeout, heartbeat = req.get("calls"), req.get("timeout"), req.get("heartbeat", 1.0)
    if not isinstance(calls, list) or len(calls) > MAX_CALLS or not all(isinstance(c, dict) and c.get("op") in _SUB_OPS for c in calls):
        raise protocol.ProtocolError("bad batch")
    if not all(isinstance(t, (int, float)) and 0 < t < 1e6 for t in (timeout, heartbeat)):
        raise protocol.ProtocolError("bad batch timeout")
    ops = {"call": worker.op_call, "get": worker.op_get, "set": worker.op_set, "make_list": worker.op_make_list}
    results: list[dict[str, Any]] = []
    out: list[np.ndarray] = []
    kept: dict[int, int] = {}
    current = [0]

    def overdue(signum: int, frame: Any) -> None:
        protocol.write_message(worker.reply_fd, {"progress": {"overdue": current[0]}})
        raise _CallTimeout()

    previous = cpu_timer.install(overdue)
    last_message = time.monotonic()
    try:
        for index, sub in enumerate(calls):
            current[0] = index
            sub = _resolved(sub, kept)
            if time.monotonic() - last_message > heartbeat:
                protocol.write_message(worker.reply_fd, {"progress": index})
                last_message = time.monotonic()
            cpu_timer.start(float(timeout))
            try:
                failed_pre = worker.run_pre(sub, arrays)
                if failed_pre is not None:
                    pre_index, exc = failed_pre
                    return {"results": results, "failed": index, "pre_failed": pre_index, "error": worker_error(worker, exc, out), "_arrays": out}
                reply = ops[sub["op"]](sub, arrays)
            except _CallTimeout:
                return {"results": results, "failed": index, "timeout": True, "_arrays": out}
            except protocol.ProtocolError:
                raise
            except BaseException as exc:  # the student's code raised (or exited) in this call
                return {"results": results, "failed": index, "error": worker_error(worker, exc, out), "_arrays": out}
            finally:
                cpu_timer.stop()
            results.append(_shifted(reply, out))
            result = reply.get("result")
            if (sub.get("keep") or sub["op"] == "make_list") and isinstance(result, dict) and result.get("t") == "h":
                kept[index] = int(result["h"])
    finally:
        cpu_timer.restore(previous)
    return {"results": results, "_arrays": out}


def worker_error(worker: Any, exc: BaseException, out: list[np.ndarray]) -> dict[str, Any]:
    """The worker's own error record (student frames only, local arrays), as a single request
    gets; its module is `__main__` (a fresh interpreter) or `worker` (the fork server)."""
    return sys.modules[type(worker).__module__].error_record(exc, out)


def _shifted(reply: dict[str, Any], out: list[np.ndarray]) -> dict[str, Any]:
    """A sub-reply whose arrays join the batch's: indices move by what is already there."""
    own = reply.pop("_arrays", [])
    offset = len(out)
    out.extend(own)
    return {k: _shift(v, offset) for k, v in reply.items()} if offset else reply


def _shift(value: Any, offset: int) -> Any:
    if isinstance(value, dict):
        if value.get("t") == "a" and isinstance(value.get("i"), int):
            return dict(value, i=value["i"] + offset)
        return {k: _shift(v, offset) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, offset) for v in value]
    return value


OPS = {"many": op_many}
