"""Statement slicing: only what the graded names need runs, and grades do not change.

The analysis runs in a real sandbox worker (the `plan` op of grader/sandbox/ops_plan.py);
each fallback case must make it run the statement. Every real submission is graded with
slicing on and off in this one process and must score the same.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import nbformat
import pytest

from conftest import SUBMISSIONS, expected_results
from slicing_notebooks import generated, honest
from grader.assignment import load_assignment
from grader.checks.base import graded_names
from grader.engine import grade_file
from grader.sandbox.client import SandboxConfig, WorkerProcess

ROOTS = list(graded_names(load_assignment()))
GIVEN = """\
import numpy as np

class Layer:
    def forward(self, input):
        return input

class Dense(Layer):
    def __init__(self, input_units, output_units, learning_rate=0.1):
        self.weights = np.random.randn(input_units, output_units) * 0.01
        self.biases = np.zeros(output_units)
        self.learning_rate = learning_rate

    def forward(self, input):
        return input @ self.weights + self.biases
"""


@pytest.fixture(scope="module")
def worker():
    process = WorkerProcess(SandboxConfig())
    yield process
    process.close()


def plan(worker: WorkerProcess, *cells: str) -> list[list[dict]]:
    reply, _ = worker.request({"op": "plan", "cells": list(cells), "roots": ROOTS})
    assert reply["ok"], reply
    return reply["cells"]


def ran(cells: list[list[dict]], cell: int) -> list[bool]:
    return [s["run"] for s in cells[cell]]


def test_training_plots_prints_and_downloads_are_left_out(worker) -> None:
    cells = plan(
        worker,
        GIVEN,
        "def forward(network, X):\n    out = []\n    for layer in network:\n        X = layer.forward(X)\n        out.append(X)\n    return out",
        "network = [Dense(2, 3)]\nhistory = []\nfor epoch in range(10**9):\n    history.append(forward(network, X_train))",
        "import matplotlib.pyplot as plt\nplt.plot(history)\nplt.show()",
        "print(forward(network, X_train)[-1])",
        "import urllib.request\ndata = urllib.request.urlopen('http://example.com').read()",
    )
    assert all(ran(cells, 0)) and all(ran(cells, 1))
    assert not any(ran(cells, 2) + ran(cells, 3) + ran(cells, 4) + ran(cells, 5))
    assert {s["why"] for c in cells[2:] for s in c} == {"not needed for grading"}


def test_dependencies_are_followed_through_bodies_bases_decorators_defaults_and_later_cells(worker) -> None:
    cells = plan(
        worker,
        "import numpy as np\nimport functools",
        "SCALE = 0.01\nUNUSED = 1",
        "class Base:\n    pass",
        "def logged(f):\n    return f",
        "class Dense(Base):\n    @logged\n    def forward(self, input, k=K_DEFAULT):\n        return helper(input) * SCALE",
        "K_DEFAULT = 3",
        "def helper(x):\n    return np.asarray(x)",
        "Dense.backward = lambda self, input, grad_output: grad_output @ TRANSPOSE(self.weights)",
        "def TRANSPOSE(w):\n    return w.T",
    )
    assert ran(cells, 0) == [True, False]  # functools is never read
    assert ran(cells, 1) == [True, False]
    assert all(all(ran(cells, i)) for i in range(2, 9)), cells


def test_locals_of_a_function_are_not_mistaken_for_globals(worker) -> None:
    cells = plan(
        worker,
        "def train(network, X, y):\n    for layer in network:\n        X = layer.forward(X)\n    return X",
        "network = [1]\nX = 2\nlayer = 3",
    )
    assert ran(cells, 1) == [False, False, False]


@pytest.mark.parametrize(
    "statement, reason, reads_anything",
    [
        pytest.param("exec('Dense = None')", "exec()", True, id="exec"),
        pytest.param("x = eval('1 + 1')", "eval()", True, id="eval"),
        pytest.param("globals()['Dense'] = None", "globals()", True, id="globals"),
        pytest.param("names = locals()", "locals()", True, id="locals"),
        pytest.param("names = vars()", "vars()", True, id="vars"),
        pytest.param("setattr([Dense][0], 'forward', None)", "setattr on a computed object", False, id="setattr-computed-target"),
        pytest.param("setattr(Dense, 'for' + 'ward', None)", "setattr with a computed attribute name", False, id="setattr-computed-name"),
        pytest.param("from os.path import *", "star import", False, id="star-import"),
        pytest.param("del unused", "del", False, id="del"),
        pytest.param("def bump():\n    global counter\n    counter = 1", "global declaration", False, id="global"),
        pytest.param("np.dot = lambda a, b: a", "assigns into the module 'np'", False, id="patch-module"),
        pytest.param("import module_written_by_the_notebook", "not installed", False, id="import-unknown-module"),
        pytest.param("def broken(:\n    pass", "does not parse", False, id="syntax-error"),
    ],
)
def test_fallback_runs_the_statement(worker, statement: str, reason: str, reads_anything: bool) -> None:
    cells = plan(worker, GIVEN, "registry = [1]\nname = 'x'\nclass Other:\n    pass\nunused = 1", statement)
    # exec/eval/globals() may read any name, so every statement that binds one runs with them.
    assert ran(cells, 1) == [reads_anything] * 4, cells[1]
    assert all(ran(cells, 2)), cells[2]
    assert reason in cells[2][0]["why"], cells[2][0]["why"]


@pytest.mark.parametrize(
    "line, reason",
    [
        pytest.param("np.dot = None", "assigns into the module 'np'", id="patch-module"),
        pytest.param("__builtins__.len = None", "assigns into the module '__builtins__'", id="patch-builtins"),
        pytest.param("setattr(np, 'dot', None)", "setattr on a module", id="setattr-module"),
        pytest.param("import module_written_by_the_notebook", "not installed", id="import-unknown-module"),
        pytest.param("names = vars()", "vars()", id="vars"),
    ],
)
@pytest.mark.parametrize("filler", [0, 300], ids=["small-body", "large-body"])
def test_a_fallback_deep_inside_a_definition_is_found(worker, line: str, reason: str, filler: int) -> None:
    """Inside definitions the plan looks only for fallbacks, and skips bodies it finds quiet at a
    glance (grader/sandbox/plan_scopes.py): nested, or past that glance's size limit, they count."""
    source = "def helper():\n" + "    y = 1\n" * filler + f"    class Inner:\n        def method(self):\n            if True:\n                {line}\n"
    cells = plan(worker, GIVEN, "registry = [1]\nname = 'x'\nclass Other:\n    pass\nunused = 1", source)
    assert ran(cells, 2) == [True], cells[2]
    assert reason in cells[2][0]["why"], cells[2][0]["why"]


