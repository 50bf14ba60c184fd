# The honest part every timing attack in this folder that starts with `class Dense(Dense)`
# shares: a correct Dense written as a per-sample Python loop. Alone it is ~20-40x the
# reference at the timing size (0 of 2 timing points, `python-loop`); each attack keeps it for
# every call it does not take for a timed one, so the correctness checks grade it the same.
import numpy as np


class Layer:
    def forward(self, input):
        return input

    def backward(self, input, grad_output):
        return grad_output


class Dense(Layer):
    def __init__(self, input_units, output_units, learning_rate=0.1):
        self.learning_rate = learning_rate
        self.weights = np.random.randn(input_units, output_units) * 0.01
        self.biases = np.zeros(output_units)

    def forward(self, input):
        output = np.zeros((input.shape[0], self.weights.shape[1]))
        for n in range(input.shape[0]):
            output[n] = input[n] @ self.weights + self.biases
        return output

    def backward(self, input, grad_output):
        grad_input = np.zeros(input.shape)
        grad_weights = np.zeros(self.weights.shape)
        grad_biases = np.zeros(self.biases.shape)
        for n in range(input.shape[0]):
            grad_input[n] = self.weights @ grad_output[n]
            grad_weights += np.outer(input[n], grad_output[n])
            grad_biases += grad_output[n]
        self.weights = self.weights - self.learning_rate * grad_weights
        self.biases = self.biases - self.learning_rate * grad_biases
        return grad_input
