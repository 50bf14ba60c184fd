"""Regenerate the test submissions and the student notebook from one set of templates.

Usage:  python tests/submissions/build.py            (from anywhere; paths are resolved here)

Writes, deterministically (same bytes on every run, so `git diff` shows real changes only):
  assignments/dense_layer/dense_layer.ipynb     the student notebook (skeleton with TODOs)
  assignments/dense_layer_mean/*.ipynb          the older version's notebook and a solved sample
  tests/submissions/<name>.ipynb | <name>.py    one submission per case in SUBMISSIONS
  tests/submissions/<name>.expected.json        what the grader must conclude about it

Every submission is the reference solution with exactly one deliberate change (a fragment
substituted with `swap`, a cell dropped or added, different notebook metadata), so a fix to
a template fixes all of them. `swap` fails loudly when the text it replaces is gone.

Model of the checks that the expectations assume (the engine owner reconciles with real runs):
  * dense-interface inspects construction (`Dense(in, out)`, `Dense(in, out,
    learning_rate=lr)`), the shapes of `weights`/`biases` and the *signatures* of
    forward/backward; it does not need their results, so a forward that raises an
    IndexError or loops keeps this check.
  * dense-init reads a freshly constructed layer, with sizes large enough that Xavier
    init (std sqrt(2/(in+out))) stays below 0.5 (in + out >= 8).
  * dense-forward uses a fresh layer per case, parameters set by the grader, one call each.
  * dense-grad-input, dense-update-* call backward only.
  * dense-batch-semantics checks backward (sum over samples, duplicated batch, zero G, row
    independence of grad_input) and also forward's row independence (batch-coupling), the
    latter only where forward runs, returns finite values and repeats itself.
  * dense-gradcheck, dense-side-effects and dense-timing call forward (and backward) on the
    same layer several times.
  * parameters are set in the student's storage convention when `weights` is stored (out, in)
    (the engine probes Dense(5, 3) once and transposes for every size, square included).
  * every request gets fresh, writable arrays in the worker, so mutating X or G is seen
    only by dense-side-effects.
  * network-forward and train-step judge the student's `forward` / `train` against the
    network's own layers applied one by one, so a wrong Dense or ReLU does not cost them;
    where the student's Dense cannot be used at all (raises, dies, is missing, is
    non-deterministic) the expectation still says they pass: the engine should then fall
    back to reference layers instead of charging the Dense mistake a second time. The
    student's `train` calls the student's `forward`.
  * network-learns trains the student's own Dense/ReLU network with its own train on the digits
    (fixed weights, fixed batches), so it fails wherever the layer, ReLU, forward or train is
    wrong or cannot run, except for mistakes that do not change training: the grader sets the
    weights (init-scale), hands them over in the student's layout (weights-shape), zeroing G
    after its last use (mutates-grad-output), and slowness (python-loop): see `learns()`.
  * dense-timing passes for vectorised code that runs; it fails where forward/backward
    cannot run at all (exception, missing, killed) and for Python loops.
"""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import nbformat
from nbformat import v4

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STUDENT_NOTEBOOK = ROOT / "assignments" / "dense_layer" / "dense_layer.ipynb"
MEAN_FOLDER = ROOT / "assignments" / "dense_layer_mean"
"""The older version of the assignment (the layer averages over the batch): its student notebook
and a solved sample, the same layout as assignments/dense_layer."""

CHECKS = [
    "dense-interface",
    "dense-init",
    "dense-forward",
    "dense-grad-input",
    "dense-update-weights",
    "dense-update-biases",
    "dense-gradcheck",
    "dense-batch-semantics",
    "dense-side-effects",
    "dense-timing",
    "relu-forward",
    "network-forward",
    "train-step",
    "network-learns",
]
ALL_DENSE = [c for c in CHECKS if c.startswith("dense-")]
# Checks that need Dense.forward to run (see the model above).
USES_FORWARD = ["dense-forward", "dense-gradcheck", "dense-side-effects", "dense-timing"]
# dense-batch-semantics judges forward's row independence only where forward runs, returns
# finite values and repeats itself (the lead's decision): a forward that raises, hangs, dies
# or adds noise is charged by the checks above, not a second time as batch coupling.


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def swap(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace `old` by `new` in a template fragment; fail loudly if the template changed."""
    found = text.count(old)
    if found != count:
        raise SystemExit(f"build.py: expected {count} occurrence(s) of {old!r}, found {found}")
    return text.replace(old, new)


# --------------------------------------------------------------------------------------
# Markdown of the student notebook (the project's own words)
# --------------------------------------------------------------------------------------

MD_INTRO = code(r"""
    # A dense layer, from scratch in numpy

    In this assignment you write, with nothing but numpy, the parts of a small neural network:

    * a **dense** (fully connected) layer that updates its own parameters with stochastic
      gradient descent when you call its `backward`,
    * the **ReLU** non-linearity,
    * `forward(network, X)`, which runs a list of layers, and `train(network, X, y)`, which
      makes one training step on a batch.

    At the end you train a two-layer network on a small synthetic dataset.

    **What is graded:** `Layer`, `ReLU`, `Dense`, `forward` and `train`. Keep their names,
    their arguments and the given lines. Replace every `# <your code here>` together with the
    `raise NotImplementedError(...)` below it. The grader runs your classes and functions on
    its own data (with batch sizes, layer sizes and learning rates you have not seen); what
    this notebook prints does not change your grade.

    **Conventions.** A batch holds `N` samples, one per **row**. A dense layer with
    `in` inputs and `out` outputs receives `X` of shape `(N, in)` and returns `Z` of shape
    `(N, out)`. All arrays are `float64`.
""")

MD_LAYER = code(r"""
    ## 1. The base class

    Every layer has two methods:

    * `forward(input)` computes the layer's output for a batch;
    * `backward(input, grad_output)` receives the batch the layer saw in `forward` and the
      gradient of the loss with respect to the layer's output, `grad_output`
      (same shape as the output). It returns the gradient of the loss with respect to the
      layer's input, and a layer with parameters also updates them here.

    The base class is the identity layer: its output is its input, so the gradient passes
    through unchanged. It is given.
""")

MD_RELU = code(r"""
    ## 2. ReLU

    ReLU keeps positive values and replaces the others by zero: `relu(x) = max(x, 0)`,
    element by element. Its derivative is 1 where `x > 0` and 0 elsewhere, so `backward`
    (given) lets the gradient through only where the input was positive.

    **Your task:** write `ReLU.forward`. One numpy call is enough.
""")

MD_DENSE = code(r"""
    ## 3. The dense layer

    ### Forward

    The layer holds a weight matrix `W` of shape `(in, out)` and a bias vector `b` of shape
    `(out,)`. For a batch `X` of shape `(N, in)`:

    $$Z = XW + b \qquad Z \in \mathbb{R}^{N\times out}$$

    Row `n` of `Z` is the output for sample `n`: $Z_{n,j} = \sum_i X_{n,i} W_{i,j} + b_j$.
    numpy adds the vector `b` to every row by broadcasting; do not write a loop over samples.

    ### Backward

    `backward` receives $G = \partial L / \partial Z$, of shape `(N, out)`. The chain rule,
    written for whole matrices, gives the three gradients:

    | gradient | formula | shape | why |
    |---|---|---|---|
    | `grad_input` $=\partial L/\partial X$ | $G\,W^\top$ | `(N, in)` | input $i$ of sample $n$ reaches every output $j$ through $W_{i,j}$ |
    | `grad_weights` $=\partial L/\partial W$ | $X^\top G$ | `(in, out)` | entry $(i,j)$ is $\sum_n X_{n,i}\,G_{n,j}$: every sample uses $W_{i,j}$ |
    | `grad_biases` $=\partial L/\partial b$ | $\sum_n G_{n,:}$ | `(out,)` | $b$ is added to every row, so every row contributes |

    A quick test of any formula: check that the shapes fit. `G @ W.T` is `(N, out)·(out, in)`;
    `X.T @ G` is `(in, N)·(N, out)`.

    **Why a sum over the batch, and not a mean?** The loss we train is the *mean* over the
    batch, $L = \frac1N\sum_n \ell_n$. The function that computes the gradient of the loss
    (`grad_softmax_crossentropy_with_logits`, given below) already divides by $N$: row `n` of
    the gradient that reaches a layer is $\frac1N\,\partial \ell_n/\partial Z_n$. The weights
    are shared by all samples, so their gradient is the sum of each sample's contribution,
    and since the $\frac1N$ is already inside $G$ the layer must simply **sum**. Dividing by
    $N$ again would make every step $N$ times too small, and the size of a step would then
    depend on the batch size.

    **Order matters.** `grad_input` must be computed with the weights that the forward pass
    used, that is **before** the SGD step changes them. The given lines make the step after
    your three lines; keep your code above them.

    ### The SGD step (given)

    $$W \leftarrow W - \eta\,\frac{\partial L}{\partial W}, \qquad
      b \leftarrow b - \eta\,\frac{\partial L}{\partial b}$$

    with $\eta$ = `self.learning_rate`, the value passed to the constructor.

    **Good habits the grader checks:** no Python loops over samples or elements (the layer is
    timed against a vectorised solution); do not modify `input` or `grad_output` in place
    (the caller still needs them); the same input gives the same output every time; stay in
    `float64`.

    **Your task:** write `Dense.forward` and the three gradient lines of `Dense.backward`.
""")

MD_LOSS = code(r"""
    ## 4. The loss (given)

    The network's last layer outputs one score ("logit") per class. Softmax turns the scores
    of a sample into probabilities, and the cross-entropy is minus the log-probability of the
    correct class. `softmax_crossentropy_with_logits` returns one loss per sample, shape
    `(N,)`; training minimises their mean.

    `grad_softmax_crossentropy_with_logits` returns the gradient of that **mean** with respect
    to the logits: (softmax − one-hot) / N, shape `(N, classes)`. This division by `N` is why
    the dense layer sums over the batch.
""")

MD_NETWORK = code(r"""
    ## 5. Running and training a network

    A network is a Python list of layers, e.g. `[Dense(2, 32), ReLU(), Dense(32, 3)]`.

    * `forward(network, X)` feeds `X` to the first layer, its output to the second, and so
      on. It returns the **list of every layer's output, in order** (as many entries as
      layers; the last one is the logits).
    * `train(network, X, y)` makes one training step: run `forward`, compute the loss and its
      gradient with respect to the logits, then go through the layers **from last to
      first**, calling `backward` with the input that layer received in `forward` and the
      gradient coming from the layer above. Each call returns the gradient for the layer
      below, and the dense layers update themselves on the way. It returns the mean loss.

    `predict` (given) returns the most likely class of each sample.
