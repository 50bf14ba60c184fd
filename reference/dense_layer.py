"""The instructor's solution of the dense-layer assignment, in plain numpy.

Stateless functions are the source of truth for the grader's checks; the classes
(`Layer`, `ReLU`, `Dense`) and the network functions mirror the student notebook so
the reference can also be run as a submission (`tests/submissions/reference.ipynb`).

Shapes: X is (N, in), W is (in, out), b is (out,), G = dL/dZ is (N, out).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "dense_forward",
    "dense_grad_input",
    "dense_grad_weights",
    "dense_grad_biases",
    "dense_sgd_step",
    "relu_forward",
    "relu_backward",
    "softmax_crossentropy_with_logits",
    "grad_softmax_crossentropy_with_logits",
    "Layer",
    "ReLU",
    "Dense",
    "network_forward",
    "train_step",
]


def dense_forward(X: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Z = XW + b, shape (N, out)."""
    return X @ W + b


def dense_grad_input(G: np.ndarray, W: np.ndarray) -> np.ndarray:
    """dL/dX = G Wᵀ, shape (N, in), with W as it was *before* the update."""
    return G @ W.T


def dense_grad_weights(X: np.ndarray, G: np.ndarray, convention: str = "sum") -> np.ndarray:
    """dL/dW = Xᵀ G, shape (in, out); summed over the batch (or averaged, older variant)."""
    grad = X.T @ G
    return grad / X.shape[0] if convention == "mean" else grad


def dense_grad_biases(G: np.ndarray, convention: str = "sum") -> np.ndarray:
    """dL/db = Σₙ Gₙ, shape (out,); summed over the batch (or averaged, older variant)."""
    return G.mean(axis=0) if convention == "mean" else G.sum(axis=0)


def dense_sgd_step(
    X: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
    G: np.ndarray,
    learning_rate: float,
    convention: str = "sum",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One backward pass: (grad_input, W', b') with W' = W − lr·dW and b' = b − lr·db."""
    grad_input = dense_grad_input(G, W)
    new_W = W - learning_rate * dense_grad_weights(X, G, convention)
    new_b = b - learning_rate * dense_grad_biases(G, convention)
    return grad_input, new_W, new_b


def relu_forward(X: np.ndarray) -> np.ndarray:
    """max(X, 0), elementwise."""
    return np.maximum(X, 0)


def relu_backward(X: np.ndarray, G: np.ndarray) -> np.ndarray:
    """G where X > 0, else 0."""
    return G * (X > 0)


def softmax_crossentropy_with_logits(logits: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of softmax(logits) against integer class labels, shape (N,)."""
    picked = logits[np.arange(len(logits)), answers]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return -picked + logits.max(axis=-1) + np.log(np.exp(shifted).sum(axis=-1))


def grad_softmax_crossentropy_with_logits(logits: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """dL/dlogits of the *mean* loss over the batch: (softmax − onehot) / N, shape (N, C)."""
    onehot = np.zeros_like(logits)
    onehot[np.arange(len(logits)), answers] = 1
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    softmax = shifted / shifted.sum(axis=-1, keepdims=True)
    return (softmax - onehot) / logits.shape[0]


class Layer:
    """Identity layer: the base class of the notebook."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return input

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return grad_output


class ReLU(Layer):
    """Rectified linear unit."""

    def forward(self, input: np.ndarray) -> np.ndarray:
        return relu_forward(input)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        return relu_backward(input, grad_output)


class Dense(Layer):
    """Fully connected layer trained by plain SGD inside `backward`."""

    def __init__(self, input_units: int, output_units: int, learning_rate: float = 0.1) -> None:
        self.learning_rate = learning_rate
        self.weights = np.random.randn(input_units, output_units) * 0.01
        self.biases = np.zeros(output_units)

    def forward(self, input: np.ndarray) -> np.ndarray:
        return dense_forward(input, self.weights, self.biases)

    def backward(self, input: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        grad_input, self.weights, self.biases = dense_sgd_step(
            input, self.weights, self.biases, grad_output, self.learning_rate
        )
        return grad_input


def network_forward(network: list[Layer], X: np.ndarray) -> list[np.ndarray]:
    """Every layer's activation, in order: [layer0(X), layer1(layer0(X)), ...]."""
    activations = []
    for layer in network:
        X = layer.forward(X)
        activations.append(X)
    return activations


def train_step(network: list[Layer], X: np.ndarray, y: np.ndarray) -> float:
    """One SGD step on the mean cross-entropy; updates every layer; returns the mean loss."""
    activations = network_forward(network, X)
    layer_inputs = [X] + activations
    logits = activations[-1]
    loss = softmax_crossentropy_with_logits(logits, y)
    grad = grad_softmax_crossentropy_with_logits(logits, y)
    for i in range(len(network))[::-1]:
        grad = network[i].backward(layer_inputs[i], grad)
    return float(np.mean(loss))
