"""The sandbox worker: the only process where student code runs.

Started as `python -I worker.py REQUEST_FD REPLY_FD` (or forked from a warm server). It
depends on numpy, the standard library and `protocol.py` beside it, nothing of the
grader, so the grader's modules and data are never loaded into the process student code
shares. It reads one request at a time, runs it, and answers with plain data: numeric
arrays, scalars, handles to objects it keeps, or an error record with the student's
traceback trimmed to the student's own lines.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import os
import sys
import traceback
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import cpu_timer  # noqa: E402
import protocol  # noqa: E402

CELL_PREFIX = "<submission "
MAX_STATEMENTS = protocol.MAX_STATEMENTS
MAX_DETAILED_ERRORS = 100
"""Error records per cell that carry a message and traceback; later ones only their status (the reply stays small)."""
EXTRA_OP_MODULES = ("ops_timing", "ops_plan", "ops_learning", "ops_many")
"""Sibling modules that add requests: each defines OPS = {name: fn(worker, request, arrays) -> reply}."""
PARSED_BUDGET = 200_000
"""Characters of cell source whose tree the plan op keeps for exec_cell (a cell is parsed once,
not twice); bounded because the trees stay in memory while student code runs."""


class StatementTimeout(BaseException):
    """Raised by the soft per-statement timer (CPU seconds, see cpu_timer.py); the parent's
    hard timeout backs it up."""


class _NoIPython:
    """Stand-in for get_ipython() in notebooks exported as .py: every call does nothing."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


def _on_alarm(signum: int, frame: Any) -> None:
    raise StatementTimeout()