""")

MD_SELFCHECK = code(r"""
    ## 6. Quick self-check

    These asserts only check shapes and one easy value. Passing them is necessary, not
    sufficient: the grader also checks the gradients, the update, the batch behaviour and
    the speed.
""")

MD_DEMO = code(r"""
    ## 7. Training on a toy dataset

    Three clouds of points in the plane, one per class. A two-layer network should reach
    well over 90% accuracy in a few epochs. No download is needed.
""")

# --------------------------------------------------------------------------------------
# Code cells: the solution, and the skeleton's placeholders
# --------------------------------------------------------------------------------------

IMPORTS = "import numpy as np"

LAYER = code('''
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
''')

RELU_HEAD = code('''
    class ReLU(Layer):
        """Rectified linear unit, applied element by element."""

        def forward(self, input):
            """input: any shape -> max(input, 0), same shape."""
''')
RELU_FORWARD = "        return np.maximum(input, 0)"
RELU_FORWARD_TODO = '        # <your code here>\n        raise NotImplementedError("ReLU.forward")'
RELU_TAIL = code('''
        def backward(self, input, grad_output):
            """The gradient flows only where the input was positive."""
            return grad_output * (input > 0)
''')
RELU_TAIL = textwrap.indent(RELU_TAIL, "    ")

DENSE_HEAD = code('''
    class Dense(Layer):
        """Fully connected layer: output = input @ weights + biases, trained by SGD in backward."""
''')
DENSE_INIT = textwrap.indent(code('''
    def __init__(self, input_units, output_units, learning_rate=0.1):
        """input_units, output_units: sizes of one input / output sample.
        learning_rate: the step size of the SGD update made in `backward`."""
        self.learning_rate = learning_rate
        self.weights = np.random.randn(input_units, output_units) * 0.01
        self.biases = np.zeros(output_units)
'''), "    ")
DENSE_FORWARD = textwrap.indent(code('''
    def forward(self, input):
        """input: (N, input_units) -> output: (N, output_units)."""
        return input @ self.weights + self.biases
'''), "    ")
DENSE_FORWARD_TODO = swap(
    DENSE_FORWARD,
    "        return input @ self.weights + self.biases",
    '        # <your code here>\n        raise NotImplementedError("Dense.forward")',
)
DENSE_BACKWARD = textwrap.indent(code('''
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
'''), "    ")
GRAD_LINES = (
    "        grad_input = grad_output @ self.weights.T\n"
    "        grad_weights = input.T @ grad_output\n"
    "        grad_biases = grad_output.sum(axis=0)\n"
)
SGD_LINES = (
    "        self.weights = self.weights - self.learning_rate * grad_weights\n"
    "        self.biases = self.biases - self.learning_rate * grad_biases\n"
)
DENSE_BACKWARD_TODO = swap(
    DENSE_BACKWARD,
    GRAD_LINES,
    "        # <your code here>: the three gradients, computed with the weights *before* the step\n"
    '        raise NotImplementedError("Dense.backward")\n'
    "        grad_input = ...    # dL/d(input), shape (N, input_units)\n"
    "        grad_weights = ...  # dL/d(weights), shape (input_units, output_units)\n"
    "        grad_biases = ...   # dL/d(biases), shape (output_units,)\n",
)

LOSS = code('''
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
''')

NET_FORWARD_HEAD = code('''
    def forward(network, X):
        """Run X through every layer; return the list of each layer's output, in order."""
''')
NET_FORWARD = textwrap.indent(code('''
    activations = []
    input = X
    for layer in network:
        input = layer.forward(input)
        activations.append(input)

    assert len(activations) == len(network)
    return activations
'''), "    ")
NET_FORWARD_TODO = '    # <your code here>\n    raise NotImplementedError("forward")'

PREDICT = code('''
    def predict(network, X):
        """The most likely class of each sample, (N,)."""
        return forward(network, X)[-1].argmax(axis=-1)
''')

TRAIN_HEAD = code('''
    def train(network, X, y):
        """One SGD step of every layer on the batch (X, y); returns the mean loss."""
''')
TRAIN = textwrap.indent(code('''
    layer_activations = forward(network, X)
    layer_inputs = [X] + layer_activations  # layer_inputs[i] is what network[i] received
    logits = layer_activations[-1]

    loss = softmax_crossentropy_with_logits(logits, y)
    loss_grad = grad_softmax_crossentropy_with_logits(logits, y)

    for i in range(len(network))[::-1]:
        loss_grad = network[i].backward(layer_inputs[i], loss_grad)

    return np.mean(loss)
'''), "    ")
TRAIN_TODO = textwrap.indent(code('''
    # <your code here>: forward, layer_inputs = [X] + layer_activations, the loss and its
    # gradient, then for each layer from last to first:
    #     loss_grad = network[i].backward(layer_inputs[i], loss_grad)
    raise NotImplementedError("train")
