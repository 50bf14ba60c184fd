"""Reference solution of deeplearning.ai's "Building your Deep Neural Network: Step by Step".

Columns are examples: A has shape (features, m); W (n_l, n_{l-1}); b (n_l, 1). The mean over
the m examples is inside the layer: dW = dZ·A_prevᵀ / m, db = Σ dZ / m (keepdims). The
activations (`sigmoid`, `relu` and their backward) come from the course's given `dnn_utils`.
`grads` uses the 2021 keys: dA{l-1} is the gradient flowing out of layer l. The functions at
the end are the canonical answers of the grader's layer checks (grader/interfaces).
"""

import numpy as np


def _sigmoid(Z):
    return 1 / (1 + np.exp(-Z)), Z


def _sigmoid_backward(dA, cache):
    s = 1 / (1 + np.exp(-cache))
    return dA * s * (1 - s)


def _relu(Z):
    return np.maximum(0, Z), Z


def _relu_backward(dA, cache):
    return dA * (cache > 0)


ACTIVATIONS = {"sigmoid": (_sigmoid, _sigmoid_backward), "relu": (_relu, _relu_backward)}


def initialize_parameters(n_x, n_h, n_y):
    np.random.seed(1)
    return {"W1": np.random.randn(n_h, n_x) * 0.01, "b1": np.zeros((n_h, 1)),
            "W2": np.random.randn(n_y, n_h) * 0.01, "b2": np.zeros((n_y, 1))}


def initialize_parameters_deep(layer_dims):
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def linear_forward(A, W, b):
    return W @ A + b, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = ACTIVATIONS[activation][0](Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    return np.squeeze(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T / m, np.sum(dZ, axis=1, keepdims=True) / m


def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    dZ = ACTIVATIONS[activation][1](dA, activation_cache)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_activation_backward(dAL, caches[L - 1], "sigmoid")
    for l in reversed(range(L - 1)):
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = linear_activation_backward(grads["dA" + str(l + 1)], caches[l], "relu")
    return grads


def update_parameters(params, grads, learning_rate):
    parameters = dict(params)
    for l in range(1, len(parameters) // 2 + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters


# -- canonical answers (rows as examples, W (in, out), the batch summed) ----------------------
def layer_forward(X, W, b):
    return linear_forward(X.T, W.T, b.reshape(-1, 1))[0].T


def layer_grad_input(G, W):
    return G @ W.T


def layer_grad_weights(X, G):
    return X.T @ G


def layer_grad_bias(G):
    return G.sum(axis=0)