def error_record(exc: BaseException, arrays: list[np.ndarray] | None = None) -> dict[str, Any]:
    """Describe an exception with the traceback kept to the submission's own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(CELL_PREFIX)]
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(CELL_PREFIX):
        where, line = exc.filename.strip("<>")[len("submission "):], exc.lineno
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        where = frames[-1].filename.strip("<>")[len("submission "):] if frames else ""
        line = frames[-1].lineno if frames else None
        lines = ["Traceback (student code, most recent call last):\n"]
        lines += traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    text = "".join(lines)
    return {
        "locals": _local_arrays(exc, arrays) if arrays is not None else {},
        "type": type(exc).__name__,
        "message": str(exc)[:500],
        "traceback": text[-4000:],
        "where": where,
        "line": line,
    }


def _local_arrays(exc: BaseException, arrays: list[np.ndarray]) -> dict[str, Any]:
    """Small numeric arrays of the innermost student frame, e.g. the grad_biases that failed a shape assert."""
    tb, frame = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(CELL_PREFIX):
            frame = tb.tb_frame
        tb = tb.tb_next
    if frame is None:
        return {}
    found = {}
    for name, value in list(frame.f_locals.items())[:50]:
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= 100_000 and len(found) < 16:
            found[str(name)[:40]] = protocol.encode_value(np.array(value), arrays)
    return found


_UNSET = object()


class Worker:
    """State of one submission: its namespace and the objects the grader holds handles to."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "get_ipython": _NoIPython,
        }
        self.objects: dict[int, Any] = {}
        self.reply_fd = -1
        self.parsed: dict[str, ast.Module] = {}
        """Cell source -> its tree, left by the plan op for the cell's exec_cell (which takes it)."""
        self.parsed_chars = 0

    def remember_tree(self, source: str, tree: ast.Module) -> None:
        """Keep a cell's tree for its exec_cell, within PARSED_BUDGET."""
        if source not in self.parsed and self.parsed_chars + len(source) <= PARSED_BUDGET:
            self.parsed[source] = tree
            self.parsed_chars += len(source)

    # -- handles -----------------------------------------------------------------------
    def handle_of(self, obj: Any) -> protocol.Handle:
        handle = len(self.objects) + 1
        self.objects[handle] = obj
        return protocol.Handle(handle)

    def resolve(self, handle: int) -> Any:
        if handle not in self.objects:
            raise KeyError(f"unknown handle {handle}")
        return self.objects[handle]

    def decode(self, encoded: Any, arrays: list[np.ndarray]) -> Any:
        # Fresh, writeable copies: student code may keep or mutate what it receives.
        value = protocol.decode_value(encoded, arrays, self.resolve)
        return value.copy() if isinstance(value, np.ndarray) else value

    def encode_result(self, value: Any, arrays: list[np.ndarray]) -> dict[str, Any]:
        """Numbers and arrays travel; lists of arrays travel item by item; the rest is opaque."""
        if hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):
            value = value.get()
        if isinstance(value, (list, tuple)) and value and not all(isinstance(v, (int, float)) for v in value):
            return {"t": "l", "items": [self.encode_result(v, arrays) for v in value]}
        if isinstance(value, (list, tuple)) and value:
            value = np.asarray(value)
        return protocol.encode_value(value, arrays)

    # -- requests ----------------------------------------------------------------------
    def op_exec_cell(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        label, source = str(req["label"]), str(req["source"])
        filename = f"{CELL_PREFIX}{label}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        skip = set(req.get("skip", []))
        timeout = float(req.get("timeout", 5.0))
        stop = req.get("stop_at")
        results = []
        for index, (line, chunk) in enumerate(self.statements(source, filename, self.parsed.pop(source, None))):
            if isinstance(stop, int) and index >= stop:
                break  # the grader gave up replaying from this statement on
            if index in skip:
                continue
            protocol.write_message(self.reply_fd, {"progress": index})
            before = dict(self.namespace)
            result = self.run_statement(chunk, timeout)
            if result["status"] == "ok":
                binds = self.bound_since(before)
                if binds:  # where each class/function was defined (redefinitions)
                    results.append({"stmt": index, "line": line, "status": "ok", "binds": binds})
                continue  # otherwise only what went wrong travels back
            if len(results) >= MAX_DETAILED_ERRORS:
                result.pop("error", None)
            results.append(dict(result, stmt=index, line=line))
        return {"statements": results}

    def bound_since(self, before: dict[str, Any]) -> list[str]:
        """Top-level classes and functions a statement (re)bound: the grader tells a later
        redefinition of a graded name (an L2 `class Dense(Dense)`) from the first one."""
        import types

        return [
            str(name)[:80] for name, value in list(self.namespace.items())
            if before.get(name, _UNSET) is not value and isinstance(value, (type, types.FunctionType)) and not str(name).startswith("__")
        ][:20]

    @staticmethod
    def statements(source: str, filename: str, tree: ast.Module | None = None) -> list[tuple[int, Any]]:
        """Top-level statements as (first line, code object or SyntaxError); `tree`: the
        source's own parse, when the plan already made it.

        A cell that does not parse is split at its top-level lines, so one unfinished
        line loses only the statement it belongs to.
        """
        if tree is None:
            try:
                tree = ast.parse(source, filename)
            except SyntaxError:
                return Worker._chunks_by_top_level_lines(source, filename)
            except (ValueError, RecursionError, MemoryError) as exc:
                return [(1, SyntaxError(f"cannot parse: {type(exc).__name__}", (filename, 1, 0, "")))]
        body = tree.body
        units = [body[i : i + 1] for i in range(min(len(body), MAX_STATEMENTS - 1))]
        if len(body) >= MAX_STATEMENTS:
            units.append(body[MAX_STATEMENTS - 1 :])
        return [(unit[0].lineno, compile(ast.Module(body=unit, type_ignores=[]), filename, "exec")) for unit in units]

    @staticmethod
    def top_level_chunks(source: str) -> list[tuple[int, str]]:
        """A cell that does not parse, cut at its top-level lines: (first line index, the chunk's
        source). Decorators stay with their definition. Callers shift line numbers by the index
        (padding every chunk with newlines was quadratic: 40k blank lines took 69 s)."""
        lines = source.splitlines(True)
        starts = [
            i for i, text in enumerate(lines)
            if text.strip() and not text[0].isspace() and not text.startswith(("#", ")", "]", "}", "else", "elif", "except", "finally"))
        ]
        merged: list[int] = []
        for start in starts:  # keep decorators with the definition below them
            if merged and lines[merged[-1]].startswith("@"):
                continue
            merged.append(start)
        merged = merged[:MAX_STATEMENTS]
        return [(begin, "".join(lines[begin:end])) for begin, end in zip(merged, merged[1:] + [len(lines)])]

    @staticmethod
    def _chunks_by_top_level_lines(source: str, filename: str) -> list[tuple[int, Any]]:
        chunks = []
        for begin, text in Worker.top_level_chunks(source):
            try:
                tree = compile(text, filename, "exec", ast.PyCF_ONLY_AST)
                chunks.append((begin + 1, compile(ast.increment_lineno(tree, begin), filename, "exec")))
            except SyntaxError as exc:
                exc.lineno = (exc.lineno or 1) + begin
                if getattr(exc, "end_lineno", None):
                    exc.end_lineno += begin
                chunks.append((begin + 1, exc))
            except (ValueError, RecursionError, MemoryError) as exc:
                chunks.append((begin + 1, SyntaxError(f"cannot parse: {type(exc).__name__}", (filename, begin + 1, 0, ""))))
        return chunks

    def run_statement(self, code: Any, timeout: float) -> dict[str, Any]:
        if isinstance(code, SyntaxError):
            return {"status": "syntax-error", "error": error_record(code)}
        cpu_timer.install(_on_alarm)
        cpu_timer.start(timeout)
        try:
            exec(code, self.namespace)
        except StatementTimeout:
            return {"status": "timeout"}
        except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the statement failed
            return {"status": "error", "error": error_record(exc)}
        finally:
            cpu_timer.stop()
        return {"status": "ok"}

    def op_describe(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        """What each graded name is: absent, a class (with its methods), a function, other."""
        import inspect

        found = {}
        for name in req["names"]:
            obj = self.namespace.get(name)
            if obj is None:
                found[name] = {"kind": "missing"}
                continue
            entry: dict[str, Any] = {"kind": "class" if isinstance(obj, type) else "function" if callable(obj) else "other"}
            try:
                entry["signature"] = str(inspect.signature(obj))
            except (TypeError, ValueError):
                entry["signature"] = None
            if isinstance(obj, type):
                entry["methods"] = {
                    m: str(inspect.signature(getattr(obj, m))) for m in dir(obj)
                    if not m.startswith("__") and callable(getattr(obj, m, None))
                }
            found[name] = entry
        return {"names": found}

    def target(self, req: dict[str, Any]) -> Any:
        if "handle" in req:
            obj = self.resolve(int(req["handle"]))
        else:
            name = str(req["name"])
            if name not in self.namespace:
                raise NameError(f"name {name!r} is not defined in the submission")
            obj = self.namespace[name]
        return getattr(obj, str(req["method"])) if req.get("method") else obj

    def op_call(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        """Call a name, a method of a held object, and return the result (or a new handle)."""
        args = [self.decode(a, arrays) for a in req.get("args", [])]
        kwargs = {str(k): self.decode(v, arrays) for k, v in req.get("kwargs", {}).items()}
        func = self.target(req)
        result = func(*args, **kwargs)
        out: list[np.ndarray] = []
        reply: dict[str, Any] = {}
        if req.get("keep"):
            reply["result"] = {"t": "h", "h": int(self.handle_of(result))}
        else:
            reply["result"] = self.encode_result(result, out)
        if req.get("return_args"):
            reply["args"] = [self.encode_result(a, out) for a in args]
        return dict(reply, _arrays=out)

    def op_get(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        obj = self.resolve(int(req["handle"]))
        out: list[np.ndarray] = []
        values = {}
        for attr in req["attrs"]:
            values[attr] = self.encode_result(getattr(obj, attr), out) if hasattr(obj, attr) else {"t": "missing"}
        return {"values": values, "_arrays": out}

    def op_set(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        obj = self.resolve(int(req["handle"]))
        for attr, encoded in req["values"].items():
            setattr(obj, attr, self.decode(encoded, arrays))
        return {}

    def op_make_list(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        items = [self.resolve(int(h)) for h in req["handles"]]
        return {"result": {"t": "h", "h": int(self.handle_of(items))}}

    def op_stats(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        """CPU seconds this worker (and what it started and reaped) used, for the grader's profile."""
        t = os.times()
        return {"cpu": t.user + t.system + t.children_user + t.children_system}

    def op_seed(self, req: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
        np.random.seed(int(req["seed"]) % 2**32)
        return {}

    def run_pre(self, req: dict[str, Any], arrays: list[np.ndarray]) -> tuple[int, BaseException] | None:
        """Assignments sent ahead of a request (the grader's deferred `set`s), in order; the
        first that raises stops the request: (its index, the exception)."""
        pre = req.get("pre") or []
        if not isinstance(pre, list):
            raise protocol.ProtocolError("bad pre list")
        for index, item in enumerate(pre):
            try:
                self.op_set(item, arrays)
            except protocol.ProtocolError:
                raise
            except BaseException as exc:  # the student's setter raised
                return index, exc
        return None

    def serve(self, request_fd: int, reply_fd: int) -> None:
        self.reply_fd = reply_fd
        stream = os.fdopen(request_fd, "rb", buffering=1 << 16)
        ops = {name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")}
        for module_name in EXTRA_OP_MODULES:
            try:
                module = __import__(module_name)
            except ModuleNotFoundError:
                continue
            ops.update({name: (lambda req, arrays, fn=fn: fn(self, req, arrays)) for name, fn in module.OPS.items()})
        protocol.write_message(reply_fd, {"ready": True, "pid": os.getpid()})
        while True:
            try:
                req, arrays = protocol.read_message(stream)
            except EOFError:
                return
            op = ops.get(str(req.get("op")))
            try:
                if op is None:
                    raise protocol.ProtocolError(f"unknown op {req.get('op')!r}")
                failed_pre = self.run_pre(req, arrays)
                if failed_pre is not None:
                    index, exc = failed_pre
                    out = []
                    protocol.write_message(reply_fd, {"ok": False, "pre_failed": index, "error": error_record(exc, out)}, out)
                    continue
                reply = op(req, arrays)
                out = reply.pop("_arrays", [])
                reply["ok"] = True
            except protocol.ProtocolError as exc:
                reply, out = {"ok": False, "protocol_error": str(exc)}, []
            except BaseException as exc:  # the student's code raised (or exited) during the request
                out = []
                reply = {"ok": False, "error": error_record(exc, out)}
            try:
                protocol.write_message(reply_fd, reply, out)
            except (ValueError, TypeError) as exc:  # e.g. a result JSON cannot encode
                protocol.write_message(reply_fd, {"ok": False, "protocol_error": f"unencodable reply: {exc}"})


def main() -> None:
    request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    Worker().serve(request_fd, reply_fd)
    os._exit(0)


if __name__ == "__main__":
    main()