'''), "    ")

SELFCHECK = code('''
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
''')

DEMO = code('''
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
''')


# --------------------------------------------------------------------------------------
# Notebook model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    key: str
    kind: str  # "code" | "markdown"
    source: str
    outputs: tuple = ()
    execution_count: int | None = None


def relu_cell(forward_body: str = RELU_FORWARD) -> str:
    return f"{RELU_HEAD}\n{forward_body}\n\n{RELU_TAIL}"


def dense_cell(init: str = DENSE_INIT, fwd: str = DENSE_FORWARD, bwd: str = DENSE_BACKWARD) -> str:
    return f"{DENSE_HEAD}\n\n{init}\n\n{fwd}\n\n{bwd}"


def solution_cells() -> list[Cell]:
    return [
        Cell("intro", "markdown", MD_INTRO),
        Cell("imports", "code", IMPORTS),
        Cell("md-layer", "markdown", MD_LAYER),
        Cell("layer", "code", LAYER),
        Cell("md-relu", "markdown", MD_RELU),
        Cell("relu", "code", relu_cell()),
        Cell("md-dense", "markdown", MD_DENSE),
        Cell("dense", "code", dense_cell()),
        Cell("md-loss", "markdown", MD_LOSS),
        Cell("loss", "code", LOSS),
        Cell("md-network", "markdown", MD_NETWORK),
        Cell("net-forward", "code", f"{NET_FORWARD_HEAD}\n{NET_FORWARD}"),
        Cell("predict", "code", PREDICT),
        Cell("train", "code", f"{TRAIN_HEAD}\n{TRAIN}"),
        Cell("md-selfcheck", "markdown", MD_SELFCHECK),
        Cell("selfcheck", "code", SELFCHECK),
        Cell("md-demo", "markdown", MD_DEMO),
        Cell("demo", "code", DEMO),
    ]


def student_cells() -> list[Cell]:
    todo = {
        "relu": relu_cell(RELU_FORWARD_TODO),
        "dense": dense_cell(fwd=DENSE_FORWARD_TODO, bwd=DENSE_BACKWARD_TODO),
        "net-forward": f"{NET_FORWARD_HEAD}\n{NET_FORWARD_TODO}",
        "train": f"{TRAIN_HEAD}\n{TRAIN_TODO}",
    }
    return [replace(c, source=todo.get(c.key, c.source)) for c in solution_cells()]


# ---- the older version of the assignment: the loss gradient is not divided by N -----------

MD_DENSE_MEAN = swap(swap(swap(
    MD_DENSE,
    r"| `grad_weights` $=\partial L/\partial W$ | $X^\top G$ | `(in, out)` | entry $(i,j)$ is $\sum_n X_{n,i}\,G_{n,j}$: every sample uses $W_{i,j}$ |",
    r"| `grad_weights` $=\partial L/\partial W$ | $\frac1N X^\top G$ | `(in, out)` | entry $(i,j)$ is $\frac1N\sum_n X_{n,i}\,G_{n,j}$: every sample uses $W_{i,j}$ |"),
    r"| `grad_biases` $=\partial L/\partial b$ | $\sum_n G_{n,:}$ | `(out,)` | $b$ is added to every row, so every row contributes |",
    r"| `grad_biases` $=\partial L/\partial b$ | $\frac1N\sum_n G_{n,:}$ | `(out,)` | $b$ is added to every row, so every row contributes |"),
    MD_DENSE[MD_DENSE.index("**Why a sum"):MD_DENSE.index("**Order matters.**")],
    code(r"""
        **Why a mean over the batch?** The loss we train is the *mean* over the batch,
        $L = \frac1N\sum_n \ell_n$. The function that computes the gradient of the loss
        (`grad_softmax_crossentropy_with_logits`, given below) returns each sample's own gradient
        $\partial \ell_n/\partial Z_n$, **not** divided by $N$. The weights are shared by all
        samples, so the layer averages their contributions: divide by the batch size here.
    """) + "\n\n",
)
MD_LOSS_MEAN = swap(
    MD_LOSS,
    "to the logits: (softmax − one-hot) / N, shape `(N, classes)`. This division by `N` is why\n"
    "the dense layer sums over the batch.",
    "to the logits of **each sample's** loss: softmax − one-hot, shape `(N, classes)`, not divided\n"
    "by `N`. This is why the dense layer averages over the batch.",
)
LOSS_MEAN = swap(swap(
    LOSS,
    '"""Gradient of the MEAN cross-entropy over the batch: (softmax - one_hot) / N, (N, C)."""',
    '"""Gradient of each sample\'s cross-entropy (NOT divided by the batch size): softmax - one_hot, (N, C)."""'),
    "return (softmax - ones_for_answers) / logits.shape[0]", "return softmax - ones_for_answers")
MEAN_GRAD_LINES = (
    "        grad_input = grad_output @ self.weights.T\n"
    "        grad_weights = input.T @ grad_output / input.shape[0]\n"
    "        grad_biases = grad_output.mean(axis=0)\n"
)


def mean_version(cells: list[Cell], dense: str) -> list[Cell]:
    """The older version of a notebook: its markdown, its loss gradient and the given Dense cell."""
    texts = {"md-dense": MD_DENSE_MEAN, "md-loss": MD_LOSS_MEAN, "loss": LOSS_MEAN, "dense": dense}
    return [replace(c, source=texts.get(c.key, c.source)) for c in cells]


def mean_solution_cells() -> list[Cell]:
    return mean_version(solution_cells(), dense_cell(bwd=swap(DENSE_BACKWARD, GRAD_LINES, MEAN_GRAD_LINES)))


def mean_student_cells() -> list[Cell]:
    return mean_version(student_cells(), dense_cell(fwd=DENSE_FORWARD_TODO, bwd=DENSE_BACKWARD_TODO))


def set_cell(cells: list[Cell], key: str, source: str) -> list[Cell]:
    assert any(c.key == key for c in cells), key
    return [replace(c, source=source) if c.key == key else c for c in cells]


def drop_cells(cells: list[Cell], *keys: str) -> list[Cell]:
    for k in keys:
        assert any(c.key == k for c in cells), k
    return [c for c in cells if c.key not in keys]


def insert_after(cells: list[Cell], key: str, *new: Cell) -> list[Cell]:
    i = [c.key for c in cells].index(key)
    return cells[: i + 1] + list(new) + cells[i + 1 :]


def cell_id(name: str, index: int, style: str) -> str:
    digest = hashlib.sha1(f"{name}/{index}".encode()).hexdigest()
    if style == "colab":
        return digest[:12]
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}" \
        if style == "jupyterlab" else digest[:8]


LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
    "version": "3.11.9",
}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def to_notebook(name: str, cells: list[Cell], style: str = "jupyter") -> nbformat.NotebookNode:
    """Build a v4 notebook as the given front end would save it.

    jupyter: Jupyter Notebook 7 / nbformat 4.5 with short cell ids (the default);
    jupyterlab: JupyterLab, nbformat 4.5, uuid-like cell ids;
    colab: nbformat 4.0, ids in cell metadata, `colab` and `accelerator` metadata;
    vscode: nbformat 4.2, no cell ids, `vscode` interpreter metadata.
    """
    nb = v4.new_notebook()
    nb.metadata = nbformat.from_dict({"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)})
    nb.nbformat_minor = {"jupyter": 5, "jupyterlab": 5, "colab": 0, "vscode": 2}[style]
    if style == "colab":
        nb.metadata = nbformat.from_dict({
            "colab": {"provenance": [], "collapsed_sections": [], "name": f"{name}.ipynb"},
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
            "accelerator": "GPU",
            "gpuClass": "standard",
        })
    elif style == "vscode":
        nb.metadata.kernelspec = {"display_name": "Python 3.11.9 ('.venv': venv)", "language": "python",
                                  "name": "python3"}
        nb.metadata.orig_nbformat = 4
        nb.metadata.vscode = {"interpreter": {"hash": hashlib.sha256(name.encode()).hexdigest()}}
    for index, cell in enumerate(cells):
        if cell.kind == "markdown":
            node = v4.new_markdown_cell(cell.source)
        else:
            node = v4.new_code_cell(cell.source, execution_count=cell.execution_count,
                                    outputs=[nbformat.from_dict(o) for o in cell.outputs])
        node.pop("id", None)
        if nb.nbformat_minor >= 5:
            node["id"] = cell_id(name, index, style)
        if style == "colab":
            node.metadata["id"] = cell_id(name, index, style)
            if cell.outputs:
                node.metadata["outputId"] = cell_id(name + "/out", index, style)
        nb.cells.append(node)
    return nb


def to_module(cells: list[Cell]) -> str:
    """A plain .py submission: the graded code at top level, the demo under a main guard."""
    parts = ['"""Dense layer assignment, handed in as a plain Python module."""']
    for cell in cells:
        if cell.kind != "code":
            continue
        if cell.key in ("selfcheck", "demo"):
            body = textwrap.indent(cell.source, "    ")
            parts.append(f'if __name__ == "__main__":  # {cell.key}\n{body}')
        else:
            parts.append(cell.source)
    return "\n\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------
# Submissions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    name: str
    description: str
    failed: tuple[str, ...] = ()
    diagnoses: tuple[str, ...] = ()
    cells: Callable[[], list[Cell]] = solution_cells
    style: str = "jupyter"
    fmt: str = "ipynb"
    assignment: str = "dense_layer"
    """The rubric it is graded with (assignments/<name>)."""

    def expectation(self) -> dict:
        unknown = set(self.failed) - set(CHECKS)
        assert not unknown, (self.name, unknown)
        failed = set(self.failed) | ({"network-learns"} if learns_wrongly(self) else set())
        expected = {
            "description": self.description,
            "full_marks": not failed,
            "failed": [c for c in CHECKS if c in failed],
            "diagnoses": list(self.diagnoses),
        }
        if self.assignment != "dense_layer":
            expected["assignment"] = self.assignment
        return expected


LEARNING_UNAFFECTED = {"dense-interface", "dense-init", "dense-timing"}
"""Failures that do not change the learning run (see the model at the top)."""


def learns_wrongly(sub: Submission) -> bool:
    """Whether network-learns must fail: some other check failed for a reason that changes training."""
    return bool(set(sub.failed) - LEARNING_UNAFFECTED) and "mutates-grad-output" not in sub.diagnoses


def with_dense(init: str = DENSE_INIT, fwd: str = DENSE_FORWARD, bwd: str = DENSE_BACKWARD,
               drop_calls: bool = False, extra_import: str | None = None) -> Callable[[], list[Cell]]:
    """The solution with the Dense cell rebuilt from (possibly changed) parts.

    drop_calls removes the self-check and demo cells, for mistakes that would hang or kill the
    notebook's top level (timeout, crash, memory, flood): the test is about the check, not
    about loading the notebook.
    """
    def build() -> list[Cell]:
        cells = set_cell(solution_cells(), "dense", dense_cell(init, fwd, bwd))
        if extra_import:
            cells = set_cell(cells, "imports", f"{IMPORTS}\n{extra_import}")
        if drop_calls:
            cells = drop_cells(cells, "md-selfcheck", "selfcheck", "md-demo", "demo")
        return cells
    return build


def fwd(body: str) -> str:
    """A Dense.forward whose body (after the docstring) is `body`."""
    return swap(DENSE_FORWARD, "        return input @ self.weights + self.biases",
                textwrap.indent(code(body), "        "))


def grads(grad_input: str | None = None, grad_weights: str | None = None,
          grad_biases: str | None = None) -> str:
    """A Dense.backward with some of the three gradient lines replaced."""
    bwd = DENSE_BACKWARD
    if grad_input is not None:
        bwd = swap(bwd, "        grad_input = grad_output @ self.weights.T\n", f"        grad_input = {grad_input}\n")
    if grad_weights is not None:
        bwd = swap(bwd, "        grad_weights = input.T @ grad_output\n", f"        grad_weights = {grad_weights}\n")
    if grad_biases is not None:
        bwd = swap(bwd, "        grad_biases = grad_output.sum(axis=0)\n", f"        grad_biases = {grad_biases}\n")
    return bwd


def bwd_body(body: str) -> str:
    """A Dense.backward whose whole body (after the docstring) is `body`."""
    head, _, _ = DENSE_BACKWARD.partition("        grad_input = ")
    return head + textwrap.indent(code(body), "        ")


def with_cell(key: str, source: str) -> Callable[[], list[Cell]]:
    return lambda: set_cell(solution_cells(), key, source)


# ---- correct styles ---------------------------------------------------------------------

NP_DOT = dense_cell(
    fwd=fwd("return np.dot(input, self.weights) + self.biases"),
    bwd=grads("np.dot(grad_output, self.weights.T)", "np.dot(input.T, grad_output)",
              "np.sum(grad_output, axis=0)"),
)
MATMUL = dense_cell(
    fwd=fwd("return np.matmul(input, self.weights) + self.biases[np.newaxis, :]"),
    bwd=grads("grad_output @ np.transpose(self.weights)", "np.transpose(input) @ grad_output",
              "np.sum(grad_output, axis=0)"),
)
EINSUM = dense_cell(
    fwd=fwd("return np.einsum('ni,io->no', input, self.weights) + self.biases"),
    bwd=grads("np.einsum('no,io->ni', grad_output, self.weights)",
              "np.einsum('ni,no->io', input, grad_output)",
              "np.einsum('no->o', grad_output)"),
)
TENSORDOT = dense_cell(
    fwd=fwd("return np.tensordot(input, self.weights, axes=1) + self.biases"),
    bwd=grads("np.tensordot(grad_output, self.weights, axes=(1, 1))",
              "np.tensordot(input, grad_output, axes=(0, 0))",
              "grad_output.sum(0)"),
)
INPLACE = dense_cell(bwd=swap(
    DENSE_BACKWARD, SGD_LINES,
    "        self.weights -= self.learning_rate * grad_weights\n"
    "        self.biases -= self.learning_rate * grad_biases\n",
))
ONES_COLUMN = dense_cell(
    fwd=fwd('''
        # Fold the bias into the weights: [X, 1] @ [[W], [b]] = X @ W + b
        X1 = np.hstack([input, np.ones((input.shape[0], 1))])
        Wb = np.vstack([self.weights, self.biases[np.newaxis, :]])
        return X1 @ Wb
    '''),
    bwd=swap(DENSE_BACKWARD, GRAD_LINES, textwrap.indent(code('''
        X1 = np.hstack([input, np.ones((input.shape[0], 1))])
        Wb = np.vstack([self.weights, self.biases[np.newaxis, :]])
        grad_input = (grad_output @ Wb.T)[:, :-1]
        grad_Wb = X1.T @ grad_output
        grad_weights, grad_biases = grad_Wb[:-1], grad_Wb[-1]
    '''), "        ") + "\n"),
)
FLOAT32 = dense_cell(
    fwd=fwd('''
        # float32 is faster and uses half the memory
        X32 = input.astype(np.float32)
        return X32 @ self.weights.astype(np.float32) + self.biases.astype(np.float32)
    '''),
    bwd=swap(DENSE_BACKWARD, GRAD_LINES, textwrap.indent(code('''
        X32, G32 = input.astype(np.float32), grad_output.astype(np.float32)
        W32 = self.weights.astype(np.float32)
        grad_input = G32 @ W32.T
        grad_weights = X32.T @ G32
        grad_biases = G32.sum(axis=0)
    '''), "        ") + "\n"),
)
EXTENSIONS = code('''
    class Dense(Dense):
        """Dense with extras: L2 weight decay and momentum (both off by default), Xavier init."""

        def __init__(self, input_units, output_units, learning_rate=0.1, l2=0.0, momentum=0.0):
            super().__init__(input_units, output_units, learning_rate)
            # Xavier/Glorot initialisation
            self.weights = np.random.randn(input_units, output_units) * np.sqrt(2.0 / (input_units + output_units))
            self.l2 = l2
            self.momentum = momentum
            self.velocity_w = np.zeros((input_units, output_units))
            self.velocity_b = np.zeros(output_units)

        def backward(self, input, grad_output):
            grad_input = grad_output @ self.weights.T
            grad_weights = input.T @ grad_output + self.l2 * self.weights
            grad_biases = grad_output.sum(axis=0)
            assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
            self.velocity_w = self.momentum * self.velocity_w - self.learning_rate * grad_weights
            self.velocity_b = self.momentum * self.velocity_b - self.learning_rate * grad_biases
            self.weights = self.weights + self.velocity_w
            self.biases = self.biases + self.velocity_b
            return grad_input
