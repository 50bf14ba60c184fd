"""Writes the deeplearning.ai "Step by Step" test submissions from the assignment's starter.

Each submission is the starter with every `# YOUR CODE STARTS HERE` block filled in: the
correct solution, or the correct one with one real mistake. Run it after changing the
starter: `python tests/submissions/dls/build.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
STARTER = HERE.parents[2] / "assignments" / "dls_step_by_step" / "step_by_step.py"

CORRECT: dict[str, list[str]] = {
    "initialize_parameters": ["W1 = np.random.randn(n_h, n_x) * 0.01\nb1 = np.zeros((n_h, 1))\nW2 = np.random.randn(n_y, n_h) * 0.01\nb2 = np.zeros((n_y, 1))"],
    "initialize_parameters_deep": ["parameters['W' + str(l)] = np.random.randn(layer_dims[l], layer_dims[l-1]) * 0.01\nparameters['b' + str(l)] = np.zeros((layer_dims[l], 1))"],
    "linear_forward": ["Z = np.dot(W, A) + b"],
    "linear_activation_forward": [
        "Z, linear_cache = linear_forward(A_prev, W, b)\nA, activation_cache = sigmoid(Z)",
        "Z, linear_cache = linear_forward(A_prev, W, b)\nA, activation_cache = relu(Z)",
    ],
    "L_model_forward": [
        "A, cache = linear_activation_forward(A_prev, parameters['W' + str(l)], parameters['b' + str(l)], activation='relu')\ncaches.append(cache)",
        "AL, cache = linear_activation_forward(A, parameters['W' + str(L)], parameters['b' + str(L)], activation='sigmoid')\ncaches.append(cache)",
    ],
    "compute_cost": ["cost = -1 / m * np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))"],
    "linear_backward": ["dW = 1 / m * np.dot(dZ, A_prev.T)\ndb = 1 / m * np.sum(dZ, axis=1, keepdims=True)\ndA_prev = np.dot(W.T, dZ)"],
    "linear_activation_backward": [
        "dZ = relu_backward(dA, activation_cache)\ndA_prev, dW, db = linear_backward(dZ, linear_cache)",
        "dZ = sigmoid_backward(dA, activation_cache)\ndA_prev, dW, db = linear_backward(dZ, linear_cache)",
    ],
    "L_model_backward": [
        "dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))\n"
        "current_cache = caches[L-1]\n"
        "dA_prev_temp, dW_temp, db_temp = linear_activation_backward(dAL, current_cache, 'sigmoid')\n"
        "grads['dA' + str(L-1)] = dA_prev_temp\ngrads['dW' + str(L)] = dW_temp\ngrads['db' + str(L)] = db_temp\n"
        "for l in reversed(range(L-1)):\n"
        "    current_cache = caches[l]\n"
        "    dA_prev_temp, dW_temp, db_temp = linear_activation_backward(grads['dA' + str(l + 1)], current_cache, 'relu')\n"
        "    grads['dA' + str(l)] = dA_prev_temp\n    grads['dW' + str(l + 1)] = dW_temp\n    grads['db' + str(l + 1)] = db_temp"
    ],
    "update_parameters": ["parameters['W' + str(l+1)] = parameters['W' + str(l+1)] - learning_rate * grads['dW' + str(l+1)]\nparameters['b' + str(l+1)] = parameters['b' + str(l+1)] - learning_rate * grads['db' + str(l+1)]"],
}

MISTAKES: dict[str, dict[str, list[str]]] = {
    "correct": {},
    "correct_matmul": {
        "linear_forward": ["Z = W @ A + b"],
        "linear_backward": ["dW = (dZ @ A_prev.T) / m\ndb = dZ.sum(axis=1, keepdims=True) / m\ndA_prev = W.T @ dZ"],
    },
    "correct_2017_dA_keys": {"L_model_backward": [CORRECT["L_model_backward"][0].replace("grads['dA' + str(L-1)] = dA_prev_temp", "grads['dA' + str(L)] = dA_prev_temp").replace("grads['dA' + str(l + 1)], current_cache", "grads['dA' + str(l + 2)], current_cache").replace("grads['dA' + str(l)] = dA_prev_temp", "grads['dA' + str(l + 1)] = dA_prev_temp")]},
    "db_no_keepdims": {"linear_backward": ["dW = 1 / m * np.dot(dZ, A_prev.T)\ndb = 1 / m * np.sum(dZ, axis=1)\ndA_prev = np.dot(W.T, dZ)"]},
    "db_squeezed": {"linear_backward": ["dW = 1 / m * np.dot(dZ, A_prev.T)\ndb = np.squeeze(1 / m * np.sum(dZ, axis=1, keepdims=True))\ndA_prev = np.dot(W.T, dZ)"]},
    "missing_one_over_m": {"linear_backward": ["dW = np.dot(dZ, A_prev.T)\ndb = np.sum(dZ, axis=1, keepdims=True)\ndA_prev = np.dot(W.T, dZ)"]},
    "dw_transposed": {"linear_backward": ["dW = 1 / m * np.dot(A_prev, dZ.T)\ndb = 1 / m * np.sum(dZ, axis=1, keepdims=True)\ndA_prev = np.dot(W.T, dZ)"]},
    "sigmoid_backward_every_layer": {"L_model_backward": [CORRECT["L_model_backward"][0].replace("current_cache, 'relu')", "current_cache, 'sigmoid')")]},
    "dA_keys_shifted": {"L_model_backward": [CORRECT["L_model_backward"][0].replace("grads['dA' + str(L-1)] = dA_prev_temp", "grads['dA' + str(L)] = dA_prev_temp").replace("grads['dA' + str(l)] = dA_prev_temp", "grads['dA' + str(l + 1)] = dA_prev_temp")]},
    "relu_backward_swapped": {"linear_activation_backward": [CORRECT["linear_activation_backward"][1], CORRECT["linear_activation_backward"][0]]},
    "init_weights_transposed": {"initialize_parameters_deep": ["parameters['W' + str(l)] = np.random.randn(layer_dims[l-1], layer_dims[l]) * 0.01\nparameters['b' + str(l)] = np.zeros((layer_dims[l], 1))"]},
    "update_ascends": {"update_parameters": [CORRECT["update_parameters"][0].replace("] - learning_rate", "] + learning_rate")]},
    "linear_forward_missing_bias": {"linear_forward": ["Z = np.dot(W, A)"]},
    "update_skips_last_layer": {"update_parameters": ["if l == L - 1:\n    break\n" + CORRECT["update_parameters"][0]]},
}


def fill(overrides: dict[str, list[str]]) -> str:
    """The starter with each function's YOUR CODE blocks replaced, in order."""
    lines = STARTER.read_text().splitlines()
    out: list[str] = []
    current, block, skipping = "", 0, False
    for line in lines:
        if line.startswith("def "):
            current, block = line[4:line.index("(")], 0
        stripped = line.strip()
        if stripped == "# YOUR CODE STARTS HERE":
            indent = line[: len(line) - len(line.lstrip())]
            code = {**CORRECT, **overrides}[current][block]
            out.append(line)
            out += [indent + c if c else c for c in code.splitlines()]
            block, skipping = block + 1, True
            continue
        if stripped == "# YOUR CODE ENDS HERE":
            skipping = False
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def notebook(source: str) -> dict:
    """The .py as a notebook: one code cell per top-level block, as the course's notebook has."""
    blocks, current = [], []
    for line in source.splitlines(keepends=True):
        if line.startswith("def ") and current:
            blocks.append(current)
            current = []
        current.append(line)
    blocks.append(current)
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": b} for b in blocks]
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 4}


def main() -> None:
    for name, overrides in MISTAKES.items():
        (HERE / f"{name}.py").write_text(fill(overrides))
    # The 2017-2020 notebooks import versioned given modules.
    old_imports = fill({}).replace("from testCases import *", "from testCases_v4 import *").replace("from dnn_utils import", "from dnn_utils_v2 import")
    (HERE / "correct_2017_imports.py").write_text(old_imports)
    (HERE / "correct_notebook.ipynb").write_text(json.dumps(notebook(fill({})), indent=1) + "\n")
    starter = STARTER.read_text()
    (STARTER.parent / "step_by_step.ipynb").write_text(json.dumps(notebook(starter), indent=1) + "\n")


if __name__ == "__main__":
    main()
