# A slow but honest layer: a Python loop over pairs of rows (each pair a tiny matrix product).
# It measures ~15× the reference, under the warm-up cut-off (45×), so the race always runs
# timed rounds: the report can show their ratio and plot them.
import numpy as np


class Dense:
    def __init__(self, input_units, output_units, learning_rate=0.1):
        self.learning_rate = learning_rate
        self.weights = np.random.randn(input_units, output_units) * 0.01
        self.biases = np.zeros(output_units)

    def forward(self, input):
        out = np.empty((input.shape[0], self.weights.shape[1]))
        for s in range(0, input.shape[0], 2):
            out[s:s + 2] = input[s:s + 2] @ self.weights + self.biases
        return out

    def backward(self, input, grad_output):
        grad_input = np.empty(input.shape)
        for s in range(0, input.shape[0], 2):
            grad_input[s:s + 2] = grad_output[s:s + 2] @ self.weights.T
        self.weights = self.weights - self.learning_rate * input.T @ grad_output
        self.biases = self.biases - self.learning_rate * grad_output.sum(axis=0)
        return grad_input
