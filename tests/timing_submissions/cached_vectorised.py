# Attack: a correct, vectorised layer that remembers its outputs per input array (by id)
# and, when it sees the same array again, returns them without computing or updating:
# "skipping work" that no warm-up cut-off can catch (its first call is fast and right).
# Only the check of the timed outputs can: the k-th step's outputs must come from the
# weights after k-1 updates.
import numpy as np

_SEEN = {}


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
        key = ("forward", id(input))
        if key not in _SEEN:
            _SEEN[key] = input @ self.weights + self.biases
        return _SEEN[key]

    def backward(self, input, grad_output):
        key = ("backward", id(input), id(grad_output))
        if key in _SEEN:
            return _SEEN[key]
        grad_input = grad_output @ self.weights.T
        self.weights = self.weights - self.learning_rate * input.T @ grad_output
        self.biases = self.biases - self.learning_rate * grad_output.sum(axis=0)
        _SEEN[key] = grad_input
        return grad_input
