"""Reference solution of CS231n's layers (cs231n/layers.py): affine, ReLU, softmax loss.

Rows are examples; x of shape (N, d_1, ..., d_k) is flattened to (N, D); w (D, M), b (M,).
The loss divides by N, so the layers sum over the batch. The `layer_*`, `relu*` and
`softmax_loss_*` functions at the end are the canonical answers the grader's checks ask for
(grader/interfaces): plain arrays in, one array out.
"""

import numpy as np


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b; cache = (x, w, b)."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """dx (x's own shape), dw (D, M), db (M,), the batch summed."""
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def softmax_loss(x, y):
    """Mean cross-entropy of the softmax of scores x (N, C) for labels y (N,), and dx."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return loss, dx / n


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


class TwoLayerNet:
    """affine - relu - affine - softmax (cs231n/classifiers/fc_net.py); L2 as 0.5·reg·ΣW²."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim), "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes), "b2": np.zeros(num_classes),
        }
        self.reg = reg

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        hidden, cache1 = affine_relu_forward(X, W1, b1)
        scores, cache2 = affine_forward(hidden, W2, b2)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dhidden, dW2, db2 = affine_backward(dscores, cache2)
        _, dW1, db1 = affine_relu_backward(dhidden, cache1)
        return loss, {"W1": dW1 + self.reg * W1, "b1": db1, "W2": dW2 + self.reg * W2, "b2": db2}


# -- canonical answers (rows as examples, W (in, out), the batch summed) ----------------------
def layer_forward(X, W, b):
    return affine_forward(X, W, b)[0]


def layer_grad_input(G, W):
    return G @ W.T


def layer_grad_weights(X, G):
    return X.T @ G


def layer_grad_bias(G):
    return G.sum(axis=0)


def relu(x):
    return relu_forward(x)[0]


def relu_grad(dout, x):
    return relu_backward(dout, x)


def softmax_loss_value(x, y):
    return np.asarray(softmax_loss(x, y)[0])


def softmax_loss_grad(x, y):
    return softmax_loss(x, y)[1]