''')


FLOAT32_PARAMS = dense_cell(
    init=textwrap.indent(code('''
        def __init__(self, input_units, output_units, learning_rate=0.1):
            """Parameters kept in float32: half the memory, and training is just as good."""
            self.learning_rate = learning_rate
            self.weights = (np.random.randn(input_units, output_units) * 0.01).astype(np.float32)
            self.biases = np.zeros(output_units, dtype=np.float32)
    '''), "    "),
    fwd=fwd("return input.astype(np.float32) @ self.weights.astype(np.float32) + self.biases.astype(np.float32)"),
    bwd=bwd_body('''
        X32, G32 = input.astype(np.float32), grad_output.astype(np.float32)
        grad_input = G32 @ self.weights.astype(np.float32).T
        grad_weights = X32.T @ G32
        grad_biases = G32.sum(axis=0)

        assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
        self.weights = (self.weights - self.learning_rate * grad_weights).astype(np.float32)
        self.biases = (self.biases - self.learning_rate * grad_biases).astype(np.float32)

        return grad_input
    '''),
)
L2_REDEFINITION = code('''
    class Dense(Dense):
        """Optional extension: L2 weight decay (tried with 1e-2, kept as the default)."""

        def __init__(self, input_units, output_units, learning_rate=0.1, l2=1e-2):
            super().__init__(input_units, output_units, learning_rate)
            self.l2 = l2

        def backward(self, input, grad_output):
            grad_input = grad_output @ self.weights.T
            grad_weights = input.T @ grad_output + self.l2 * self.weights
            grad_biases = grad_output.sum(axis=0)
            self.weights = self.weights - self.learning_rate * grad_weights
            self.biases = self.biases - self.learning_rate * grad_biases
            return grad_input