def test_setattr_on_a_graded_name_runs_as_a_change_of_that_name(worker) -> None:
    cells = plan(worker, GIVEN, "def fast(self, input):\n    return input @ self.weights", "setattr(Dense, 'forward', fast)")
    assert all(ran(cells, 1)) and all(ran(cells, 2))
    assert "Dense" in cells[2][0]["why"]


PATCH = "def bad(self, input):\n    return input"


@pytest.mark.parametrize("setup, statement", [
    pytest.param("D = Dense", "D.forward = bad", id="alias"),
    pytest.param("A = Dense\nB = A", "B.forward = bad", id="alias-of-alias"),
    pytest.param("D, R = Dense, ReLU", "D.forward = bad", id="alias-by-unpacking"),
    pytest.param("HOLD = [Dense]", "HOLD[0].forward = bad", id="list"),
    pytest.param("HOLD = {'d': Dense}", "HOLD['d'].forward = bad", id="dict"),
    pytest.param("HOLD = []\nHOLD.append(Dense)", "HOLD[-1].forward = bad", id="appended"),
    pytest.param("def tweak(cls):\n    Dense.forward = bad\n    return cls", "@tweak\nclass Unused:\n    pass", id="class-decorator-side-effect"),
    pytest.param("def tweak(f):\n    Dense.forward = bad\n    return f", "@tweak\ndef unused():\n    pass", id="function-decorator-side-effect"),
    pytest.param("def patch(cls):\n    cls.forward = bad", "patch(Dense)", id="call-with-the-class"),
    pytest.param("def patch():\n    Dense.forward = bad", "patch()", id="call-that-names-it"),
    pytest.param("def patch():\n    global Dense\n    Dense = None", "patch()", id="call-that-rebinds-it"),
    pytest.param("class P:\n    def apply(self, cls):\n        cls.forward = bad", "P().apply(Dense)", id="method-call"),
    pytest.param("def patch(cls):\n    cls.forward = bad\nfixes = [patch]", "fixes[0](Dense)", id="computed-callee"),
    pytest.param("def patch():\n    Dense.forward = bad", "list(map(lambda f: f(), [patch]))", id="callback"),
    pytest.param("def make():\n    def inner():\n        Dense.forward = bad\n    return inner\ndo = make()", "do()", id="closure"),
    pytest.param("", "setattr(Dense, 'forward', bad)", id="setattr"),
    pytest.param("name = 'forward'", "setattr(Dense, name, bad)", id="setattr-computed"),
    pytest.param("", "Dense.forward.__defaults__ = (1,)", id="function-attribute"),
    pytest.param("", "Dense.scale = 2.0", id="class-attribute"),
    pytest.param("", "Dense.scale *= 2", id="augmented-class-attribute"),
    pytest.param("", "globals()['Dense'].forward = bad", id="globals"),
    pytest.param("", "vars()['Dense'].forward = bad", id="vars"),
    pytest.param("", "exec('Dense.forward = bad')", id="exec"),
    pytest.param("layer = Dense(2, 3)", "type(layer).forward = bad", id="type-of-instance"),
    pytest.param("layer = Dense(2, 3)", "layer.__class__.forward = bad", id="class-of-instance"),
    pytest.param("", "import __main__\n__main__.Dense.forward = bad", id="import-main"),
    pytest.param("", "from __main__ import Dense as Again", id="from-main"),
    pytest.param("import sys", "sys.modules[__name__].Dense.forward = bad", id="sys-modules"),
    pytest.param("", "del Dense", id="del"),
    pytest.param("", "from math import *", id="star-import"),
    pytest.param("class Meta(type):\n    def __init__(cls, *args):\n        super().__init__(*args)\n        Dense.forward = bad", "class Other(metaclass=Meta):\n    pass", id="metaclass"),
    pytest.param("class Base:\n    def __init_subclass__(cls):\n        Dense.forward = bad", "class Child(Base):\n    pass", id="init-subclass"),
    pytest.param("class Desc:\n    def __set_name__(self, owner, name):\n        Dense.forward = bad", "class Holder:\n    field = Desc()", id="set-name"),
    pytest.param("", "class Wider(Dense):\n    pass", id="subclass"),
    pytest.param("", "np.seterr(all='raise')", id="module-state"),
    pytest.param("", "np.maximum = np.minimum", id="module-attribute"),
])
def test_a_statement_that_may_change_a_graded_name_runs(worker, setup: str, statement: str) -> None:
    cells = plan(worker, GIVEN + "\nclass ReLU:\n    pass", PATCH, setup, statement)
    assert all(ran(cells, 3)), cells[3]
    assert all(ran(cells, 2)), cells[2]


