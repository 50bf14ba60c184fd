"""The canonical answers the layer checks ask for (the classic form)."""

import numpy as np


def layer_forward(X, W, b):
    return X @ W + b


def layer_grad_input(G, W):
    return G @ W.T


def layer_grad_weights(X, G):
    return X.T @ G


def layer_grad_bias(G):
    return G.sum(axis=0)
