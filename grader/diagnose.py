"""Name the mistake: match a wrong output against mutants of the reference.

A mutant is the output a known mistake would produce (e.g. XW without the bias). A code
is given only when the student's output matches that mutant within tolerance *and* the
mutant differs from the correct output on this input, so it explains what we saw rather
than guessing. The codes and their sentences come from MISTAKES.md; `ADVICE` holds the
one-line fix shown to the student.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .compare import relative_error
from .convention import describe

__all__ = ["match_mutants", "ADVICE", "ADVICE_TEMPLATES", "ADVICE_PREFIX", "advice", "GENERIC_CODES", "resolve_codes"]

ADVICE_PREFIX = "What to do: "
"""Starts the line of a check's output that repeats the fixes (reports print each fix once)."""

ADVICE_TEMPLATES: dict[str, str] = {
    "forward-missing-bias": "Your forward pass leaves out the bias: return input @ self.weights + self.biases.",
    "forward-transposed-weights": "Your forward pass uses the transposed weights: W has shape (input_units, output_units), so Z = X @ W + b needs no .T.",
    "forward-wrong": "Your forward pass does not compute X·W + b: check the operation (a matrix product, not *) and the operands.",
    "weights-shape": "Store the weights with shape (input_units, output_units) so that X @ W works for X of shape (N, input_units).",
    "init-scale": "Initialise the weights as small random numbers (e.g. np.random.randn(in, out) * 0.01) and the biases as zeros.",
    "grad-input-transposed": "grad_input should be grad_output @ W.T: (N, out) times (out, in) gives (N, in).",
    "grad-input-wrong": "grad_input should be grad_output @ self.weights.T, computed with the weights before the update.",
    "update-before-grad-input": "You compute grad_input after updating the weights: compute grad_input = grad_output @ self.weights.T first, then apply the SGD step.",
    "grad-weights-mean": "Your weight gradient is divided by the batch size: grad_output already carries the 1/N of the mean loss, so sum over the batch ({dW}), don't average.",
    "grad-weights-sum": "Your weight gradient is summed over the batch: in this version the loss gradient is not divided by N, so average: {dW}.",
    "grad-weights-transposed": "Your weight gradient is transposed or reshaped: use {dW}, shape (input_units, output_units).",
    "grad-weights-wrong": "The weight gradient should be {dW} (shape (input_units, output_units)).",
    "grad-bias-mean": "Your bias gradient is a mean: grad_output already carries the 1/N, so sum over the batch: {db}.",
    "grad-bias-sum": "Your bias gradient is summed over the batch: in this version the loss gradient is not divided by N, so average: {db}.",
    "grad-bias-not-summed": "Your bias gradient is not reduced over the batch: use {db}, shape (output_units,).",
    "grad-bias-wrong-axis": "Your bias gradient is reduced over the wrong axis: reduce over the batch axis (axis 0), {db}.",
    "update-sign": "Your update goes uphill: gradient descent subtracts, weights = weights - learning_rate * grad_weights.",
    "learning-rate-ignored": "Your update does not use the layer's learning rate: multiply by self.learning_rate, not a fixed number.",
    "no-update": "backward never changes the weights or biases: apply the SGD step before returning grad_input.",
    "mutates-input": "Your layer writes into the caller's input array: compute new arrays instead of modifying `input` in place.",
    "mutates-grad-output": "Your layer writes into grad_output: compute new arrays instead of modifying it in place.",
    "stateful-forward": "forward depends on earlier calls (cached results, counters or shared state): compute the output from the input and parameters only.",
    "batch-coupling": "One sample's result depends on other samples in the batch: each row must be computed from its own input row only.",
    "nondeterministic": "Repeated identical calls give different results: remove randomness from forward and backward.",
    "float32-downcast": "Your layer computes in float32 (relative error about 1e-7; the grader allows for its rounding): fine for training, but keep float64 to match the reference exactly.",
    "nan-or-inf": "Your layer returns NaN or infinity for finite input: look for divisions, logs or exponentials that do not belong in a dense layer.",
    "python-loop": "Your layer loops over samples or elements in Python: use matrix products (X @ W) so numpy does the work.",
    "relu-wrong": "ReLU should be np.maximum(0, input): zero for negative inputs, the input itself otherwise.",
    "network-forward-wrong": "forward(network, X) should return every layer's activation, in order: append each layer's output and feed it to the next layer.",
    "train-skips-layer": "Your training loop misses a layer: loop over every layer in reverse, range(len(network))[::-1] includes layer 0.",
    "train-wrong": "Your training step differs from: forward, loss gradient, then loss_grad = network[i].backward(layer_inputs[i], loss_grad) for every layer in reverse.",
    "grad-input-flattened": "The input gradient must have the input's own shape (N, d1, ..., dk): reshape it with .reshape(x.shape), and keep the original x in the cache.",
    "grad-bias-kept-dims": "The bias gradient must have the biases' shape (out,): sum over the batch without keepdims.",
    "grad-bias-dims-dropped": "The bias gradient must keep the biases' shape (out, 1): sum with keepdims=True.",
    "relu-in-place": "ReLU changes its input in place (x[x < 0] = 0): compute out = np.maximum(0, x) as a new array, the caller still needs x.",
    "loss-not-averaged": "The loss is the mean over the N examples: divide the loss and its gradient by N.",
    "loss-wrong": "The loss should be the mean cross-entropy of the softmax over the N examples, and dx its gradient (probabilities minus one-hot, divided by N).",
    "sigmoid-backward-every-layer": "Only the output layer is LINEAR->SIGMOID: in the loop over the hidden layers use linear_activation_backward(..., \"relu\").",
    "grad-keys-shifted": "Keep one numbering of the gradients: grads[\"dA\" + str(l-1)], grads[\"dW\" + str(l)], grads[\"db\" + str(l)] for layer l, and read the next layer's input gradient from the key you stored it under.",
    "update-skips-last-layer": "Update every layer, the last one included: for l in range(L) updates W{l+1} and b{l+1}.",
    "activation-swapped": "Use the activation asked for: sigmoid(Z) for \"sigmoid\", relu(Z) for \"relu\".",
    "regularization-wrong": "The L2 term is 0.5 * reg * (sum of every W squared), so its gradient is reg * W: check the factor 0.5 and the sign.",
    "syntax-error": "Part of your code does not parse: fix the syntax error at the line shown.",
    "not-implemented": "Replace the placeholder (raise NotImplementedError / pass) with your code.",
    "missing-definition": "Define the class or function with exactly the name the assignment gives.",
    "interface-changed": "Keep the signatures the assignment gives: extra required arguments or renamed methods break the grader's calls.",
    "exception": "Your code raised an exception: read the traceback, it points to your line.",
    "timeout": "Your code did not finish in time: look for an infinite loop.",
    "crash": "Your code killed the Python process (os._exit, a segfault, or running out of memory).",
    "memory-limit": "Your code used more memory than allowed: avoid building huge arrays.",
    "output-flood": "Your code prints far too much: remove prints from forward and backward.",
}


