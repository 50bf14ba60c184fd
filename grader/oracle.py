"""Where the checks get their expected values: the reference solution, or stored answers.

Checks call `ref.dense_forward(X, W, b)` (and the other functions of the reference). `ref`
is a proxy to the oracle the engine activates around each check:
- `ReferenceOracle`: the rubric's reference file (the instructor's `grade`);
- `RecordingOracle`: the same, remembering every call and its answer (`grade release`);
- `StoredOracle`: answers replayed from a student bundle's plain data (`grade check`,
  `check()`), so the public checks and their mutant diagnosis run without the solution.
A stored oracle matches a call by its function and its arguments (the same seeded inputs);
a call it has no answer for is a grader bug of the release, never the student's fault.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterator

import numpy as np

from .errors import GraderBug
from .submission import Cell, Submission

__all__ = ["ref", "active_oracle", "ReferenceOracle", "RecordingOracle", "StoredOracle", "reference_submission", "encode", "decode"]

_ACTIVE: ContextVar[Any] = ContextVar("grader_oracle", default=None)

NETWORK_ALIASES = '''
if "forward" not in globals() and "network_forward" in globals():
    forward = network_forward
if "train" not in globals() and "train_step" in globals():
    train = train_step
'''
"""Lets the reference file run as a submission of the notebook's interface (forward, train)."""


class _Proxy:
    """`ref.name` is the active oracle's `name`: one accessor for every check module."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        oracle = _ACTIVE.get()
        if oracle is None:
            raise GraderBug(f"ref.{name} used outside a grading run (no oracle active)")
        return oracle.function(name)


ref = _Proxy()


@contextmanager
def active_oracle(oracle: Any) -> Iterator[None]:
    """Make `oracle` answer `ref.*` calls inside the block."""
    token = _ACTIVE.set(oracle)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


class ReferenceOracle:
    """The rubric's reference file, loaded on first use (reference-free checks never load it)."""

    def __init__(self, assignment: Any) -> None:
        self.assignment = assignment
        self._module: Any = None

    def function(self, name: str) -> Callable[..., Any]:
        if self._module is None:
            from .assignment import load_reference

            self._module = load_reference(self.assignment)
        return getattr(self._module, name)


class RecordingOracle(ReferenceOracle):
    """The reference, keeping every call (function, arguments, answer) as plain data."""

    def __init__(self, assignment: Any) -> None:
        super().__init__(assignment)
        self.records: dict[str, dict[str, Any]] = {}

    def function(self, name: str) -> Callable[..., Any]:
        inner = super().function(name)

        def recorded(*args: Any) -> Any:
            result = inner(*args)
            record = {"function": name, "args": [encode(a) for a in args], "result": encode(result)}
            self.records.setdefault(_key(name, args), record)
            return result

        return recorded


class StoredOracle:
    """Answers replayed from recorded calls; no reference code involved."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.answers = {_key(r["function"], [decode(a) for a in r["args"]]): r["result"] for r in records}

    def function(self, name: str) -> Callable[..., Any]:
        def stored(*args: Any) -> Any:
            found = self.answers.get(_key(name, args))
            if found is None:
                raise GraderBug(f"the public-check bundle has no answer for {name} on these inputs: re-run `grade release` with this grader version")
            return decode(found)

        return stored


def _key(name: str, args: Any) -> str:
    """Exact identity of a call: the function and its arguments' dtype, shape and bytes."""
    digest = hashlib.sha256(name.encode())
    for arg in args:
        if isinstance(arg, np.ndarray) or isinstance(arg, (float, np.floating)) and not isinstance(arg, bool):
            array = np.ascontiguousarray(arg, dtype=np.float64)
            digest.update(f"|a{array.shape}|".encode() + array.tobytes())
        else:
            digest.update(f"|{type(arg).__name__}:{arg!r}|".encode())
    return digest.hexdigest()


def encode(value: Any) -> Any:
    """Plain JSON: an array as {shape, dtype, data} (floats round-trip exactly), else the value."""
    if isinstance(value, np.ndarray):
        return {"shape": list(value.shape), "dtype": value.dtype.str, "data": value.ravel().tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise GraderBug(f"cannot store a {type(value).__name__} in a public-check bundle")


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        return np.asarray(value["data"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    return value


def reference_submission(assignment: Any) -> Submission:
    """The rubric's reference file as a submission (timing's twin worker, `grade release`)."""
    from .assignment import load_reference

    load_reference(assignment)  # one clear sentence when the file is missing
    path = assignment.reference
    source = path.read_text()
    digest = hashlib.sha256(source.encode()).hexdigest()
    cells = [Cell(1, source, "reference"), Cell(2, NETWORK_ALIASES, "reference aliases")]
    interface = getattr(assignment, "interface", None)
    if interface is not None and interface.form == "functions":  # the timing race's Dense over the form's functions
        from .interfaces.as_dense import dense_wrapper_source

        cells.append(Cell(3, dense_wrapper_source(interface), "timing wrapper"))
    return Submission(path, tuple(cells), digest)
