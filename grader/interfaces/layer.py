"""The adapter: one form's affine layer seen as the canonical one.

Translation runs in the grader process on plain arrays: a canonical case (X (N, in),
W (in, out), b (out,), G (N, out)) is presented in the student's form (layout, weight
orientation, bias shape, N-D input), and every expected value or mutant the checks compute
canonically is presented the same way, so the student's own arrays are compared untouched
and a wrong shape is seen as the student made it. Calls reach the student's code only
through the sandbox session (`call`, `new`, `set`, `get`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StudentFailure
from ..sandbox.session import MISSING, Remote
from .spec import Interface

__all__ = ["LayerAdapter", "StudentCase", "Grads"]


@dataclass(frozen=True)
class StudentCase:
    """One canonical case in the student's form, plus the numbers the translation needs."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray
    dout: np.ndarray
    n: int
    """Number of examples."""
    label: str
    """How messages name the case, in the form's words."""


@dataclass(frozen=True)
class Grads:
    """What one backward gave, in the student's form, and the arguments as the call left them."""

    dx: Any
    dw: Any
    db: Any
    args_after: dict[str, Any]
    """Role ("x", "w", "b", "dout") -> the caller's array after the call (MISSING when it did not come back)."""


def _split(d: int) -> tuple[int, ...]:
    """An N-D shape for d input features (CS231n flattens (N, d1, ..., dk))."""
    return (2, d // 2) if d % 2 == 0 and d > 2 else (d,)


class LayerAdapter:
    """Present canonical arrays in a form, and call that form's layer in the sandbox."""

    def __init__(self, interface: Interface) -> None:
        self.interface = interface
        self.names = interface.names

    def call_name(self, call: str) -> str:
        """How messages name the forward or backward call: `affine_backward`, `Linear.backward`."""
        name = getattr(self.interface, call)
        return f"{self.interface.class_name}.{name}" if self.interface.form == "class" else name

    # -- translation (canonical -> student form) ---------------------------------------
    def x_of(self, X: np.ndarray) -> np.ndarray:
        if self.interface.examples == "columns":
            return np.ascontiguousarray(X.T)
        if self.interface.nd_input:
            return X.reshape((X.shape[0],) + _split(X.shape[1]))
        return X

    def w_of(self, W: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(W.T) if self.interface.weights == "out_in" else W

    def b_of(self, b: np.ndarray) -> np.ndarray:
        return {"flat": b, "column": b.reshape(-1, 1), "row": b.reshape(1, -1)}[self.interface.bias]

    def rows_of(self, A: np.ndarray) -> np.ndarray:
        """An (N, k) canonical array (out, dout) in the form's layout."""
        return np.ascontiguousarray(A.T) if self.interface.examples == "columns" else A

    def dx_of(self, dX: np.ndarray) -> np.ndarray:
        return self.x_of(dX)

    def scale(self, n: int) -> float:
        """The factor the form's backward puts on parameter gradients (1/N for the mean)."""
        return 1.0 / n if self.interface.reduction == "mean" else 1.0

    def dw_of(self, dW: np.ndarray, n: int) -> np.ndarray:
        return self.w_of(dW) * self.scale(n)

    def db_of(self, db: np.ndarray, n: int) -> np.ndarray:
        return self.b_of(db) * self.scale(n)

    def student_case(self, X: np.ndarray, W: np.ndarray, b: np.ndarray, G: np.ndarray) -> StudentCase:
        n, d = X.shape
        label = f"{self.names.m}={n}, in={d}, out={W.shape[1]}"
        if self.interface.nd_input and self.interface.examples == "rows":
            label += f", {self.names.x} {tuple(self.x_of(X).shape)}"
        return StudentCase(self.x_of(X), self.w_of(W), self.b_of(b), self.rows_of(G), n, label)

    # -- calls in the sandbox ------------------------------------------------------------
    def forward(self, session: Any, case: StudentCase) -> tuple[Any, dict[str, Any]]:
        """The student's forward output and its arguments after the call."""
        iface = self.interface
        if iface.form == "class":
            layer = self._layer(session, case)
            out, (x_after,) = session.call(layer, case.x, method=iface.forward, what=f"{iface.class_name}.{iface.forward}", return_args=True)
            return out, {"x": x_after}
        result, (x_after, w_after, b_after) = session.call(iface.forward, case.x, case.w, case.b, what=iface.forward, return_args=True)
        if iface.forward_returns_cache:
            if not isinstance(result, list) or len(result) != 2:
                raise StudentFailure("interface-changed", f"{iface.forward} returned {_kind(result)}; the assignment's {iface.forward} returns a pair ({self.names.out}, cache).")
            result = result[0]
        return result, {"x": x_after, "w": w_after, "b": b_after}

    def backward(self, session: Any, case: StudentCase, learning_rate: float = 0.05) -> Grads:
        """The student's gradients for `case` (each function on its own: the grader builds the cache)."""
        iface = self.interface
        if iface.form == "class":
            return self._class_backward(session, case, learning_rate)
        parts = {"x": case.x, "w": case.w, "b": case.b}
        cache = tuple(parts[role] for role in iface.cache)
        result, (dout_after, cache_after) = session.call(iface.backward, case.dout, cache, what=iface.backward, return_args=True)
        expected = iface.backward_returns
        if not isinstance(result, list) or len(result) != len(expected):
            raise StudentFailure("interface-changed", f"{iface.backward} returned {_kind(result)}; the assignment's {iface.backward} returns ({', '.join(getattr(self.names, r) for r in expected)}).")
        got = dict(zip(expected, result))
        after = dict(zip(iface.cache, cache_after if isinstance(cache_after, list) else [MISSING] * len(iface.cache)))
        after["dout"] = dout_after
        return Grads(got.get("dx", MISSING), got.get("dw", MISSING), got.get("db", MISSING), after)

    def _layer(self, session: Any, case: StudentCase, learning_rate: float = 0.05) -> Remote:
        """A fresh student layer holding exactly case.w and case.b."""
        iface = self.interface
        n_in, n_out = (case.w.shape[1], case.w.shape[0]) if iface.weights == "out_in" else case.w.shape
        values = {"in": n_in, "out": n_out, "W": case.w.copy(), "b": case.b.copy(), "lr": learning_rate}
        try:
            layer = session.new(iface.class_name, *[values[role] for role in iface.constructor])
        except StudentFailure as failure:
            if failure.error_type == "TypeError" and "argument" in failure.message:
                raise StudentFailure("interface-changed", f"{failure.message} The assignment's constructor is {iface.class_name}({', '.join(iface.constructor)}).", failure.traceback) from None
            raise
        session.set(layer, defer=True, **{iface.weight_attr: case.w.copy(), iface.bias_attr: case.b.copy()})
        return layer

    def _class_backward(self, session: Any, case: StudentCase, learning_rate: float) -> Grads:
        iface = self.interface
        layer = self._layer(session, case, learning_rate)
        what = f"{iface.class_name}.{iface.backward}"
        if iface.backward_takes_input:
            dx, (x_after, dout_after) = session.call(layer, case.x, case.dout, method=iface.backward, what=what, return_args=True)
        else:
            session.call(layer, case.x, method=iface.forward, what=f"{iface.class_name}.{iface.forward}", keep=True)
            dx, (dout_after,) = session.call(layer, case.dout, method=iface.backward, what=what, return_args=True)
            x_after = MISSING
        if iface.gradients == "attributes":
            dw, db = session.get(layer, iface.grad_weight_attr, iface.grad_bias_attr)
        else:  # sgd_step: the gradient is what the step moved, divided by the learning rate
            new_w, new_b = session.get(layer, iface.weight_attr, iface.bias_attr)
            dw, db = (_step(new, old, learning_rate) for new, old in ((new_w, case.w), (new_b, case.b)))
        return Grads(dx, dw, db, {"x": x_after, "dout": dout_after})


def _step(new: Any, old: np.ndarray, learning_rate: float) -> Any:
    if not isinstance(new, np.ndarray) or new.dtype.kind not in "biuf" or new.shape != old.shape:
        return new
    return (old - new.astype(np.float64)) / learning_rate


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"one array of shape {tuple(value.shape)}"
    if isinstance(value, list):
        return f"{len(value)} values"
    return "None" if value is None else f"a {type(value).__name__}"