LOOP = "net = [Dense(2, 3)]\nfor epoch in range(10**9):\n    net[0].forward(np.ones((4, 2)))"


@pytest.mark.parametrize("dense", [
    pytest.param(GIVEN.replace("    def forward(self, input):\n", "    seen = []\n\n    def forward(self, input):\n        self.seen.append(1)\n"), id="class-level-list-changed-through-self"),
    pytest.param(GIVEN.replace("    def forward(self, input):\n", "    def forward(self, input, memo={}):\n        memo[len(memo)] = 1\n"), id="mutable-default"),
    pytest.param(GIVEN + "\nCALLS = []\nDense.seen = CALLS\nDense.forward = lambda self, input: self.seen.append(1)", id="class-attribute-set-later"),
    pytest.param(GIVEN + "\n    @property\n    def size(self):\n        COUNT.append(1)\n        return 1\n\nCOUNT = []", id="property"),
])
def test_code_that_keeps_state_in_a_graded_class_makes_its_callers_run(worker, dense: str) -> None:
    """Instances share class attributes and defaults: a training loop left out would leave them as they were."""
    cells = plan(worker, dense, LOOP if "property" not in dense else "layer = Dense(2, 3)\nprint(layer.size)")
    assert all(ran(cells, 1)), cells[1]


def test_an_in_place_update_of_the_instance_own_weights_is_still_left_out(worker) -> None:
    inplace = GIVEN + "\n    def backward(self, input, grad_output):\n        self.weights -= 0.1 * input.T @ grad_output\n        return grad_output @ self.weights.T\n"
    cells = plan(worker, inplace, LOOP.replace("forward(np.ones((4, 2)))", "backward(np.ones((4, 2)), np.ones((4, 3)))"))
    assert ran(cells, 1) == [False, False], cells[1]


