"""Regenerate the student submissions: the released notebook as a student fills it in.

Usage:  python tests/student_submissions/build.py

Each <name>.ipynb is the notebook `grade release` hands out (its note on checking, its
`check()` cell kept, a `%pip install` cell added as students do), with the student's code
written into the skeleton's cells: one deliberate mistake per file, named in
<name>.expected.json by the code `grade check` must report (and the check that finds it).
The same bytes on every run, so `git diff` shows real changes only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from grader.assignment import load_assignment  # noqa: E402
from grader.student.release import install_line, student_notebook  # noqa: E402

RELU = '''class ReLU(Layer):
    """Rectified linear unit, applied element by element."""

    def forward(self, input):
        """input: any shape -> max(input, 0), same shape."""
        return np.maximum(input, 0)

    def backward(self, input, grad_output):
        """The gradient flows only where the input was positive."""
        return grad_output * (input > 0)'''

DENSE = '''class Dense(Layer):
    """Fully connected layer: output = input @ weights + biases, trained by SGD in backward."""

    def __init__(self, input_units, output_units, learning_rate=0.1):
        """input_units, output_units: sizes of one input / output sample.
        learning_rate: the step size of the SGD update made in `backward`."""
        self.learning_rate = learning_rate
        self.weights = np.random.randn(input_units, output_units) * 0.01
        self.biases = np.zeros(output_units)

    def forward(self, input):
        """input: (N, input_units) -> output: (N, output_units)."""
        return input @ self.weights + self.biases

    def backward(self, input, grad_output):
        """input: (N, input_units); grad_output: dL/d(output), (N, output_units).
        Returns dL/d(input), (N, input_units), and makes one SGD step on the parameters."""
        grad_input = grad_output @ self.weights.T
        grad_weights = input.T @ grad_output
        grad_biases = grad_output.sum(axis=0)

        assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
        self.weights = self.weights - self.learning_rate * grad_weights
        self.biases = self.biases - self.learning_rate * grad_biases

        return grad_input'''

FORWARD = '''def forward(network, X):
    """Run X through every layer; return the list of each layer's output, in order."""
    activations = []
    for layer in network:
        X = layer.forward(X)
        activations.append(X)
    return activations'''

TRAIN = '''def train(network, X, y):
    """One SGD step of every layer on the batch (X, y); returns the mean loss."""
    layer_activations = forward(network, X)
    layer_inputs = [X] + layer_activations
    logits = layer_activations[-1]
    loss = softmax_crossentropy_with_logits(logits, y)
    loss_grad = grad_softmax_crossentropy_with_logits(logits, y)
    for i in range(len(network))[::-1]:
        loss_grad = network[i].backward(layer_inputs[i], loss_grad)
    return np.mean(loss)'''

UNWRITTEN_TRAIN = '''def train(network, X, y):
    """One SGD step of every layer on the batch (X, y); returns the mean loss."""
    # <your code here>: forward, layer_inputs = [X] + layer_activations, the loss and its
    # gradient, then for each layer from last to first:
    #     loss_grad = network[i].backward(layer_inputs[i], loss_grad)
    raise NotImplementedError("train")'''

SUBMISSIONS: dict[str, tuple[str, dict[str, str], str, str]] = {
    # name: (what the student did, {old: new} in the Dense/train code, code, check that names it)
    "weights_transposed": ("dW = Gᵀ·X, shape (out, in): the given shape assert stops backward",
                           {"grad_weights = input.T @ grad_output": "grad_weights = grad_output.T @ input"},
                           "grad-weights-transposed", "dense-gradcheck"),
    "update_uphill": ("the SGD step adds the gradient", {"self.weights = self.weights - self.learning_rate * grad_weights": "self.weights = self.weights + self.learning_rate * grad_weights",
                                                          "self.biases = self.biases - self.learning_rate * grad_biases": "self.biases = self.biases + self.learning_rate * grad_biases"},
                      "update-sign", "dense-gradcheck"),
    "bias_not_summed": ("db = the first row of G, no sum over the batch", {"grad_biases = grad_output.sum(axis=0)": "grad_biases = grad_output[0]"},
                        "grad-bias-not-summed", "dense-gradcheck"),
    "bias_wrong_axis": ("db summed over everything, broadcast to the biases' shape", {"grad_biases = grad_output.sum(axis=0)": "grad_biases = np.full(self.biases.shape, grad_output.sum())"},
                        "grad-bias-wrong-axis", "dense-gradcheck"),
    "train_unwritten": ("everything written but train, which still raises NotImplementedError", {TRAIN: UNWRITTEN_TRAIN}, "not-implemented", "train-runs"),
}


def _solved(cells: list[dict], swaps: dict[str, str]) -> list[dict]:
    code = {"class ReLU": RELU, "class Dense": DENSE, "def forward": FORWARD, "def train": TRAIN}
    out = []
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code":
            for start, text in code.items():
                if source.startswith(start):
                    for old, new in swaps.items():
                        text = text.replace(old, new)
                    source = text
        out.append({**cell, "source": source})
    return out


def build() -> list[Path]:
    notebook = student_notebook(load_assignment("dense_layer"))
    written = []
    for name, (description, swaps, code, check) in SUBMISSIONS.items():
        joined = DENSE + TRAIN
        for old in swaps:
            if old not in joined:
                raise SystemExit(f"{name}: {old!r} is not in the solution any more")
        cells = _solved(notebook["cells"], swaps)
        pip_cell = {"cell_type": "code", "execution_count": None, "id": "student-pip", "metadata": {}, "outputs": [], "source": f"%{install_line()}"}
        cells.insert(len(cells) - 1, pip_cell)
        path = HERE / f"{name}.ipynb"
        path.write_text(json.dumps({**notebook, "cells": cells}, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        (HERE / f"{name}.expected.json").write_text(json.dumps({"description": description, "diagnosis": code, "check": check}, indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in build():
        print(path)
