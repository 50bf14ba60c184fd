"""Generated notebooks that move graded names around, for the slicing invariant.

`generated(seed)` builds the cells of one notebook from plain `random.Random(seed)`: honest
or buggy Layer/ReLU/Dense/forward/train, then name-moving constructs in later cells (aliases,
decorators, registries and containers, closures, class and module attributes, setattr/getattr,
imports of the notebook's own names, mutation through calls, globals()/exec, del, augmented
assignment, metaclasses, __init_subclass__, __set_name__), each in a few variants, some of
which change the grade under Run All and some of which do not, mixed with noise the plan
should leave out (training loops, prints, plots).
"""

from __future__ import annotations

import importlib.util
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Generated", "generated", "honest"]


def _templates():
    """tests/submissions/build.py: the given Layer and loss cells, as every real submission has them."""
    spec = importlib.util.spec_from_file_location("submission_templates", Path(__file__).parent / "submissions" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_BUILD = _templates()
LAYER, LOSS = _BUILD.LAYER, _BUILD.LOSS

SUPPORTS = {
    "plain": ("", ""),
    "attribute": ("", "    scale = 1.0\n"),
    "settings": ("SETTINGS = {'scale': 1.0}", ""),
    "closure": (
        "def make_scale():\n    state = {'k': 1.0}\n\n    def get():\n        return state['k']\n\n"
        "    def put(value):\n        state['k'] = value\n\n    return get, put\n\n\nscale_of, set_scale_of = make_scale()",
        "",
    ),
    "hooks": ("HOOKS = []", ""),
    "shared": ("", "    calls = []\n"),
    "default": ("", ""),
}
SCALE = {
    "plain": "", "attribute": " * self.scale", "settings": " * SETTINGS['scale']", "closure": " * scale_of()", "hooks": "",
    "shared": " * (1.0 if self.calls.append(1) or len(self.calls) < 2 else 2.0)",
    "default": " * (1.0 if seen.append(1) or len(seen) < 2 else 2.0)",
}
"""How Dense.forward reads the state a later cell (or a training loop run before grading) changes."""

RELU = {
    "honest": "np.maximum(input, 0)",
    "buggy": "np.abs(input)",
}
DENSE_BIAS = {"honest": " + self.biases", "buggy": ""}
DENSE_SIGN = {"honest": "-", "buggy": "+"}
TRAIN_RANGE = {"honest": "range(len(network))[::-1]", "buggy": "range(len(network) - 1, 0, -1)"}
PAYLOAD = """\
def forward_without_bias(self, input):
    return input @ self.weights


def forward_honest(self, input):
    return input @ self.weights + self.biases


def relu_abs(self, input):
    return np.abs(input)


def double(values):
    return values * 2


def same(values):
    return values
"""
NOISE = [
    "for epoch in range(3):\n    net = [Dense(4, 3), ReLU(), Dense(3, 2)]\n    train(net, np.ones((5, 4)), np.zeros(5, dtype=int))",
    "print('shapes', [a.shape for a in forward([Dense(3, 2)], np.ones((4, 3)))])",
    "history = []\nfor step in range(5):\n    history.append(step ** 2)\nprint(history)",
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.close('all')",
    "layer = Dense(3, 4)\nassert layer.weights.shape == (3, 4)",
    "np.random.seed(7)\nX_demo = np.random.randn(6, 4)",
]


@dataclass
class Generated:
    """One generated notebook: its cells and, for messages, what went into it."""

    cells: list[str]
    parts: list[str] = field(default_factory=list)


def _target(rnd: random.Random, support: str) -> tuple[str, str]:
    """(the attribute a construct changes on Dense, its new value) for a harmful or harmless change."""
    harmful = rnd.random() < 0.7
    if support in ("attribute",) and rnd.random() < 0.5:
        return "scale", "2.0" if harmful else "1.0"
    return "forward", "forward_without_bias" if harmful else "forward_honest"


def _constructs(rnd: random.Random, support: str) -> dict[str, list[str]]:
    """Every construct, one variant each (chosen by `rnd`): name -> cells, in order."""
    attr, value = _target(rnd, support)
    harm = rnd.random() < 0.7
    amount = "2.0" if harm else "1.0"
    out: dict[str, list[str]] = {}
    alias = rnd.choice([
        ["D = Dense", f"D.{attr} = {value}"],
        ["D, R_alias = Dense, ReLU", f"D.{attr} = {value}"],
        ["HOLD = [Dense]", f"HOLD[0].{attr} = {value}"],
        ["HOLD = {'dense': Dense}", f"HOLD['dense'].{attr} = {value}"],
        ["A = Dense", "B = A", f"B.{attr} = {value}"],
        ["R_alias = ReLU", "R_alias.forward = relu_abs" if harm else "R_alias.extra = 1"],
    ])
    out["alias"] = alias
    out["decorator"] = rnd.choice([
        [f"def tweak(cls):\n    Dense.{attr} = {value}\n    return cls", "@tweak\nclass Unused:\n    pass"],
        [f"def tweak(function):\n    Dense.{attr} = {value}\n    return function", "@tweak\ndef unused():\n    return 1"],
        ["def remember(cls):\n    SEEN.append(cls)\n    return cls", "SEEN = []\n\n@remember\nclass Unused:\n    pass"],
    ])
    out["call"] = rnd.choice([
        [f"def patch(cls):\n    cls.{attr} = {value}", "patch(Dense)"],
        [f"def patch():\n    Dense.{attr} = {value}", "patch()"],
        [f"def patch():\n    global Dense\n\n    class Patched(Dense):\n        {attr} = {value}\n\n    Dense = Patched", "patch()"],
        [f"class Patcher:\n    def apply(self, cls):\n        cls.{attr} = {value}", "Patcher().apply(Dense)"],
        [f"def patch(cls):\n    cls.{attr} = {value}", "list(map(patch, [Dense]))"],
        [f"def patch(cls):\n    cls.{attr} = {value}", "def run(function, argument):\n    function(argument)", "run(patch, Dense)"],
        [f"def patch(cls):\n    cls.{attr} = {value}\n\nfixes = {{'dense': patch}}", "fixes['dense'](Dense)"],
    ])
    out["dynamic"] = rnd.choice([
        [f"setattr(Dense, '{attr}', {value})"],
        [f"name = '{attr}'\nsetattr(Dense, name, {value})"],
        [f"globals()['Dense'].{attr} = {value}"],
        [f"exec('Dense.{attr} = {value}')"],
        [f"vars()['Dense'].{attr} = {value}"],
        [f"original = getattr(Dense, '{attr}')\nDense.{attr} = {value}"],
        [f"type(Dense(2, 3)).{attr} = {value}"],
        [f"Dense(2, 3).__class__.{attr} = {value}"],
        [f"import sys\nsys.modules[__name__].Dense.{attr} = {value}"],
        [f"from __main__ import Dense as Again\nAgain.{attr} = {value}"],
        [f"import __main__\n__main__.Dense.{attr} = {value}"],
    ])
    out["hierarchy"] = rnd.choice([
        [f"class Meta(type):\n    def __init__(cls, name, bases, namespace):\n        super().__init__(name, bases, namespace)\n        Dense.{attr} = {value}",
         "class Other(metaclass=Meta):\n    pass"],
        [f"class Base2:\n    def __init_subclass__(cls, **kwargs):\n        super().__init_subclass__(**kwargs)\n        Dense.{attr} = {value}", "class Child(Base2):\n    pass"],
        [f"class Describe:\n    def __set_name__(self, owner, name):\n        Dense.{attr} = {value}", "class Holder:\n    field = Describe()"],
        ["class Wider(Dense):\n    pass", f"Wider.__bases__[0].{attr} = {value}"],
        ["del Dense.forward"] if harm else ["class Wider(Dense):\n    pass"],
        ["del Dense"] if harm else ["Dense2 = Dense\ndel Dense2"],
        ["import numpy\nnumpy.maximum = numpy.minimum" if harm else "import numpy\nnumpy.maximum = numpy.fmax"],
        ["from math import *"],
    ])
    if support == "attribute":
        out["state"] = rnd.choice([[f"Dense.scale = {amount}"], [f"Dense.scale *= {amount}"], [f"D2 = Dense\nD2.scale += {amount} - 1.0"]])
    elif support == "settings":
        out["state"] = rnd.choice([
            [f"SETTINGS['scale'] = {amount}"],
            [f"SETTINGS.update(scale={amount})"],
            ["S = SETTINGS", f"S['scale'] = {amount}"],
            [f"def set_scale(value):\n    SETTINGS['scale'] = value", f"set_scale({amount})"],
            [f"def tweak(d):\n    d['scale'] = {amount}", "tweak(SETTINGS)"],
            [f"copy = dict(SETTINGS)\ncopy['scale'] = {amount}"],
            [f"ALL = [SETTINGS]\nfor entry in ALL:\n    entry['scale'] = {amount}"],
        ])
    elif support == "closure":
        out["state"] = rnd.choice([[f"set_scale_of({amount})"], ["setters = [set_scale_of]", f"setters[0]({amount})"],
                                   [f"def later():\n    set_scale_of({amount})", "later()"]])
    elif support in ("shared", "default"):
        out["state"] = rnd.choice([
            ["Dense(2, 3).forward(np.ones((1, 2)))"],
            ["net = [Dense(2, 3), ReLU()]", "for _ in range(3):\n    forward(net, np.ones((1, 2)))"],
            ["train([Dense(2, 3)], np.ones((4, 2)), np.zeros(4, dtype=int))"],
            ["layer = Dense(2, 3)\nprint(layer.forward(np.ones((1, 2))).shape)"],
        ] if harm else [["layer = Dense(2, 3)"], ["print(Dense)"]])
    elif support == "hooks":
        hook = "double" if harm else "same"
        out["state"] = rnd.choice([
            [f"HOOKS.append({hook})"],
            [f"HOOKS.extend([{hook}])"],
            [f"HOOKS += [{hook}]"],
            ["def register_hook(function):\n    HOOKS.append(function)\n    return function", f"@register_hook\ndef hooked(values):\n    return {hook}(values)"],
            [f"hooks_alias = HOOKS\nhooks_alias.insert(0, {hook})"],
            [f"HOOKS.append(lambda values: {hook}(values))"],
        ])
    return out


def _registry(rnd: random.Random, dense: str) -> list[str]:
    """The reported case: Dense is only reachable through a registry a decorator fills."""
    return [
        "LAYERS = {}\n\n\ndef register(name):\n    def deco(cls):\n        LAYERS[name] = cls\n        return cls\n\n    return deco",
        dense.replace("class Dense(Layer):", "@register('dense')\nclass MyDense(Layer):", 1),
        rnd.choice(["Dense = LAYERS['dense']", "def get_layer(name):\n    return LAYERS[name]\n\n\nDense = get_layer('dense')"]),
    ]


def _dense(kind: str, support: str, bias_bug: bool) -> str:
    bias = DENSE_BIAS[kind] if bias_bug else " + self.biases"
    return (
        "class Dense(Layer):\n" + SUPPORTS[support][1]
        + "    def __init__(self, input_units, output_units, learning_rate=0.1):\n"
        "        self.learning_rate = learning_rate\n"
        "        self.weights = np.random.randn(input_units, output_units) * 0.01\n"
        "        self.biases = np.zeros(output_units)\n\n"
        f"    def forward(self, input{', seen=[]' if support == 'default' else ''}):\n        return (input @ self.weights{bias}){SCALE[support]}\n\n"
        "    def backward(self, input, grad_output):\n"
        "        grad_input = grad_output @ self.weights.T\n"
        f"        self.weights = self.weights {DENSE_SIGN[kind]} self.learning_rate * (input.T @ grad_output)\n"
        "        self.biases = self.biases - self.learning_rate * grad_output.sum(axis=0)\n"
        "        return grad_input\n"
    )


def _network(kinds: dict[str, str], support: str) -> list[str]:
    """The `forward` and `train` cells."""
    hook_line = "        for hook in HOOKS:\n            X = hook(X)\n" if support == "hooks" else ""
    forward = (
        "def forward(network, X):\n    activations = []\n    for layer in network:\n        X = layer.forward(X)\n"
        + hook_line
        + ("        activations.append(X)\n" if kinds["forward"] == "honest" else "        activations.insert(0, X)\n")
        + "    return activations\n"
    )
    train = (
        "def train(network, X, y):\n    layer_activations = forward(network, X)\n    layer_inputs = [X] + layer_activations\n"
        "    logits = layer_activations[-1]\n    loss = softmax_crossentropy_with_logits(logits, y)\n"
        "    loss_grad = grad_softmax_crossentropy_with_logits(logits, y)\n"
        f"    for i in {TRAIN_RANGE[kinds['train']]}:\n        loss_grad = network[i].backward(layer_inputs[i], loss_grad)\n"
        "    return np.mean(loss)\n"
    )
    return [forward, train]


def _relu(kind: str) -> str:
    return f"class ReLU(Layer):\n    def forward(self, input):\n        return {RELU[kind]}\n\n    def backward(self, input, grad_output):\n        return grad_output * (input > 0)\n"


HONEST = {"relu": "honest", "dense": "honest", "forward": "honest", "train": "honest"}


def honest(registry: bool = False) -> list[str]:
    """An honest notebook's cells (Dense found through a decorator's registry when `registry`),
    with the payload functions defined and nothing changed after them."""
    dense = _dense("honest", "plain", False)
    middle = _registry(random.Random(0), dense)[:2] + ["Dense = LAYERS['dense']"] if registry else [dense]
    return ["import numpy as np", LAYER, _relu("honest"), *middle, LOSS, *_network(HONEST, "plain"), PAYLOAD]


def generated(seed: int) -> Generated:
    """One notebook's cells, the same for the same seed."""
    rnd = random.Random(seed)
    support = rnd.choice(sorted(SUPPORTS))
    early = SUPPORTS[support][0]
    kinds = {part: rnd.choice(["honest", "honest", "buggy"]) for part in ("relu", "dense", "forward", "train")}
    dense = _dense(kinds["dense"], support, rnd.random() < 0.5)
    cells = ["import numpy as np", *([early] if early else []), LAYER, _relu(kinds["relu"])]
    parts = [f"support={support}", *(f"{k}={v}" for k, v in kinds.items())]
    if rnd.random() < 0.25:
        cells += _registry(rnd, dense)
        parts.append("registry")
    else:
        cells.append(dense)
    cells += [LOSS, *_network(kinds, support), PAYLOAD]
    constructs = _constructs(rnd, support)
    chosen = rnd.sample(sorted(constructs), k=min(len(constructs), rnd.choice([1, 2, 2, 3])))
    for name in chosen:
        parts.append(f"{name}:{constructs[name][-1].splitlines()[-1].strip()[:50]}")
        for cell in constructs[name]:
            cells.append(cell)
            if rnd.random() < 0.4:
                cells.append(rnd.choice(NOISE))
    if rnd.random() < 0.5:
        cells.insert(rnd.randrange(8, len(cells) + 1) if len(cells) > 8 else len(cells), rnd.choice(NOISE))
    return Generated(cells, parts)
