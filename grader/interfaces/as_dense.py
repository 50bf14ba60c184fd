"""A functional form's layer seen as the classic `Dense` class, for the timing race.

The timing benchmark (grader/checks/timing.py, grader/timing/) races a `Dense(in, out,
learning_rate)` with `forward(input)` and `backward(input, grad_output)` applying SGD, and
verifies the timed outputs canonically. For a form of functions with a cache, this module
writes that class as source over the form's own functions (translating layout, orientation,
bias shape and the cache) and it is defined in both the student's worker and the reference's
twin, so the race compares the student's functions with the reference's through the same
wrapper, and the wrapper's own cost (views, one reshape) is on both sides. The wrapper
sums over the batch whatever the form's reduction (a mean is multiplied back by N), since
the race checks the timed outputs in that convention.
"""

from __future__ import annotations

from .spec import Interface

__all__ = ["dense_wrapper_source", "WRAPPER_CLASS"]

WRAPPER_CLASS = "Dense"


def dense_wrapper_source(iface: Interface) -> str:
    """Python source of `class Dense` calling the form's forward and backward functions."""
    cols = iface.examples == "columns"
    t = ".T" if cols else ""
    wt = ".T" if iface.weights == "out_in" else ""
    bias = {"flat": "self.biases", "column": "self.biases.reshape(-1, 1)", "row": "self.biases.reshape(1, -1)"}[iface.bias]
    roles = {"x": "x", "w": "w", "b": "b"}
    cache = "(" + ", ".join(roles[r] for r in iface.cache) + ("," if len(iface.cache) == 1 else "") + ")"
    returns = ", ".join(f"_grader_{r}" for r in iface.backward_returns)
    first = "[0]" if iface.forward_returns_cache else ""
    per_example = " * input.shape[0]" if iface.reduction == "mean" else ""  # the race's contract is the sum
    return f'''
import numpy as _grader_np


class {WRAPPER_CLASS}:
    """The grader's wrapper: {iface.forward}/{iface.backward} as a layer with an SGD step (timing only)."""

    def __init__(self, input_units, output_units, learning_rate=0.1):
        self.learning_rate = learning_rate
        self.weights = _grader_np.random.randn(input_units, output_units) * 0.01
        self.biases = _grader_np.zeros(output_units)

    def forward(self, input):
        return {iface.forward}(input{t}, self.weights{wt}, {bias}){first}{t}

    def backward(self, input, grad_output):
        x, w, b = input{t}, self.weights{wt}, {bias}
        {returns}{"," if len(iface.backward_returns) == 1 else ""} = {iface.backward}(grad_output{t}, {cache})
        grad_input = _grader_dx{t}
        self.weights = self.weights - self.learning_rate * _grader_dw{wt}{per_example}
        self.biases = self.biases - self.learning_rate * _grader_db.reshape(self.biases.shape){per_example}
        return grad_input
'''