def test_what_touches_no_graded_name_is_still_left_out(worker) -> None:
    """Registries, hooks and helpers that graded code never reaches do not make training run."""
    cells = plan(
        worker,
        GIVEN,
        "SEEN = []\n\ndef remember(cls):\n    SEEN.append(cls)\n    return cls",
        "@remember\nclass Unused:\n    pass",
        "def train(network, X, y):\n    for layer in network[::-1]:\n        layer.forward(X)\n    return 0.0",
        "net = [Dense(2, 3)]\nlosses = []\nfor epoch in range(10**9):\n    losses.append(train(net, np.ones((4, 2)), [0]))",
        "print(losses[-1], SEEN)",
    )
    assert not any(ran(cells, 1) + ran(cells, 2) + ran(cells, 4) + ran(cells, 5)), cells


def test_graded_code_that_reads_files_makes_every_statement_that_calls_anything_run(worker) -> None:
    """A file the notebook writes may be what a graded name reads: the writer cannot be told apart."""
    reads = GIVEN.replace("np.random.randn(input_units, output_units) * 0.01", "np.load('w.npy')")
    cells = plan(worker, reads, "np.save('w.npy', np.ones((2, 3)))", "x = 1")
    assert ran(cells, 1) == [True] and ran(cells, 2) == [False], cells
    cells = plan(worker, GIVEN, "np.save('w.npy', np.ones((2, 3)))")
    assert ran(cells, 1) == [False], cells


def test_an_import_of_the_notebooks_own_module_runs_what_may_write_it(worker) -> None:
    cells = plan(
        worker,
        "with open('helpers.py', 'w') as handle:\n    handle.write('SCALE = 1.0')",
        "from helpers import SCALE",
        GIVEN.replace("return input @ self.weights + self.biases", "return (input @ self.weights + self.biases) * SCALE"),
    )
    assert all(ran(cells, 0) + ran(cells, 1)), cells


def test_a_needed_definition_that_reads_names_dynamically_runs_everything(worker) -> None:
    cells = plan(
        worker,
        GIVEN + "\ndef forward(network, X):\n    return globals()['helper'](network, X)",
        "def helper(network, X):\n    return X\nhistory = [1]",
    )
    assert all(ran(cells, 1)), cells[1]


def test_method_calls_and_arguments_count_as_changes_of_a_needed_name(worker) -> None:
    cells = plan(worker, GIVEN + "\nLAYERS = []\n\ndef forward(network, X):\n    return LAYERS", "LAYERS.append(1)", "register(LAYERS)\nprint(1)")
    assert ran(cells, 1) == [True]
    assert ran(cells, 2) == [True, False]


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


def test_a_long_training_cell_is_not_run_and_is_listed(tmp_path: Path) -> None:
    reference = json.loads((SUBMISSIONS / "reference.ipynb").read_text())
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in reference["cells"] if c["cell_type"] == "code"]
    training = "history = []\nwhile True:\n    history.append(train([Dense(3, 2)], np.ones((4, 3)), np.zeros(4, dtype=int)))"
    path = _notebook(tmp_path / "trains.ipynb", *sources, training, "import matplotlib.pyplot as plt\nplt.plot(history)")
    report = grade_file(path, assignment=_quick_assignment())
    assert report.score == report.max_score
    statuses = {(s.cell, s.status) for s in report.statements}
    n = len(sources)  # an all-code notebook: cell n is code cell n (labels count as Jupyter does)
    assert (f"cell {n + 1}, code cell {n + 1}", "not-run") in statuses and (f"cell {n + 2}, code cell {n + 2}", "not-run") in statuses
    assert not any(s.status == "timeout" for s in report.statements)
    assert all("not needed for grading" in s.message for s in report.statements if s.status == "not-run")


def _quick_assignment(slicing: bool = True, request_timeout: float = 2.0):
    """The real rubric without its two slow checks (the timing race and network-learns' training
    run, each tested on its own; they call the same definitions), with short hang limits."""
    assignment = load_assignment()
    sandbox = dataclasses.replace(assignment.sandbox, request_timeout=request_timeout, slicing=slicing)
    return dataclasses.replace(assignment, sandbox=sandbox, checks=tuple(c for c in assignment.checks if c.name not in ("dense-timing", "network-learns")))


