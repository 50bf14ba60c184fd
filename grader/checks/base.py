"""What every check gets (`CheckContext`) and returns (`Outcome`), plus shared steps.

Checks run in the grader process and talk to the student's code only through
`ctx.session`. They compute expected values through `grader.oracle.ref` (the reference, or a student
bundle's stored answers) with fresh seeded float64 data, and they never trust anything the student's code prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..assignment import Assignment, CheckSpec
from ..compare import Comparison, compare, kept_eps
from ..diagnose import match_mutants
from ..errors import StudentFailure
from ..sandbox.session import MISSING, Remote, StudentSession

__all__ = ["CheckContext", "Outcome", "DenseCase", "require_class", "require_function", "new_dense", "make_dense", "run_backward", "Recorder", "set_params", "get_params", "call_method", "cases"]


@dataclass
class CheckContext:
    """Everything a check may use."""

    session: StudentSession
    """The student's code, running in the sandbox."""
    assignment: Assignment
    """The rubric (batch convention, names)."""
    spec: CheckSpec
    """This check's entry in the rubric."""
    rng: np.random.Generator
    """Seeded generator: the same seed gives the same data."""
    seed: int
    """The seed, for messages."""
    device: str = "cpu"
    """Where timing runs: cpu or gpu."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Shared between checks of one grading run (e.g. the submission's names)."""
    oracle: Any = None
    """Expected values (`grader.oracle`): the reference, or a bundle's stored answers."""

    def param(self, key: str, default: Any) -> Any:
        return self.spec.params.get(key, default)

    @property
    def convention(self) -> str:
        return self.assignment.batch_convention


@dataclass
class Outcome:
    """What a check found: the fraction of its cases passed, messages and diagnoses."""

    passed: int = 0
    """Cases passed."""
    total: int = 0
    """Cases run."""
    messages: list[str] = field(default_factory=list)
    """Student-facing explanations of failed cases (and notes)."""
    diagnoses: list[str] = field(default_factory=list)
    """Mistake codes that explain the failures (MISTAKES.md)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Data for rich reports (e.g. arrays for a heatmap), JSON-compatible."""
    fixes: dict[str, str] = field(default_factory=dict)
    """Code -> the fix worded in the assignment's form (grader.interfaces.words); others use the catalogue's."""
    case_codes: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """The codes each failed case earned, by the index of its message (set by `Recorder`)."""

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0


@dataclass(frozen=True)
class DenseCase:
    """Random float64 data for one layer call: X (N, in), W (in, out), b (out), G (N, out)."""

    X: np.ndarray
    W: np.ndarray
    b: np.ndarray
    G: np.ndarray

    @property
    def label(self) -> str:
        n, i = self.X.shape
        return f"N={n}, in={i}, out={self.W.shape[1]}"

    @classmethod
    def random(cls, rng: np.random.Generator, n: int, n_in: int, n_out: int) -> DenseCase:
        return cls(
            X=rng.standard_normal((n, n_in)),
            W=rng.standard_normal((n_in, n_out)),
            b=rng.standard_normal(n_out),
            G=rng.standard_normal((n, n_out)),
        )



DEFAULT_SIZES = ((7, 5, 3), (13, 4, 4), (2, 3, 6))
"""(N, in, out): N > 1, in ≠ out, a prime N, and a square layer that exposes transpositions."""


def cases(ctx: CheckContext) -> list[DenseCase]:
    return [DenseCase.random(ctx.rng, *size) for size in ctx.param("sizes", DEFAULT_SIZES)]


CHECKED_NAMES = ("Dense", "ReLU", "forward", "train", "grad_softmax_crossentropy_with_logits")
"""Names the checks call whatever the rubric lists."""


def graded_names(assignment: Assignment) -> tuple[str, ...]:
    """The rubric's graded names plus the ones the checks call: what grading reads of a submission."""
    return tuple(sorted(set(assignment.graded_names) | set(CHECKED_NAMES)))


