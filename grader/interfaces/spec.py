"""The `[interface]` table of assignment.toml: how one form of the homework is called.

The checks are written once against a canonical affine layer: rows as examples, X (N, in),
W (in, out), b (out,), the batch summed (dW = XᵀG, db = ΣₙGₙ). An `Interface` says how a
form differs from that (layout, weight orientation, bias shape, reduction, where the
parameter gradients come from, the names of everything), so a course's own variant is a few
lines of TOML. Every key is declared once here with its type, default and meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import InputError

__all__ = ["Interface", "Names", "interface_from_toml", "CHOICES"]


@dataclass(frozen=True)
class Names:
    """How the form names the layer's arrays (messages and fixes use these words)."""

    x: str = "x"
    """The layer's input."""
    w: str = "w"
    """The weights."""
    b: str = "b"
    """The biases."""
    dout: str = "dout"
    """The upstream gradient handed to backward."""
    out: str = "out"
    """forward's output."""
    dx: str = "dx"
    """The gradient with respect to the input."""
    dw: str = "dw"
    """The weight gradient."""
    db: str = "db"
    """The bias gradient."""
    m: str = "N"
    """The number of examples, as the course writes it (N or m)."""


@dataclass(frozen=True)
class Interface:
    """One form of the affine layer, as the course's starter code defines it."""

    form: str = "functions"
    """"functions": forward(x, w, b) -> (out, cache), backward(dout, cache) -> grads; "class": a layer object."""
    examples: str = "rows"
    """"rows": x is (N, in); "columns": x is (in, N) (deeplearning.ai)."""
    weights: str = "in_out"
    """"in_out": W is (in, out); "out_in": W is (out, in)."""
    bias: str = "flat"
    """"flat": b is (out,); "column": b is (out, 1); "row": b is (1, out)."""
    reduction: str = "sum"
    """"sum": backward sums over the batch; "mean": it divides by the number of examples."""
    gradients: str = "returned"
    """"returned" by backward; "attributes" stored on the layer; "sgd_step": applied to W and b (read as ΔW/lr)."""
    forward: str = "forward"
    """Name of the forward function (form "functions") or method (form "class")."""
    backward: str = "backward"
    """Name of the backward function or method."""
    forward_returns_cache: bool = True
    """(functions) forward returns (out, cache) rather than out."""
    cache: tuple[str, ...] = ("x", "w", "b")
    """(functions) what the cache holds, in order; the grader builds it for backward (each function graded on its own)."""
    backward_returns: tuple[str, ...] = ("dx", "dw", "db")
    """(functions) what backward returns, in order; (class) ("dx",) when backward returns the input gradient."""
    nd_input: bool = False
    """x may have shape (N, d1, ..., dk), flattened by forward; dx keeps x's shape (CS231n)."""
    class_name: str = ""
    """(class) the layer's class."""
    constructor: tuple[str, ...] = ("in", "out")
    """(class) positional constructor arguments: any of "in", "out", "W", "b", "lr"."""
    weight_attr: str = "W"
    """(class) attribute holding the weights."""
    bias_attr: str = "b"
    """(class) attribute holding the biases."""
    grad_weight_attr: str = "dW"
    """(class, gradients "attributes") attribute backward stores the weight gradient in."""
    grad_bias_attr: str = "db"
    """(class, gradients "attributes") attribute backward stores the bias gradient in."""
    backward_takes_input: bool = False
    """(class) backward(x, dout) rather than backward(dout) (HSE's Dense)."""
    names: Names = field(default_factory=Names)
    """The form's words for its arrays."""

    @property
    def functions(self) -> tuple[str, ...]:
        """The student's names the layer checks call."""
        return (self.class_name,) if self.form == "class" else (self.forward, self.backward)


CHOICES: dict[str, tuple[str, ...]] = {
    "form": ("functions", "class"),
    "examples": ("rows", "columns"),
    "weights": ("in_out", "out_in"),
    "bias": ("flat", "column", "row"),
    "reduction": ("sum", "mean"),
    "gradients": ("returned", "attributes", "sgd_step"),
}
ROLES = ("in", "out", "W", "b", "lr")


def _declared(cls: type, data: dict[str, Any], where: str) -> None:
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(known))}.")


def interface_from_toml(data: dict[str, Any], where: str) -> Interface:
    """The `[interface]` table as an Interface; a wrong key or value is one sentence."""
    data = dict(data)
    _declared(Interface, data, f"{where} [interface]")
    names = data.pop("names", {})
    _declared(Names, names, f"{where} [interface.names]")
    for key, allowed in CHOICES.items():
        if key in data and data[key] not in allowed:
            raise InputError(f"{where} [interface]: {key} must be one of {', '.join(allowed)}, not {data[key]!r}.")
    for key in ("cache", "backward_returns", "constructor"):
        if key in data:
            data[key] = tuple(data[key])
    if any(role not in ROLES for role in data.get("constructor", ())):
        raise InputError(f"{where} [interface]: constructor arguments must be among {', '.join(ROLES)}.")
    interface = Interface(**data, names=Names(**names))
    if interface.form == "class" and not interface.class_name:
        raise InputError(f"{where} [interface]: a class form needs class_name.")
    return interface
