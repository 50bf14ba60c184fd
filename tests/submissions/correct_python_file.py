"""Dense layer assignment, handed in as a plain Python module."""


import numpy as np


class Layer:
    """The identity layer; every layer of the network has these two methods."""

    def __init__(self):
        pass

    def forward(self, input):
        """input: (N, units) -> output: (N, units). The identity."""
        return input

    def backward(self, input, grad_output):
        """Gradient of the loss with respect to `input`; the identity passes it through."""
        return grad_output


class ReLU(Layer):
    """Rectified linear unit, applied element by element."""

    def forward(self, input):
        """input: any shape -> max(input, 0), same shape."""
        return np.maximum(input, 0)

    def backward(self, input, grad_output):
        """The gradient flows only where the input was positive."""
        return grad_output * (input > 0)


class Dense(Layer):
    """Fully connected layer: output = input @ weights + biases, trained by SGD in backward."""

    def __init__(self, input_units, output_units, learning_rate=0.1):
        """input_units, output_units: sizes of one input / output sample.
        learning_rate: the step size of the SGD update made in `backward`."""
        self.learning_rate = learning_rate
        self.weights = np.random.randn(input_units, output_units) * 0.01
        self.biases = np.zeros(output_units)

    def forward(self, input):
        """input: (N, input_units) -> output: (N, output_units)."""
        return input @ self.weights + self.biases

    def backward(self, input, grad_output):
        """input: (N, input_units); grad_output: dL/d(output), (N, output_units).
        Returns dL/d(input), (N, input_units), and makes one SGD step on the parameters."""
        grad_input = grad_output @ self.weights.T
        grad_weights = input.T @ grad_output
        grad_biases = grad_output.sum(axis=0)

        assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
        self.weights = self.weights - self.learning_rate * grad_weights
        self.biases = self.biases - self.learning_rate * grad_biases

        return grad_input


def softmax_crossentropy_with_logits(logits, reference_answers):
    """Cross-entropy of softmax(logits) against integer labels, one value per sample: (N,)."""
    logits_for_answers = logits[np.arange(len(logits)), reference_answers]
    top = logits.max(axis=-1, keepdims=True)
    log_sum_exp = top[:, 0] + np.log(np.sum(np.exp(logits - top), axis=-1))
    return -logits_for_answers + log_sum_exp


def grad_softmax_crossentropy_with_logits(logits, reference_answers):
    """Gradient of the MEAN cross-entropy over the batch: (softmax - one_hot) / N, (N, C)."""
    ones_for_answers = np.zeros_like(logits)
    ones_for_answers[np.arange(len(logits)), reference_answers] = 1
    exps = np.exp(logits - logits.max(axis=-1, keepdims=True))
    softmax = exps / exps.sum(axis=-1, keepdims=True)
    return (softmax - ones_for_answers) / logits.shape[0]


def forward(network, X):
    """Run X through every layer; return the list of each layer's output, in order."""
    activations = []
    input = X
    for layer in network:
        input = layer.forward(input)
        activations.append(input)

    assert len(activations) == len(network)
    return activations


def predict(network, X):
    """The most likely class of each sample, (N,)."""
    return forward(network, X)[-1].argmax(axis=-1)


def train(network, X, y):
    """One SGD step of every layer on the batch (X, y); returns the mean loss."""
    layer_activations = forward(network, X)
    layer_inputs = [X] + layer_activations  # layer_inputs[i] is what network[i] received
    logits = layer_activations[-1]

    loss = softmax_crossentropy_with_logits(logits, y)
    loss_grad = grad_softmax_crossentropy_with_logits(logits, y)

    for i in range(len(network))[::-1]:
        loss_grad = network[i].backward(layer_inputs[i], loss_grad)

    return np.mean(loss)


if __name__ == "__main__":  # selfcheck
    np.random.seed(1)
    X_check = np.random.randn(5, 3)
    layer = Dense(3, 4)
    assert layer.weights.shape == (3, 4) and layer.biases.shape == (4,)
    Z_check = layer.forward(X_check)
    assert Z_check.shape == (5, 4)
    assert np.allclose(Z_check, X_check @ layer.weights + layer.biases)
    assert layer.backward(X_check, np.random.randn(5, 4)).shape == (5, 3)
    assert ReLU().forward(np.array([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 2.0]
    check_net = [Dense(3, 4), ReLU(), Dense(4, 2)]
    assert [a.shape for a in forward(check_net, X_check)] == [(5, 4), (5, 4), (5, 2)]
    print("Shapes look right.")


if __name__ == "__main__":  # demo
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 2.5], [-2.5, -1.5], [2.5, -1.5]])
    labels = rng.integers(0, 3, size=600)
    points = centres[labels] + rng.normal(size=(600, 2))
    X_train, y_train = points[:450], labels[:450]
    X_val, y_val = points[450:], labels[450:]

    np.random.seed(0)
    network = [Dense(2, 32, learning_rate=0.2), ReLU(), Dense(32, 3, learning_rate=0.2)]
    for epoch in range(8):
        order = rng.permutation(len(X_train))
        losses = [train(network, X_train[batch], y_train[batch])
                  for batch in np.array_split(order, len(order) // 32)]
        train_acc = np.mean(predict(network, X_train) == y_train)
        val_acc = np.mean(predict(network, X_val) == y_val)
        print(f"epoch {epoch}: loss {np.mean(losses):.3f}, "
              f"train accuracy {train_acc:.2f}, validation accuracy {val_acc:.2f}")
