# Building your Deep Neural Network: Step by Step (the notebook's code cells, exported)
import numpy as np
import h5py
import matplotlib.pyplot as plt
from testCases import *
from dnn_utils import sigmoid, sigmoid_backward, relu, relu_backward
from public_tests import *

np.random.seed(1)


def initialize_parameters(n_x, n_h, n_y):
    """Returns parameters: W1 (n_h, n_x), b1 (n_h, 1), W2 (n_y, n_h), b2 (n_y, 1)."""
    np.random.seed(1)
    # YOUR CODE STARTS HERE
    W1 = None
    b1 = None
    W2 = None
    b2 = None
    # YOUR CODE ENDS HERE
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return parameters


def initialize_parameters_deep(layer_dims):
    """Returns parameters: Wl (layer_dims[l], layer_dims[l-1]), bl (layer_dims[l], 1)."""
    np.random.seed(3)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        # YOUR CODE STARTS HERE
        pass
        # YOUR CODE ENDS HERE
    return parameters


def linear_forward(A, W, b):
    """Z = W A + b; cache = (A, W, b)."""
    # YOUR CODE STARTS HERE
    Z = None
    # YOUR CODE ENDS HERE
    cache = (A, W, b)
    return Z, cache


def linear_activation_forward(A_prev, W, b, activation):
    """A = g(W A_prev + b) for activation "sigmoid" or "relu"; cache = (linear_cache, activation_cache)."""
    if activation == "sigmoid":
        # YOUR CODE STARTS HERE
        Z, linear_cache = None, None
        A, activation_cache = None, None
        # YOUR CODE ENDS HERE
    elif activation == "relu":
        # YOUR CODE STARTS HERE
        Z, linear_cache = None, None
        A, activation_cache = None, None
        # YOUR CODE ENDS HERE
    cache = (linear_cache, activation_cache)
    return A, cache


def L_model_forward(X, parameters):
    """[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID; returns AL and the list of caches."""
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        # YOUR CODE STARTS HERE
        pass
        # YOUR CODE ENDS HERE
    # YOUR CODE STARTS HERE
    AL = None
    # YOUR CODE ENDS HERE
    return AL, caches


def compute_cost(AL, Y):
    """Cross-entropy cost -1/m Σ (y log a + (1 - y) log(1 - a))."""
    m = Y.shape[1]
    # YOUR CODE STARTS HERE
    cost = None
    # YOUR CODE ENDS HERE
    cost = np.squeeze(cost)
    return cost


def linear_backward(dZ, cache):
    """dA_prev = Wᵀ dZ, dW = 1/m dZ A_prevᵀ, db = 1/m Σ dZ (keepdims)."""
    A_prev, W, b = cache
    m = A_prev.shape[1]
    # YOUR CODE STARTS HERE
    dW = None
    db = None
    dA_prev = None
    # YOUR CODE ENDS HERE
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    """The backward of LINEAR->ACTIVATION: returns dA_prev, dW, db."""
    linear_cache, activation_cache = cache
    if activation == "relu":
        # YOUR CODE STARTS HERE
        dZ = None
        dA_prev, dW, db = None, None, None
        # YOUR CODE ENDS HERE
    elif activation == "sigmoid":
        # YOUR CODE STARTS HERE
        dZ = None
        dA_prev, dW, db = None, None, None
        # YOUR CODE ENDS HERE
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches):
    """grads["dA" + str(l)], grads["dW" + str(l)], grads["db" + str(l)]."""
    grads = {}
    L = len(caches)
    m = AL.shape[1]
    Y = Y.reshape(AL.shape)
    # YOUR CODE STARTS HERE
    dAL = None
    # YOUR CODE ENDS HERE
    return grads


def update_parameters(params, grads, learning_rate):
    """W = W - learning_rate dW, b = b - learning_rate db, for every layer."""
    parameters = params.copy()
    L = len(parameters) // 2
    for l in range(L):
        # YOUR CODE STARTS HERE
        pass
        # YOUR CODE ENDS HERE
    return parameters