''')


def l2_redefinition_cells() -> list[Cell]:
    return insert_after(solution_cells(), "dense", Cell("md-ext", "markdown", "### Extension: L2 regularisation"),
                        Cell("dense-l2", "code", L2_REDEFINITION))


def messy_cells() -> list[Cell]:
    cells = solution_cells()
    count = iter(range(1, 100))

    def run(cell: Cell, *outputs: dict) -> Cell:
        return replace(cell, outputs=tuple(outputs), execution_count=next(count))

    stream = lambda text: {"output_type": "stream", "name": "stdout", "text": text}  # noqa: E731
    error = lambda ename, evalue: {"output_type": "error", "ename": ename, "evalue": evalue,  # noqa: E731
                                   "traceback": [f"\u001b[0;31m{ename}\u001b[0m: {evalue}"]}
    top = [
        run(Cell("magic", "code", "%matplotlib inline")),
        run(Cell("pip", "code", "!pip install tqdm"),
            stream("Requirement already satisfied: tqdm in /usr/local/lib/python3.10/dist-packages (4.66.1)\n")),
        run(Cell("imports", "code", "import numpy as np\nimport matplotlib.pyplot as plt\nfrom tqdm import trange")),
        run(Cell("mnist", "code", code('''
            from keras.datasets import mnist
            (X_train, y_train), (X_test, y_test) = mnist.load_data()
            X_train = X_train.reshape(-1, 784) / 255.0
            X_test = X_test.reshape(-1, 784) / 255.0
        ''')), error("ModuleNotFoundError", "No module named 'keras'")),
        run(Cell("peek", "code", "plt.imshow(X_train[0].reshape(28, 28), cmap='gray')\nplt.show()"),
            error("NameError", "name 'X_train' is not defined")),
    ]
    graded = []
    for c in cells:
        if c.key == "imports":
            continue
        if c.kind == "code" and c.key != "demo":
            c = run(c)
        if c.key == "selfcheck":
            c = replace(c, outputs=(stream("Shapes look right.\n"),))
        graded.append(c)
    cells = graded[:1] + top + graded[1:]
    tail = [
        run(Cell("mnist-train", "code", code('''
            network = [Dense(784, 100), ReLU(), Dense(100, 200), ReLU(), Dense(200, 10)]
            train_log = []
            for epoch in trange(25):
                for start in range(0, len(X_train), 32):
                    train(network, X_train[start:start + 32], y_train[start:start + 32])
                train_log.append(np.mean(predict(network, X_test) == y_test))
                print("Epoch", epoch, "val accuracy:", train_log[-1])
        ''')), error("NameError", "name 'X_train' is not defined")),
        run(Cell("plot-unfinished", "code", code('''
            plt.plot(train_log, label='val accuracy'
            plt.legend(loc='best')
            plt.grid()
            plt.show()
        ''')), error("SyntaxError", "'(' was never closed (2823, line 1)")),
        Cell("notes", "markdown", "Didn't have time to finish the plot, the layer works though :)"),
    ]
    return cells + tail


def subclass_cells() -> list[Cell]:
    cells = solution_cells()
    return insert_after(cells, "dense", Cell("md-ext", "markdown", "### Extensions (optional)"),
                        Cell("dense-ext", "code", EXTENSIONS))


# ---- classic (public notebook style) ------------------------------------------------------

CLASSIC_LAYER = code('''
    class Layer:
        """
        A building block. Each layer is capable of performing two things:
        - Process input to get output:           output = layer.forward(input)
        - Propagate gradients through itself:    grad_input = layer.backward(input, grad_output)
        """
        def __init__(self):
            pass

        def forward(self, input):
            return input

        def backward(self, input, grad_output):
            num_units = input.shape[1]
            d_layer_d_input = np.eye(num_units)
            return np.dot(grad_output, d_layer_d_input)  # chain rule
''')
CLASSIC_TRAIN = code('''
    def train(network, X, y):
        """Train the network on a batch: forward, loss, backward through every layer."""
        layer_activations = forward(network, X)
        layer_inputs = [X] + layer_activations
        logits = layer_activations[-1]

        loss = softmax_crossentropy_with_logits(logits, y)
        loss_grad = grad_softmax_crossentropy_with_logits(logits, y)

        for layer_index in range(len(network))[::-1]:
            layer = network[layer_index]
            loss_grad = layer.backward(layer_inputs[layer_index], loss_grad)

        return np.mean(loss)
''')


def classic_cells(backward: str) -> Callable[[], list[Cell]]:
    def build() -> list[Cell]:
        cells = solution_cells()
        cells = set_cell(cells, "layer", CLASSIC_LAYER)
        cells = set_cell(cells, "dense", dense_cell(
            fwd=fwd("return np.dot(input, self.weights) + self.biases"), bwd=bwd_body(backward)))
        return set_cell(cells, "train", CLASSIC_TRAIN)
    return build


CLASSIC_UPDATE_FIRST = '''
    grad_weights = np.dot(input.T, grad_output)
    grad_biases = grad_output.mean(axis=0) * input.shape[0]

    assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
    # Here we perform a stochastic gradient descent step.
    self.weights = self.weights - self.learning_rate * grad_weights
    self.biases = self.biases - self.learning_rate * grad_biases

    grad_input = np.dot(grad_output, self.weights.T)
    return grad_input
'''
CLASSIC_MEAN = '''
    grad_input = np.dot(grad_output, self.weights.T)
    grad_weights = np.dot(input.T, grad_output) / input.shape[0]
    grad_biases = grad_output.mean(axis=0)

    assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
    # Here we perform a stochastic gradient descent step.
    self.weights = self.weights - self.learning_rate * grad_weights
    self.biases = self.biases - self.learning_rate * grad_biases

    return grad_input
'''

# ---- loops ---------------------------------------------------------------------------

LOOP_DENSE = dense_cell(
    fwd=fwd('''
        output = np.zeros((input.shape[0], self.weights.shape[1]))
        for n in range(input.shape[0]):
            output[n] = input[n] @ self.weights + self.biases
        return output
    '''),
    bwd=swap(DENSE_BACKWARD, GRAD_LINES, textwrap.indent(code('''
        grad_input = np.zeros(input.shape)
        grad_weights = np.zeros(self.weights.shape)
        grad_biases = np.zeros(self.biases.shape)
        for n in range(input.shape[0]):
            grad_input[n] = self.weights @ grad_output[n]
            grad_weights += np.outer(input[n], grad_output[n])
            grad_biases += grad_output[n]
    '''), "        ") + "\n"),
)
TRIPLE_LOOP_DENSE = dense_cell(
    fwd=fwd('''
        n_samples, n_in = input.shape
        n_out = self.weights.shape[1]
        output = np.zeros((n_samples, n_out))
        for n in range(n_samples):
            for j in range(n_out):
                total = self.biases[j]
                for i in range(n_in):
                    total += input[n, i] * self.weights[i, j]
                output[n, j] = total
        return output
    '''),
    bwd=swap(DENSE_BACKWARD, GRAD_LINES, textwrap.indent(code('''
        n_samples, n_in = input.shape
        n_out = self.weights.shape[1]
        grad_input = np.zeros((n_samples, n_in))
        grad_weights = np.zeros((n_in, n_out))
        grad_biases = np.zeros(n_out)
        for n in range(n_samples):
            for j in range(n_out):
                grad_biases[j] += grad_output[n, j]
                for i in range(n_in):
                    grad_input[n, i] += grad_output[n, j] * self.weights[i, j]
                    grad_weights[i, j] += input[n, i] * grad_output[n, j]
    '''), "        ") + "\n"),
)

FAIL_FWD = ["dense-forward", "dense-gradcheck"]
FAIL_BWD_W = ["dense-update-weights", "dense-gradcheck", "dense-batch-semantics"]
FAIL_BWD_B = ["dense-update-biases", "dense-gradcheck", "dense-batch-semantics"]
DEAD_DENSE = [c for c in ALL_DENSE]  # Dense unusable: every dense-* check

SUBMISSIONS: list[Submission] = [
    # ---------------- correct ----------------
    Submission("reference", "The reference solution, written the way the notebook asks."),
    Submission("correct_matmul_operator", "Correct; np.matmul / @ with np.transpose and an explicit bias row.",
               cells=with_cell("dense", MATMUL)),
    Submission("correct_np_dot", "Correct; np.dot everywhere, np.sum for the bias.",
               cells=with_cell("dense", NP_DOT)),
    Submission("correct_einsum", "Correct; np.einsum for the forward pass and all three gradients.",
               cells=with_cell("dense", EINSUM)),
    Submission("correct_tensordot", "Correct; np.tensordot with explicit axes.",
               cells=with_cell("dense", TENSORDOT)),
    Submission("correct_inplace_update",
               "Correct; in-place SGD step (self.weights -= ...): the worker must copy W before the call "
               "and set writable parameter arrays.",
               cells=with_cell("dense", INPLACE)),
    Submission("correct_ones_column_bias",
               "Correct; folds the bias into the weights with a ones column ([X, 1] @ [[W], [b]]) in forward "
               "and backward.",
               cells=with_cell("dense", ONES_COLUMN)),
    Submission("correct_float32",
               "Correct maths computed in float32 (outputs float32, parameters stay float64 after the step): "
               "relative error ~1e-7, passes every check with a float32-downcast note (the gradcheck must "
               "tolerate float32 rounding).",
               diagnoses=("float32-downcast",), cells=with_cell("dense", FLOAT32)),
    Submission("correct_float32_params",
               "Correct; weights AND biases kept in float32 throughout (float32 at construction, forward and "
               "backward compute in float32, the step is stored back as float32). Reading the gradient back "
               "through (b - b')/lr amplifies float32 rounding by 1/lr, and rounding the grader's float64 "
               "parameters to float32 is not movement: full marks with only the float32-downcast warning.",
               diagnoses=("float32-downcast",), cells=with_cell("dense", FLOAT32_PARAMS)),
    Submission("float32_params_bias_mean",
               "The float32-parameter layer of correct_float32_params with one real mistake: db = mean(G). The "
               "wider float32 tolerance still names it (and only it, besides the float32 warning).",
               failed=("dense-update-biases", "dense-gradcheck", "dense-batch-semantics"),
               diagnoses=("grad-bias-mean", "float32-downcast"),
               cells=with_cell("dense", swap(FLOAT32_PARAMS, "grad_biases = G32.sum(axis=0)", "grad_biases = G32.mean(axis=0)"))),
    Submission("mean_version_correct",
               "The older version of the assignment, solved: its loss gradient is not divided by N and its "
               "Dense averages (dW = X^T G / N, db = mean(G)). Full marks under its own rubric "
               "(dense_layer_mean); under the sum rubric it gets the version note plus the mean codes "
               "(tests/test_versions.py).",
               cells=mean_solution_cells, assignment="dense_layer_mean"),
    Submission("redefined_l2_costs_points",
               "Correct Dense, then a later cell redefines `class Dense(Dense)` with L2 weight decay left on "
               "(l2=1e-2 by default): the grade uses the later Dense (the weight step has an extra l2*W), and "
               "the report says that the earlier definition would have scored full marks.",
               failed=("dense-update-weights", "dense-gradcheck", "dense-batch-semantics"),
               diagnoses=("grad-weights-wrong",), cells=l2_redefinition_cells),
    Submission("correct_python_file", "Correct; handed in as a plain .py module, demo under a __main__ guard.",
               fmt="py"),
    Submission("correct_colab",
               "Correct; saved by Colab (nbformat 4.0, colab/accelerator metadata, ids in cell metadata).",
               style="colab"),
    Submission("correct_vscode", "Correct; saved by VS Code (nbformat 4.2, vscode metadata, no cell ids).",
               style="vscode"),
    Submission("correct_jupyterlab_nbformat45", "Correct; saved by JupyterLab (nbformat 4.5, uuid cell ids).",
               style="jupyterlab"),
    Submission("correct_messy",
               "Correct graded code among messy cells: %matplotlib and !pip magics, a failing keras MNIST "
               "download, plt.show(), a top-level MNIST training loop on undefined data, an unfinished "
               "(syntax error) plotting cell, stored outputs and execution counts.",
               cells=messy_cells),
    Submission("correct_subclass_extensions",
               "Correct; a later cell redefines `class Dense(Dense)` with L2 and momentum (both 0 by default, "
               "so the step is plain SGD) and Xavier init std sqrt(2/(in+out)) (within dense-init's range when "
               "in+out >= 8). The grader must run cells in order and grade the last Dense.",
               cells=subclass_cells),
    # ---------------- classic notebook, as handed in ----------------
    Submission("classic_update_before_grad",
               "Public-notebook style (np.dot, eye() in Layer.backward, mean*N bias) with the SGD step BEFORE "
               "grad_input: grad_input = G W'^T. Fails grad-input, the gradcheck (grad_input disagrees with "
               "the finite differences of forward) and batch semantics (grad_input row n depends on the other "
               "samples through W').",
               failed=("dense-grad-input", "dense-gradcheck", "dense-batch-semantics"),
               diagnoses=("update-before-grad-input",), cells=classic_cells(CLASSIC_UPDATE_FIRST)),
    Submission("classic_mean_convention",
               "Public-notebook style from the earlier version that asked for the MEAN over the batch "
               "(dW = X^T G / N, db = mean(G)); wrong under the default sum convention (right if an "
               "instructor configures 'mean').",
               failed=tuple(FAIL_BWD_W + FAIL_BWD_B),
               diagnoses=("grad-weights-mean", "grad-bias-mean"), cells=classic_cells(CLASSIC_MEAN)),
    # ---------------- forward ----------------
    Submission("forward_missing_bias",
               "forward returns X @ W (no bias) while backward updates the biases: the gradcheck sees d/db "
               "of forward = 0 vs the update sum(G). Backward checks keep their points.",
               failed=tuple(FAIL_FWD), diagnoses=("forward-missing-bias",),
               cells=with_dense(fwd=fwd("return input @ self.weights"))),
    Submission("forward_transposed_weights",
               "forward uses W.T: ValueError (shapes) for in != out, X @ W.T in the square case. Every check "
               "that calls forward on in != out fails (forward, gradcheck, side-effects, timing); batch-semantics "
               "skips forward's row test when forward raises; backward-only checks pass.",
               failed=tuple(USES_FORWARD), diagnoses=("forward-transposed-weights",),
               cells=with_dense(fwd=fwd("return input @ self.weights.T + self.biases"))),
    Submission("forward_wrong", "forward returns (X @ W) * 2 + b; no mutant matches. Gradcheck: d/dX of "
               "forward is 2 G W^T vs backward's G W^T.",
               failed=tuple(FAIL_FWD), diagnoses=("forward-wrong",),
               cells=with_dense(fwd=fwd("return input @ self.weights * 2 + self.biases"))),
    Submission("weights_shape",
               "Stores W as (out, in) and uses .T consistently (X @ W.T, G @ W, dW = G^T X). The grader hands "
               "it parameters in its own storage convention (it probes Dense(5, 3) once and transposes for every "
               "size, square included), so the one interface mistake is charged once, in dense-interface.",
               failed=("dense-interface",),
               diagnoses=("weights-shape",),
               cells=with_dense(
                   init=swap(DENSE_INIT, "np.random.randn(input_units, output_units)",
                             "np.random.randn(output_units, input_units)"),
                   fwd=fwd("return input @ self.weights.T + self.biases"),
                   bwd=grads("grad_output @ self.weights", "grad_output.T @ input"))),
    Submission("init_scale", "Initial weights randn * 1.0 (std 1, outside 0.001..0.5); everything else correct.",
               failed=("dense-init",), diagnoses=("init-scale",),
               cells=with_dense(init=swap(DENSE_INIT, "* 0.01", "* 1.0"))),
    # ---------------- grad_input ----------------
    Submission("grad_input_transposed",
               "grad_input = G @ W.reshape(out, in): reshape instead of transpose, so shapes always fit; "
               "equals G W in the square case, scrambled otherwise. Row n still depends only on G row n, so "
               "batch semantics pass.",
               failed=("dense-grad-input", "dense-gradcheck"), diagnoses=("grad-input-transposed",),
               cells=with_dense(bwd=grads(
                   "grad_output @ self.weights.reshape(self.weights.shape[1], self.weights.shape[0])"))),
    Submission("grad_input_wrong",
               "grad_input = (G @ W.T) * input (activation-derivative confusion); still row-wise, so batch "
               "semantics pass.",
               failed=("dense-grad-input", "dense-gradcheck"), diagnoses=("grad-input-wrong",),
               cells=with_dense(bwd=grads("np.dot(grad_output, self.weights.T) * input"))),
    Submission("update_before_grad_input",
               "Moves the given SGD step above grad_input: grad_input = G W'^T. Fails grad-input, gradcheck and "
               "batch semantics (row n of grad_input depends on the other samples through W').",
               failed=("dense-grad-input", "dense-gradcheck", "dense-batch-semantics"),
               diagnoses=("update-before-grad-input",),
               cells=with_dense(bwd=bwd_body('''
                   grad_weights = input.T @ grad_output
                   grad_biases = grad_output.sum(axis=0)

                   assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
                   self.weights = self.weights - self.learning_rate * grad_weights
                   self.biases = self.biases - self.learning_rate * grad_biases

                   grad_input = grad_output @ self.weights.T
                   return grad_input
               ''')))
    ,
    # ---------------- grad_weights ----------------
    Submission("grad_weights_mean", "dW = X^T G / N (mean); the duplicated batch no longer doubles the update.",
               failed=tuple(FAIL_BWD_W), diagnoses=("grad-weights-mean",),
               cells=with_dense(bwd=grads(grad_weights="input.T @ grad_output / input.shape[0]"))),
    Submission("grad_weights_transposed",
               "dW = (G^T X).reshape(W.shape): transposed values poured into W's shape. Still linear and a sum "
               "over samples, so batch semantics pass.",
               failed=("dense-update-weights", "dense-gradcheck"), diagnoses=("grad-weights-transposed",),
               cells=with_dense(bwd=grads(grad_weights="(grad_output.T @ input).reshape(self.weights.shape)"))),
    Submission("grad_weights_wrong",
               "dW = outer(sum_n X_n, sum_n G_n): sums the batch before the product (right only for N = 1), so "
               "the batch update is not the sum of per-sample updates.",
               failed=tuple(FAIL_BWD_W), diagnoses=("grad-weights-wrong",),
               cells=with_dense(bwd=grads(grad_weights="np.outer(input.sum(axis=0), grad_output.sum(axis=0))"))),
    # ---------------- grad_biases ----------------
    Submission("grad_bias_mean", "db = mean of G over the batch.",
               failed=tuple(FAIL_BWD_B), diagnoses=("grad-bias-mean",),
               cells=with_dense(bwd=grads(grad_biases="grad_output.mean(axis=0)"))),
    Submission("grad_bias_not_summed", "db = G[0]: the first sample's row only.",
               failed=tuple(FAIL_BWD_B), diagnoses=("grad-bias-not-summed",),
               cells=with_dense(bwd=grads(grad_biases="grad_output[0]"))),
    Submission("grad_bias_wrong_axis",
               "db = np.resize(G.sum(axis=1), out): sums over the outputs (one value per sample), resized to "
               "pass the shape assert. Not a per-sample sum, so batch semantics fail.",
               failed=tuple(FAIL_BWD_B), diagnoses=("grad-bias-wrong-axis",),
               cells=with_dense(bwd=grads(grad_biases="np.resize(grad_output.sum(axis=1), self.biases.shape)"))),
    Submission("grad_bias_wrong_axis_total",
               "db = sum of all of G, broadcast to (out,) to pass the assert. Linear and additive over samples, "
               "so batch semantics still pass; update-biases and the gradcheck fail.",
               failed=("dense-update-biases", "dense-gradcheck"), diagnoses=("grad-bias-wrong-axis",),
               cells=with_dense(bwd=grads(grad_biases="np.sum(grad_output) * np.ones_like(self.biases)"))),
    # ---------------- the step ----------------
    Submission("update_sign", "Gradient ascent: W + lr*dW and b + lr*db. Linear, so batch semantics pass.",
               failed=("dense-update-weights", "dense-update-biases", "dense-gradcheck"),
               diagnoses=("update-sign",),
               cells=with_dense(bwd=swap(DENSE_BACKWARD, SGD_LINES,
                                         "        self.weights = self.weights + self.learning_rate * grad_weights\n"
                                         "        self.biases = self.biases + self.learning_rate * grad_biases\n"))),
    Submission("learning_rate_ignored",
               "Fixed step 0.1 instead of self.learning_rate. Fails the update checks (lr = 0.037) and the "
               "gradcheck, which reads gradients as dW/lr (assumes it uses a non-default lr too).",
               failed=("dense-update-weights", "dense-update-biases", "dense-gradcheck"),
               diagnoses=("learning-rate-ignored",),
               cells=with_dense(bwd=swap(DENSE_BACKWARD, SGD_LINES,
                                         "        self.weights = self.weights - 0.1 * grad_weights\n"
                                         "        self.biases = self.biases - 0.1 * grad_biases\n"))),
    Submission("no_update",
               "The SGD step lines are deleted: W and b never change. Batch semantics hold vacuously "
               "(0 = sum of 0s, 0 doubled is 0), so only the update checks and the gradcheck fail.",
               failed=("dense-update-weights", "dense-update-biases", "dense-gradcheck"),
               diagnoses=("no-update",),
               cells=with_dense(bwd=swap(DENSE_BACKWARD, SGD_LINES, ""))),
    # ---------------- side effects ----------------
    Submission("mutates_input",
               "forward centres the caller's X in place (input -= mean) and adds mean @ W back, so its outputs "
               "are right but X is changed (and a second forward on the same array differs).",
               failed=("dense-side-effects",), diagnoses=("mutates-input",),
               cells=with_dense(fwd=fwd('''
                   # centre the data for numerical stability, then add the mean's contribution back
                   mean = input.mean(axis=0)
                   input -= mean
                   return input @ self.weights + (mean @ self.weights + self.biases)
               '''))),
    Submission("mutates_grad_output",
               "backward zeroes grad_output in place after using it (a PyTorch zero_grad habit); outputs right.",
               failed=("dense-side-effects",), diagnoses=("mutates-grad-output",),
               cells=with_dense(bwd=swap(DENSE_BACKWARD, "        return grad_input",
                                         "        grad_output[...] = 0  # reset the gradient for the next step\n"
                                         "        return grad_input"))),
    Submission("stateful_forward",
               "forward caches its first output and returns it on every later call. A fresh layer's first "
               "call is right (dense-forward passes); repeated calls (side-effects, gradcheck) see stale output.",
               failed=("dense-gradcheck", "dense-side-effects"), diagnoses=("stateful-forward",),
               cells=with_dense(fwd=fwd('''
                   if getattr(self, "_cached_output", None) is None:
                       self._cached_output = input @ self.weights + self.biases
                   return self._cached_output
               '''))),
    Submission("batch_coupling",
               "forward standardises each input column over the batch before X @ W + b, so a sample's output "
               "depends on the others. Backward is the textbook one (backward checks pass); the gradcheck "
               "fails because forward is no longer X @ W + b, and dense-batch-semantics' forward "
               "row-independence test fails.",
               failed=tuple(FAIL_FWD) + ("dense-batch-semantics",), diagnoses=("batch-coupling",),
               cells=with_dense(fwd=fwd('''
                   normalised = (input - input.mean(axis=0)) / (input.std(axis=0) + 1e-8)
                   return normalised @ self.weights + self.biases
               '''))),
    Submission("nondeterministic",
               "forward adds Gaussian noise of std 1e-3 ('regularisation'): repeated calls disagree, values "
               "are off by ~1e-3 (dense-forward fails), the finite differences are noisy and forward's "
               "row-independence test is skipped because forward does not repeat itself (no batch-coupling).",
               failed=("dense-forward", "dense-gradcheck", "dense-side-effects"),
               diagnoses=("nondeterministic",),
               cells=with_dense(fwd=fwd('''
                   output = input @ self.weights + self.biases
                   return output + np.random.normal(scale=1e-3, size=output.shape)
               '''))),
    Submission("nan_or_inf",
               "forward round-trips through exp(log(Z)) 'for stability': NaN wherever Z < 0. "
               "NaN rows are not coupling: row-independence and repeatability must compare with "
               "equal_nan (batch-semantics and side-effects pass), and network checks compare the "
               "student's forward(network, X) with its own layers, NaN for NaN.",
               failed=tuple(FAIL_FWD), diagnoses=("nan-or-inf",),
               cells=with_dense(fwd=fwd('''
                   output = input @ self.weights + self.biases
                   return np.exp(np.log(output))
               '''))),
    # ---------------- speed ----------------
    Submission("python_loop", ("Per-sample Python loop in forward and backward; values right. Measured 11-21x slower than the "
                "reference (2 cores, threaded BLAS, N=128..4096): fails only if the timing curve gives no marks "
                "beyond ~10x."),
               failed=("dense-timing",), diagnoses=("python-loop",), cells=with_cell("dense", LOOP_DENSE)),
    Submission("python_triple_loop",
               "Element-wise triple loops in forward and backward; values right, very slow (the timing check "
               "must cap its sizes or time out). The learning run's 90 steps would need ~10-20 s of CPU: it "
               "stops after its first 2 steps, and a run that stops early does not pass network-learns.",
               failed=("dense-timing", "network-learns"), diagnoses=("python-loop",), cells=with_cell("dense", TRIPLE_LOOP_DENSE)),
    # ---------------- ReLU and network ----------------
    Submission("relu_wrong", "ReLU.forward = np.maximum(1, x).",
               failed=("relu-forward",), diagnoses=("relu-wrong",),
               cells=with_cell("relu", relu_cell("        return np.maximum(1, input)"))),
    Submission("network_forward_wrong",
               "forward(network, X) appends after the loop (indentation slip) and returns only the last "
               "activation. train calls this forward, so train-step fails too.",
               failed=("network-forward", "train-step"), diagnoses=("network-forward-wrong",),
               cells=with_cell("net-forward", NET_FORWARD_HEAD + "\n" + swap(
                   NET_FORWARD, "        activations.append(input)\n\n    assert len(activations) == len(network)\n",
                   "    activations.append(input)\n\n"))),
    Submission("train_skips_layer", "The backward loop is range(len(network) - 1, 0, -1): layer 0 never trains.",
               failed=("train-step",), diagnoses=("train-skips-layer",),
               cells=with_cell("train", TRAIN_HEAD + "\n" + swap(
                   TRAIN, "range(len(network))[::-1]", "range(len(network) - 1, 0, -1)"))),
    Submission("train_wrong", "train negates the loss gradient (gradient ascent through the whole network).",
               failed=("train-step",), diagnoses=("train-wrong",),
               cells=with_cell("train", TRAIN_HEAD + "\n" + swap(
                   TRAIN, "loss_grad = grad_softmax", "loss_grad = -grad_softmax"))),
    # ---------------- broken code ----------------
    Submission("syntax_error",
               "Unfinished line in Dense.forward (a parenthesis never closed): the Dense cell does not parse, "
               "so Dense is missing; ReLU and the network functions are in other cells and keep their points.",
               failed=tuple(DEAD_DENSE), diagnoses=("syntax-error",),
               cells=with_dense(fwd=fwd("return np.dot(input, self.weights + self.biases"))),
    Submission("not_implemented",
               "The untouched student notebook. The given __init__ keeps dense-interface and dense-init "
               "(signatures and fresh parameters are right); everything the student had to write fails.",
               failed=tuple(c for c in CHECKS if c not in ("dense-interface", "dense-init")),
               diagnoses=("not-implemented",), cells=student_cells),
    Submission("missing_definition",
               "The class is named DenseLayer instead of Dense (demo updated to match): Dense is absent.",
               failed=tuple(DEAD_DENSE), diagnoses=("missing-definition",),
               cells=lambda: [replace(c, source=c.source.replace("Dense(", "DenseLayer(")
                                      .replace("class Dense(Layer)", "class DenseLayer(Layer)"))
                              if c.key in ("dense", "selfcheck", "demo") else c for c in solution_cells()]),
    Submission("interface_changed",
               "Dense.__init__ takes a required extra positional argument (init_std) before learning_rate: "
               "Dense(in, out) raises TypeError, so no Dense check can construct a layer.",
               failed=tuple(DEAD_DENSE), diagnoses=("interface-changed",),
               cells=lambda: [
                   replace(c, source=c.source.replace("Dense(2, 32, ", "Dense(2, 32, 0.01, ")
                           .replace("Dense(32, 3, ", "Dense(32, 3, 0.01, ")
                           .replace("Dense(3, 4)", "Dense(3, 4, 0.01)").replace("Dense(4, 2)", "Dense(4, 2, 0.01)"))
                   if c.key in ("selfcheck", "demo") else c
                   for c in with_dense(init=swap(swap(
                       DENSE_INIT, "output_units, learning_rate=0.1", "output_units, init_std, learning_rate=0.1"),
                       "* 0.01", "* init_std"))()]),
    Submission("exception",
               "forward indexes self.biases[out] (off by one): IndexError on every call. The checks that call "
               "forward fail with the student's traceback; backward checks pass.",
               failed=tuple(USES_FORWARD), diagnoses=("exception",),
               cells=with_dense(fwd=fwd("return input @ self.weights + self.biases[self.weights.shape[1]]"))),
    Submission("timeout",
               "forward's while loop never increments its counter: loops forever. Self-check and demo cells "
               "removed so that loading the notebook does not hang.",
               failed=tuple(USES_FORWARD), diagnoses=("timeout",),
               cells=with_dense(drop_calls=True, fwd=fwd('''
                   output = np.zeros((input.shape[0], self.weights.shape[1]))
                   n = 0
                   while n < input.shape[0]:
                       output[n] = input[n] @ self.weights + self.biases
                   return output
               '''))),
    Submission("crash",
               "forward calls os._exit(3): the worker dies with no reply. Self-check and demo cells removed "
               "so that loading the notebook survives.",
               failed=tuple(USES_FORWARD), diagnoses=("crash",),
               cells=with_dense(drop_calls=True, extra_import="import os", fwd=fwd('''
                   os._exit(3)
                   return input @ self.weights + self.biases
               '''))),
    Submission("memory_limit",
               "forward grows a buffer by doubling until its length equals 3N, which never happens: memory "
               "grows without bound (MemoryError under RLIMIT_AS, or killed). Self-check and demo removed.",
               failed=tuple(USES_FORWARD), diagnoses=("memory-limit",),
               cells=with_dense(drop_calls=True, fwd=fwd('''
                   buffer = np.zeros((1, self.weights.shape[1]))
                   while buffer.shape[0] != 3 * input.shape[0]:  # grow the preallocated buffer
                       buffer = np.concatenate([buffer, buffer])
                   return input @ self.weights + self.biases
               '''))),
    Submission("output_flood",
               "forward prints ~8 MB of debug text on every call (twice the limit, so each call alone floods) (values right). Assumes the flood costs the "
               "checks during which it happens. Self-check and demo removed.",
               failed=tuple(USES_FORWARD), diagnoses=("output-flood",),
               cells=with_dense(drop_calls=True, fwd=fwd('''
                   output = input @ self.weights + self.biases
                   print("DEBUG Dense.forward: computing output ...\\n" * 200_000)
                   return output
               '''))),
    # ---------------- the same codes reached another way (shape assert, placeholders) ----------------
    Submission("grad_bias_not_reduced",
               "db = grad_output (no reduction, shape (N, out)): the given shape assert stops backward; the grader "
               "reads grad_biases from the failing frame and names the missing sum. grad_input and grad_weights "
               "(read from the same frame) are right; every check that needs backward to finish fails.",
               failed=("dense-update-biases", "dense-gradcheck", "dense-batch-semantics", "dense-side-effects", "dense-timing"),
               diagnoses=("grad-bias-not-summed",),
               cells=with_dense(bwd=grads(grad_biases="grad_output"))),
    Submission("grad_bias_axis1_assert",
               "db = grad_output.sum(axis=1): one value per sample, shape (N,): the shape assert fires; named from "
               "the frame's grad_biases.",
               failed=("dense-update-biases", "dense-gradcheck", "dense-batch-semantics", "dense-side-effects", "dense-timing"),
               diagnoses=("grad-bias-wrong-axis",),
               cells=with_dense(bwd=grads(grad_biases="grad_output.sum(axis=1)"))),
    Submission("grad_weights_transposed_assert",
               "dW = G^T X, shape (out, in): the shape assert fires when in != out; the square case passes the assert "
               "with W^T values. Named from the frame's grad_weights. G^T X is still a sum over samples, so "
               "batch semantics (judged on the frame's arrays) pass.",
               failed=("dense-update-weights", "dense-gradcheck", "dense-side-effects", "dense-timing"),
               diagnoses=("grad-weights-transposed",),
               cells=with_dense(bwd=grads(grad_weights="grad_output.T @ input"))),
    Submission("grad_input_transposed_shape",
               "grad_input = G @ W: ValueError when in != out (before the step), G·W in the square case. The "
               "square case names it; backward cannot finish elsewhere, so every backward check fails.",
               failed=("dense-grad-input", "dense-update-weights", "dense-update-biases", "dense-gradcheck",
                       "dense-batch-semantics", "dense-side-effects", "dense-timing"),
               diagnoses=("grad-input-transposed",),
               cells=with_dense(bwd=grads("grad_output @ self.weights"))),
    Submission("not_implemented_pass",
               "forward's body is `pass` (returns None); backward is written. Forward checks say not-implemented.",
               failed=("dense-forward", "dense-gradcheck", "dense-side-effects", "dense-timing"),
               diagnoses=("not-implemented",),
               cells=with_dense(fwd=fwd("pass"))),
    Submission("not_implemented_backward",
               "forward written; backward still has the skeleton's `grad_x = ...` lines (the raise deleted): the "
               "shape assert meets an Ellipsis. Named not-implemented, not a bare exception.",
               failed=("dense-grad-input", "dense-update-weights", "dense-update-biases", "dense-gradcheck",
                       "dense-batch-semantics", "dense-side-effects", "dense-timing"),
               diagnoses=("not-implemented",),
               cells=with_dense(bwd=swap(DENSE_BACKWARD, GRAD_LINES,
                                         "        grad_input = ...\n        grad_weights = ...\n        grad_biases = ...\n"))),
    Submission("init_bias_nonzero", "Biases start at ones instead of zeros; everything else correct.",
               failed=("dense-init",), diagnoses=("init-scale",),
               cells=with_dense(init=swap(DENSE_INIT, "np.zeros(output_units)", "np.ones(output_units)"))),
    Submission("stateful_counter",
               "forward counts its calls and shrinks the output by 0.1% per earlier call ('annealing'): a fresh "
               "layer's first call is right, later calls drift by ~1e-3 (as small as noise, but two fresh layers "
               "agree, so it is state, not randomness).",
               failed=("dense-gradcheck", "dense-side-effects"), diagnoses=("stateful-forward",),
               cells=with_dense(fwd=fwd('''
                   self.calls = getattr(self, "calls", 0) + 1
                   return (input @ self.weights + self.biases) * (1 - 1e-3 * (self.calls - 1))
               '''))),
    # ---------------- several mistakes at once: each is named ----------------
    Submission("combined_weights_mean_bias_total",
               "Two mistakes: dW = X^T G / N (mean) and db = sum of all of G broadcast to (out,).",
               failed=("dense-update-weights", "dense-update-biases", "dense-gradcheck", "dense-batch-semantics"),
               diagnoses=("grad-weights-mean", "grad-bias-wrong-axis"),
               cells=with_dense(bwd=grads(grad_weights="input.T @ grad_output / input.shape[0]",
                                          grad_biases="np.sum(grad_output) * np.ones_like(self.biases)"))),
    Submission("combined_update_first_mean",
               "Two mistakes: the SGD step before grad_input, and the weight gradient averaged over the batch.",
               failed=("dense-grad-input", "dense-update-weights", "dense-gradcheck", "dense-batch-semantics"),
               diagnoses=("update-before-grad-input", "grad-weights-mean"),
               cells=with_dense(bwd=bwd_body('''
                   grad_weights = input.T @ grad_output / input.shape[0]
                   grad_biases = grad_output.sum(axis=0)

                   assert grad_weights.shape == self.weights.shape and grad_biases.shape == self.biases.shape
                   self.weights = self.weights - self.learning_rate * grad_weights
                   self.biases = self.biases - self.learning_rate * grad_biases

                   grad_input = grad_output @ self.weights.T
                   return grad_input
               '''))),
    Submission("combined_missing_bias_update_sign",
               "Two mistakes in two methods: forward without the bias, and gradient ascent in the step.",
               failed=("dense-forward", "dense-update-weights", "dense-update-biases", "dense-gradcheck"),
               diagnoses=("forward-missing-bias", "update-sign"),
               cells=with_dense(fwd=fwd("return input @ self.weights"),
                                bwd=swap(DENSE_BACKWARD, SGD_LINES,
                                         "        self.weights = self.weights + self.learning_rate * grad_weights\n"
                                         "        self.biases = self.biases + self.learning_rate * grad_biases\n"))),
]


def write_notebook(nb: nbformat.NotebookNode, path: Path) -> None:
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        nbformat.write(nb, f, version=4)


def main() -> int:
    names = [s.name for s in SUBMISSIONS]
    assert len(names) == len(set(names)), "duplicate submission names"
    write_notebook(to_notebook("dense_layer", student_cells()), STUDENT_NOTEBOOK)
    write_notebook(to_notebook("dense_layer_mean", mean_student_cells()), MEAN_FOLDER / "dense_layer_mean.ipynb")
    write_notebook(to_notebook("sample_submission_mean", mean_solution_cells()), MEAN_FOLDER / "sample_submission.ipynb")
    # Remove what an earlier run wrote (found through its expectation files), nothing else.
    for old in HERE.glob("*.expected.json"):
        stem = old.name[: -len(".expected.json")]
        for path in (old, HERE / f"{stem}.ipynb", HERE / f"{stem}.py"):
            path.unlink(missing_ok=True)
    for sub in SUBMISSIONS:
        cells = sub.cells()
        if sub.fmt == "py":
            (HERE / f"{sub.name}.py").write_text(to_module(cells), encoding="utf-8")
        else:
            write_notebook(to_notebook(sub.name, cells, sub.style), HERE / f"{sub.name}.ipynb")
        (HERE / f"{sub.name}.expected.json").write_text(
            json.dumps(sub.expectation(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {STUDENT_NOTEBOOK.relative_to(ROOT)} and {len(SUBMISSIONS)} submissions to "
          f"{HERE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