def describe_names(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    if "names" not in ctx.cache:
        ctx.cache["names"] = ctx.session.describe(list(graded_names(ctx.assignment)))
    return ctx.cache["names"]


def _unparsed_definition(ctx: CheckContext, name: str, keyword: str) -> StudentFailure | None:
    """A syntax-error failure when `name` is missing because the cell defining it did not parse.

    Then the syntax error explains the absence; "missing-definition" would send the student
    looking for a typo in the name. The message quotes the line that does not parse.
    """
    # [ \t], not \s: a \s* that crosses lines made the search quadratic (40k blank lines: 5 s).
    pattern = re.compile(rf"^[ \t]*{keyword}[ \t]+{re.escape(name)}\b", re.MULTILINE)
    cells = {cell.label: cell for cell in getattr(ctx.session.submission, "cells", ())}
    searched: set[str] = set()
    for issue in ctx.session.issues.values():
        cell = cells.get(issue.cell)
        if issue.status != "syntax-error" or cell is None or issue.cell in searched:
            continue
        searched.add(issue.cell)
        if not pattern.search(cell.source):
            continue
        found = re.search(r"line (\d+)\)?\s*$", issue.message)
        line = int(found.group(1)) if found else issue.line
        lines = cell.source.splitlines()
        quoted = f"\n    {line} | {lines[line - 1].rstrip()}" if 0 < line <= len(lines) else ""
        return StudentFailure(
            "syntax-error",
            f"`{name}` is not defined because {issue.cell} does not parse ({issue.message.split(' (<submission')[0]}) at line {line}:{quoted}",
        )
    return None


def require_class(ctx: CheckContext, name: str) -> None:
    kind = describe_names(ctx).get(name, {}).get("kind", "missing")
    if kind != "class":
        if kind == "missing" and (failure := _unparsed_definition(ctx, name, "class")) is not None:
            raise failure
        what = "is not defined" if kind == "missing" else f"is a {kind}, not a class"
        raise StudentFailure("missing-definition", f"`{name}` {what} in your submission; the assignment asks for `class {name}`.")


def require_function(ctx: CheckContext, name: str) -> None:
    kind = describe_names(ctx).get(name, {}).get("kind", "missing")
    if kind not in ("function", "class"):
        if kind == "missing" and (failure := _unparsed_definition(ctx, name, "def")) is not None:
            raise failure
        raise StudentFailure("missing-definition", f"`{name}` is not defined in your submission; the assignment asks for `def {name}(...)`.")


def new_dense(ctx: CheckContext, *args: Any, **kwargs: Any) -> Remote:
    """Construct the student's Dense, naming a constructor whose signature changed."""
    require_class(ctx, "Dense")
    try:
        return ctx.session.new("Dense", *args, **kwargs)
    except StudentFailure as failure:
        raise constructor_failure(failure) from None


def constructor_failure(failure: StudentFailure) -> StudentFailure:
    """The failure `Dense(...)` reports: a constructor whose signature changed is named as such."""
    if failure.error_type == "TypeError" and "argument" in failure.message:
        return StudentFailure("interface-changed", f"{failure.message} The assignment's constructor is Dense(input_units, output_units, learning_rate=0.1).", failure.traceback)
    return failure


def _weights_transposed(ctx: CheckContext) -> bool:
    """Whether the student stores W as (out, in): then the grader hands it W.T, so one
    interface mistake (weights-shape) does not fail every value check as well."""
    if "weights_transposed" not in ctx.cache:
        ctx.cache["weights_transposed"] = False
        try:
            probe = ctx.session.new("Dense", 5, 3, learning_rate=0.1)
            shape = getattr(ctx.session.get(probe, "weights"), "shape", None)
            ctx.cache["weights_transposed"] = shape == (3, 5)
        except StudentFailure:
            pass
    return ctx.cache["weights_transposed"]


def set_params(ctx: CheckContext, layer: Remote, W: np.ndarray, b: np.ndarray) -> None:
    """Give the layer exactly these parameters (in the student's storage convention)."""
    ctx.session.set(layer, defer=True, **stored_params(ctx, W, b))  # travels with the next call


def stored_params(ctx: CheckContext, W: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """The attributes that give a layer exactly (W, b), in the student's storage convention."""
    return {"weights": (W.T if _weights_transposed(ctx) else W).copy(), "biases": b.copy()}


def get_params(ctx: CheckContext, layer: Remote) -> tuple[Any, Any]:
    """Read (W, b) back in the assignment's (in, out) convention."""
    return read_params(ctx, ctx.session.get(layer, "weights", "biases"))


def read_params(ctx: CheckContext, stored: tuple[Any, Any]) -> tuple[Any, Any]:
    """(W, b) as the layer stores them, in the assignment's (in, out) convention."""
    W, b = stored
    if _weights_transposed(ctx) and isinstance(W, np.ndarray) and W.ndim == 2:
        W = W.T
    return W, b


def make_dense(ctx: CheckContext, case: DenseCase, learning_rate: float) -> Remote:
    """A student Dense layer holding exactly case.W and case.b."""
    n_in, n_out = case.W.shape
    layer = new_dense(ctx, n_in, n_out, learning_rate=learning_rate)
    set_params(ctx, layer, case.W, case.b)
    return layer


def call_method(ctx: CheckContext, layer: Remote, method: str, *args: Any, return_args: bool = False, keep: bool = False) -> Any:
    """Call Dense.method, turning a wrong-arity TypeError into interface-changed. `keep`: the
    result stays in the worker (a Remote comes back), for results nobody reads."""
    try:
        return ctx.session.call(layer, *args, method=method, what=f"Dense.{method}", return_args=return_args, keep=keep)
    except StudentFailure as failure:
        raise method_failure(failure, method, len(args)) from None


def method_failure(failure: StudentFailure, method: str, n_args: int) -> StudentFailure:
    """The failure a call of Dense.method reports: placeholders, a missing method or a changed
    signature named as such (also used for the same call sent in a batch)."""
    if failure.error_type == "AttributeError" and f"has no attribute '{method}'" in failure.message:
        return StudentFailure("missing-definition", f"Dense has no method `{method}`; the assignment asks for Dense.{method}.")
    if "'ellipsis'" in failure.message or "ellipsis" in failure.message and failure.error_type == "TypeError":
        # The skeleton's `grad_input = ...` placeholders are still there.
        return StudentFailure("not-implemented", f"{failure.message} The skeleton's `...` placeholders are still in Dense.{method}: replace them with your code.", failure.traceback, error_type=failure.error_type)
    if failure.error_type == "TypeError" and "positional argument" in failure.message and not failure.traceback.count("File "):
        return StudentFailure("interface-changed", f"{failure.message} The assignment calls {method}({', '.join(['input', 'grad_output'][:n_args])}).", failure.traceback)
    return failure


@dataclass(frozen=True)
class BackwardResult:
    """What one backward call did: its return value and the gradients it applied."""

    grad_input: Any
    """The returned grad_input (or the local `grad_input` if a shape assert stopped backward)."""
    grad_W: Any
    """The weight gradient read through the SGD step, (W − W')/lr."""
    grad_b: Any
    """The bias gradient read through the SGD step, (b − b')/lr."""
    step_W: Any
    """The raw weight change W − W' (not divided by lr)."""
    X_after: Any
    G_after: Any
    assert_failure: StudentFailure | None = None
    """Set when backward stopped at an AssertionError; the gradients then come from its locals."""
    noise_W: float = 0.0
    """Bound on ‖rounding error‖ of grad_W from the precision the layer keeps (amplified 1/lr by the read-back)."""
    noise_b: float = 0.0
    """The same for grad_b."""


def step_of(new: Any, old: np.ndarray) -> Any:
    """old − new where shapes allow (broadcasting included); otherwise the raw value."""
    if new is MISSING or not isinstance(new, np.ndarray) or new.dtype.kind not in "biuf":
        return new
    try:
        return old - new.astype(np.float64)
    except ValueError:
        return new


def run_backward(ctx: CheckContext, case: DenseCase, learning_rate: float) -> BackwardResult:
    """Fresh layer with (W, b), one backward(X, G), then read the parameters back."""
    layer = make_dense(ctx, case, learning_rate)
    try:
        grad_input, (X_after, G_after) = call_method(ctx, layer, "backward", case.X, case.G, return_args=True)
    except StudentFailure as failure:
        return stopped_backward(failure)
    new_W, new_b = get_params(ctx, layer)
    return backward_result(case, learning_rate, grad_input, X_after, G_after, new_W, new_b)


def stopped_backward(failure: StudentFailure) -> BackwardResult:
    """A backward stopped by a shape assert, its gradients read from its locals; any other failure is raised."""
    found = failure.local_arrays
    if failure.error_type != "AssertionError" or not {"grad_weights", "grad_biases"} & set(found):
        raise failure
    grads = {k: found.get(k, MISSING) for k in ("grad_input", "grad_weights", "grad_biases")}
    return BackwardResult(grads["grad_input"], grads["grad_weights"], grads["grad_biases"], MISSING, MISSING, MISSING, failure)


def backward_result(case: DenseCase, learning_rate: float, grad_input: Any, X_after: Any, G_after: Any, new_W: Any, new_b: Any) -> BackwardResult:
    """What one backward did, from its return value and the parameters read back."""
    # A layer that keeps float32 rounds the grader's float64 W before its step: measure the
    # step from W as the layer holds it, so rounding is never read as movement.
    step_W, step_b = step_of(new_W, _as_kept(case.W, new_W)), step_of(new_b, _as_kept(case.b, new_b))
    scale = lambda step: step / learning_rate if isinstance(step, np.ndarray) and step.dtype.kind == "f" else step  # noqa: E731
    grad_W, grad_b = scale(step_W), scale(step_b)
    computed = kept_eps(grad_input, new_W, new_b)
    noise_W = _readback_noise(case.W, new_W, grad_W, np.abs(case.X).T @ np.abs(case.G), case.X.shape[0], learning_rate, computed)
    noise_b = _readback_noise(case.b, new_b, grad_b, np.abs(case.G).sum(axis=0), case.X.shape[0], learning_rate, computed)
    return BackwardResult(grad_input, grad_W, grad_b, step_W, X_after, G_after, None, noise_W, noise_b)


def _as_kept(old: np.ndarray, new: Any) -> np.ndarray:
    """`old` rounded to the precision the layer keeps its parameters in (float64: unchanged)."""
    eps = kept_eps(new)
    for low in (np.float16, np.float32):
        if eps == float(np.finfo(low).eps):
            return old.astype(low).astype(np.float64)
    return old


def _readback_noise(old: np.ndarray, new: Any, grad: Any, magnitude: np.ndarray, n: int, lr: float, computed: float) -> float:
    """Norm-wise bound on the rounding in a gradient read as (old − new)/lr.

    Storing in precision eps rounds old and new by eps·|value| each, which the read-back
    divides by lr; computing in precision eps errs by up to n·eps·(|X|ᵀ|G|) (a sum of n terms).
    Factor 4 of slack; float64 code gets a bound far below any tolerance.
    """
    if not isinstance(new, np.ndarray) or new.dtype.kind != "f" or not isinstance(grad, np.ndarray) or grad.shape != old.shape:
        return 0.0
    stored = kept_eps(new)
    bound = stored * (np.linalg.norm(old) + np.linalg.norm(new.astype(np.float64))) / lr + computed * (np.linalg.norm(grad) + n * np.linalg.norm(magnitude))
    return 4.0 * float(bound) if np.isfinite(bound) else 0.0


class Recorder:
    """Collects case results into an Outcome: comparisons, mutant matches, failures."""

    def __init__(self) -> None:
        self.outcome = Outcome()

    def compare(self, name: str, actual: Any, desired: np.ndarray, rtol: float, mutants: list[tuple[str, np.ndarray]] | None = None, generic: str | None = None) -> Comparison:
        result = compare(name, actual, desired, rtol)
        self.outcome.total += 1
        if result.ok:
            self.outcome.passed += 1
            if result.low_precision:
                self.outcome.diagnoses.append("float32-downcast")
            return result
        codes = match_mutants(actual, mutants or [], desired, rtol) if isinstance(actual, np.ndarray) else []
        if result.nonfinite:
            codes.append("nan-or-inf")
        if actual is None:
            codes.append("not-implemented")
        if not codes and generic:
            codes.append(generic)
        self.outcome.diagnoses += codes
        self.outcome.case_codes[len(self.outcome.messages)] = tuple(codes)
        self.outcome.messages.append(result.message)
        return result

    def fail(self, message: str, *codes: str) -> None:
        self.outcome.total += 1
        self.outcome.case_codes[len(self.outcome.messages)] = codes
        self.outcome.messages.append(message)
        self.outcome.diagnoses += list(codes)

    def ok(self) -> None:
        self.outcome.total += 1
        self.outcome.passed += 1

    def student_failure(self, failure: StudentFailure, label: str = "") -> None:
        prefix = f"[{label}] " if label else ""
        message = prefix + failure.message
        if failure.traceback:
            message += "\n" + failure.traceback.rstrip()
        self.fail(message, failure.code, *failure.extra_codes)
