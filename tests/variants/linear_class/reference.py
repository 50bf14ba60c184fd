"""The variant's reference: the canonical answers the layer checks ask for."""

import numpy as np


class Linear:
    def __init__(self, in_features, out_features):
        self.W = np.random.randn(out_features, in_features) * 0.01
        self.b = np.zeros(out_features)

    def forward(self, A):
        self.A = A
        return A @ self.W.T + self.b

    def backward(self, dLdZ):
        self.dW = dLdZ.T @ self.A
        self.db = dLdZ.sum(axis=0)
        return dLdZ @ self.W


def layer_forward(X, W, b):
    return X @ W + b


def layer_grad_input(G, W):
    return G @ W.T


def layer_grad_weights(X, G):
    return X.T @ G


def layer_grad_bias(G):
    return G.sum(axis=0)