@pytest.fixture(scope="module")
def both_ways():
    return _quick_assignment(True), _quick_assignment(False)


@pytest.fixture(scope="module")
def both_ways_patient():
    """Growing memory to the limit can take over 2 s on a busy machine: then it would read as a timeout."""
    return _quick_assignment(True, 5.0), _quick_assignment(False, 5.0)


def _grades(report) -> list:
    """What must not depend on slicing: every check's score and diagnoses, the total."""
    return [(t.name, t.score, t.diagnoses) for t in report.tests] + [(report.score, report.diagnoses)]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p, _ in expected_results()])
def test_slicing_never_changes_a_grade_of_a_real_submission(path: Path, both_ways, both_ways_patient) -> None:
    rubrics = both_ways_patient if path.stem == "memory_limit" else both_ways
    sliced, full = (grade_file(path, assignment=a) for a in rubrics)
    assert _grades(sliced) == _grades(full)


FORMS = [("cs231n_layers", p) for p in sorted((SUBMISSIONS / "cs231n").glob("*.py"))] + [
    ("dls_step_by_step", p) for p in sorted((SUBMISSIONS / "dls").glob("*")) if p.suffix in (".py", ".ipynb") and p.name != "build.py"
]


@pytest.mark.parametrize("name, path", [pytest.param(n, p, id=f"{n}/{p.name}") for n, p in FORMS])
def test_slicing_never_changes_a_grade_of_another_form(name: str, path: Path) -> None:
    """The other forms of the homework (functions with a cache, column-major layers), without their slow checks."""
    assignment = load_assignment(name)
    quick = dataclasses.replace(assignment, checks=tuple(c for c in assignment.checks if "timing" not in c.name and "learn" not in c.name))
    sliced, full = (grade_file(path, assignment=dataclasses.replace(quick, sandbox=dataclasses.replace(quick.sandbox, slicing=on))) for on in (True, False))
    assert _grades(sliced) == _grades(full)


def test_slicing_never_changes_a_grade_when_a_decorator_registers_the_layer(tmp_path: Path, both_ways) -> None:
    """Reported: Dense is `LAYERS['dense']`, filled by `@register('dense')` on a class no
    graded name mentions; leaving that class out lost every Dense check (14/23 of 23/23)."""
    path = _notebook(tmp_path / "registry.ipynb", *honest(registry=True))
    sliced, full = (grade_file(path, assignment=a) for a in both_ways)
    assert full.score == full.max_score
    assert _grades(sliced) == _grades(full)


@pytest.mark.parametrize("change", [
    pytest.param(["D = Dense", "D.forward = forward_without_bias"], id="alias"),
    pytest.param(["HOLD = {'dense': Dense}", "HOLD['dense'].forward = forward_without_bias"], id="container"),
    pytest.param(["def patch():\n    Dense.forward = forward_without_bias", "patch()"], id="call"),
])
def test_slicing_never_changes_a_grade_when_a_later_cell_changes_dense_through_another_name(change: list[str], tmp_path: Path, both_ways) -> None:
    """Reported: `D = Dense` then, cells later, `D.forward = ...`: Run All scores less, and so must slicing."""
    path = _notebook(tmp_path / "alias.ipynb", *honest(), *change)
    sliced, full = (grade_file(path, assignment=a) for a in both_ways)
    assert full.score < full.max_score and "forward-missing-bias" in full.diagnoses
    assert _grades(sliced) == _grades(full)


GENERATED = int(os.environ.get("SLICING_NOTEBOOKS", "40"))
"""How many generated notebooks the property runs (set SLICING_NOTEBOOKS for more), from seed SLICING_FIRST_SEED."""
FIRST_SEED = int(os.environ.get("SLICING_FIRST_SEED", "0"))


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + GENERATED))
def test_slicing_never_changes_a_grade_of_a_generated_notebook(seed: int, tmp_path: Path, both_ways) -> None:
    made = generated(seed)
    path = _notebook(tmp_path / f"generated_{seed}.ipynb", *made.cells)
    sliced, full = (grade_file(path, assignment=a) for a in both_ways)
    assert _grades(sliced) == _grades(full), f"seed {seed}: {', '.join(made.parts)}"
