# Issue 9, class 4 (a learning run stopped early passed network-learns): train takes real SGD
# steps for its first two calls, then burns CPU on every call and stops learning. The run is cut
# short by its time budget; a cut-short run must never pass. The run needs forward(network, X);
# ReLU leaks (slope 0.01) so that this correct forward earns nothing over _honest.py's score.
import time as _time


class ReLU(ReLU):
    def forward(self, input):
        return np.maximum(input, 0.01 * input)

_calls = [0]


def _loss_and_grad(logits, answers):
    """The given softmax cross-entropy (mean over the batch) and its gradient."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    rows = np.arange(len(logits))
    loss = float(np.mean(-np.log(probabilities[rows, answers] + 1e-12)))
    grad = probabilities.copy()
    grad[rows, answers] -= 1
    return loss, grad / len(logits)


def forward(network, X):
    activations = [X]
    for layer in network:
        activations.append(layer.forward(activations[-1]))
    return activations[1:]


def train(network, X, y):
    _calls[0] += 1
    inputs = [X] + forward(network, X)
    loss, grad = _loss_and_grad(inputs[-1], y)
    if _calls[0] > 2:
        started = _time.process_time()
        while _time.process_time() - started < 0.3:
            pass  # busy work instead of learning
        return loss
    for i in range(len(network))[::-1]:
        layer = network[i]
        if hasattr(layer, "weights"):
            grad_weights, grad_biases = inputs[i].T @ grad, grad.sum(axis=0)
            grad_input = grad @ layer.weights.T
            layer.weights = layer.weights - layer.learning_rate * grad_weights
            layer.biases = layer.biases - layer.learning_rate * grad_biases
            grad = grad_input
        else:
            grad = layer.backward(inputs[i], grad)
    return loss