def advice(code: str, convention: str = "sum") -> str:
    """The one-line fix for `code`, worded for the rubric's batch convention ("" if unknown)."""
    return describe(ADVICE_TEMPLATES.get(code, ""), convention)


ADVICE: dict[str, str] = {code: advice(code) for code in ADVICE_TEMPLATES}
"""The fixes worded for the default (sum) convention; use `advice(code, convention)` for others."""

GENERIC_CODES = frozenset({"exception", "forward-wrong", "grad-input-wrong", "grad-weights-wrong", "train-wrong"})
"""Codes that a specific diagnosis on the same check makes redundant."""

WARNINGS = frozenset({"float32-downcast"})
"""Codes that note a style, not a fault: they never stand in for the fault a check found."""


def match_mutants(actual: object, mutants: Iterable[tuple[str, np.ndarray]], correct: np.ndarray, rtol: float) -> list[str]:
    """Codes of the mutants that explain `actual` and differ from the correct output here."""
    if not isinstance(actual, np.ndarray) or actual.dtype.kind not in "biuf":
        return []
    found = []
    for code, mutant in mutants:
        mutant = np.asarray(mutant, dtype=np.float64)
        if mutant.shape != actual.shape:
            continue
        if mutant.shape == correct.shape and relative_error(mutant, correct) <= 100 * rtol:
            continue  # indistinguishable from the right answer on this input
        if relative_error(actual, mutant) <= rtol and code not in found:
            found.append(code)
    return found


def resolve_codes(codes: list[str]) -> list[str]:
    """Drop generic codes when a specific one explains the same failure; keep order, no repeats."""
    unique = list(dict.fromkeys(codes))
    specific = [c for c in unique if c not in GENERIC_CODES and c not in WARNINGS]
    if specific:
        return [c for c in unique if c not in GENERIC_CODES or c == "exception" and not _explains_exception(specific)]
    return unique


def _explains_exception(codes: list[str]) -> bool:
    shape_mistakes = {"forward-transposed-weights", "grad-input-transposed", "grad-weights-transposed", "weights-shape",
                      "grad-bias-not-summed", "grad-bias-wrong-axis", "grad-bias-kept-dims", "grad-bias-dims-dropped", "grad-input-flattened", "grad-keys-shifted", "not-implemented", "interface-changed", "missing-definition",
                      "timeout", "crash", "memory-limit", "output-flood"}
    return any(c in shape_mistakes for c in codes)
