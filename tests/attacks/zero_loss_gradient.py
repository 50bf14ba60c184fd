# Class 8: the loss gradient is given code, but a submission can redefine it. Returning
# zeros made the grader's expected training step a no-op, so a `train` that changes
# nothing scored 2/2 on train-step. train-step judges `train` with the given gradient of the
# notebook's version (an edited one is replaced), so a `train` that changes nothing fails.
def grad_softmax_crossentropy_with_logits(logits, reference_answers):
    return np.zeros_like(logits)


def _activations(network, X):
    activations = []
    for layer in network:
        X = layer.forward(X)
        activations.append(X)
    return activations


def train(network, X, y):
    activations = _activations(network, X)
    grad_softmax_crossentropy_with_logits(activations[-1], y)  # zeros: nothing to step with
    return 0.0
