"""The learning check's driver, served by the sandbox worker (loaded through worker.EXTRA_OP_MODULES).

The driver runs `train` for a chunk of steps per request (grader/checks/learning_student.py) and
is defined in the student's namespace, so `train`, `forward` and the given loss resolve there and
its frames show in tracebacks as "<submission grader learning driver>". Its source is compiled
here, once, when the fork server imports this module before any worker forks: a worker installs
it with one `exec` of the code object (~20 us) instead of an `exec_cell` that parses, compiles
and runs ~70 lines statement by statement (~3 ms of every submission's CPU).

Op: learning_driver  define the driver's functions in the student's namespace

`_grader_train_given` serves `train.step` (grader/checks/network.py): one `train` call with the
given loss functions of the notebook's own version.

Functions are only ever added at the end of DRIVER_SOURCE: the line numbers of the others are
part of the messages students see (a traceback through the driver).

Depends on the standard library only (the driver's code imports numpy when it is installed).
"""

from __future__ import annotations

import linecache
from typing import Any

__all__ = ["OPS", "DRIVER_SOURCE"]

DRIVER_FILENAME = "<submission grader learning driver>"
"""The worker's cell file name (worker.CELL_PREFIX + label + ">"): tracebacks keep the driver's frames."""
DRIVER_SOURCE = '''
import numpy as _grader_np


def _grader_softmax_crossentropy_with_logits(logits, reference_answers):
    """The notebook's given loss: cross-entropy of softmax(logits), one value per sample."""
    logits_for_answers = logits[_grader_np.arange(len(logits)), reference_answers]
    top = logits.max(axis=-1, keepdims=True)
    return -logits_for_answers + top[:, 0] + _grader_np.log(_grader_np.exp(logits - top).sum(axis=-1))


def _grader_grad_softmax_crossentropy_with_logits(logits, reference_answers):
    """The notebook's given gradient: softmax - one_hot, divided by N in the "sum" version."""
    one_hot = _grader_np.zeros_like(logits)
    one_hot[_grader_np.arange(len(logits)), reference_answers] = 1
    exps = _grader_np.exp(logits - logits.max(axis=-1, keepdims=True))
    grad = exps / exps.sum(axis=-1, keepdims=True) - one_hot
    return grad / logits.shape[0] if _grader_learning_divides[0] else grad


_grader_learning_divides = [True]
_grader_learning = {}


def _grader_learning_start(network, dense, X, y, order, bounds, X_val, divides):
    """Keep the run's network and data in the worker: each chunk of steps then sends only two numbers."""
    _grader_learning.clear()
    _grader_learning.update(network=network, dense=dense, X=X, y=y, order=order, bounds=bounds, X_val=X_val)
    _grader_learning_divides[0] = bool(divides)


def _grader_learning_steps(first, last):
    """train() on batches first..last-1; the losses it reported and the parameters after every step."""
    run = _grader_learning
    network, X, y, order, bounds = run["network"], run["X"], run["y"], run["order"], run["bounds"]
    # The run uses the notebook's given loss and loss gradient (of the version _grader_learning_start
    # set), whatever the notebook redefined: a student is graded on the step train makes, not on a
    # changed loss. _grader_given_out gives the student's own definitions back, whatever happens.
    # (Five lines, as before: the line numbers below are in the tracebacks students read.)
    saved = _grader_given_in()
    losses, reported = _grader_np.full(last - first, _grader_np.nan), _grader_np.zeros(last - first, dtype=_grader_np.int8)
    snapshots, low = [], False
    try:
        for k, step in enumerate(range(first, last)):
            batch = order[bounds[step]:bounds[step + 1]]
            loss = train(network, X[batch], y[batch])
            value = None if loss is None else _grader_np.asarray(loss)
            if value is not None and value.dtype.kind in "iuf" and value.size in (1, len(batch)):
                losses[k], reported[k] = float(value.astype(_grader_np.float64).mean()), 1
                low = low or value.dtype.kind == "f" and value.dtype.itemsize < 8
            params = [_grader_np.asarray(p) for i in run["dense"] for p in (network[i].weights, network[i].biases)]
            low = low or any(p.dtype.kind == "f" and p.dtype.itemsize < 8 for p in params)
            row = _grader_np.concatenate([p.astype(_grader_np.float64).ravel() for p in params])
            if snapshots and row.size != snapshots[0].size:
                raise ValueError(f"the Dense layers' parameters changed size during training (step {step + 1})")
            snapshots.append(row)
    finally:
        _grader_given_out(saved)
        # What this request ran, for _grader_learning_partial when train raised: the grader still
        # compares the steps before the one that raised, and names that step.
        run["partial"] = [losses, reported, snapshots, low]
        # (six lines, as before: the functions below keep their line numbers in tracebacks)
    return [losses, reported, _grader_np.stack(snapshots), low]


def _grader_learning_predict():
    """The trained network's logits for the held-out samples, from the student's forward()."""
    outputs = forward(_grader_learning["network"], _grader_learning["X_val"])
    return outputs[-1] if isinstance(outputs, list) and outputs else outputs


def _grader_learning_start_coded(network, dense, table, X_codes, y, order, bounds, X_val_codes, divides):
    """_grader_learning_start with the inputs as codes into a table of their distinct values: the same arrays, ~8x fewer bytes."""
    _grader_learning_start(network, dense, table[X_codes], y, order, bounds, table[X_val_codes], divides)


_grader_absent = object()


def _grader_given_in():
    """Put the given loss and loss gradient under their notebook names; returns what they replaced."""
    space = globals()
    given = {"softmax_crossentropy_with_logits": _grader_softmax_crossentropy_with_logits,
             "grad_softmax_crossentropy_with_logits": _grader_grad_softmax_crossentropy_with_logits}
    saved = {name: space.get(name, _grader_absent) for name in given}
    space.update(given)
    return saved


def _grader_given_out(saved):
    """Give the notebook its own loss and loss gradient back (or none, where it had none)."""
    space = globals()
    for name, value in saved.items():
        if value is _grader_absent:
            space.pop(name, None)
        else:
            space[name] = value


def _grader_train_given(network, X, y, divides):
    """One train(network, X, y) with the given loss, its gradient divided by N or not as the notebook's own is (train-step)."""
    flag = _grader_learning_divides[0]
    _grader_learning_divides[0] = bool(divides)
    saved = _grader_given_in()
    try:
        return train(network, X, y)
    finally:
        _grader_given_out(saved)
        _grader_learning_divides[0] = flag


def _grader_learning_partial():
    """The steps the last _grader_learning_steps request took before train raised (parameters: (0, 0) if none)."""
    losses, reported, snapshots, low = _grader_learning.get("partial") or (_grader_np.zeros(0), _grader_np.zeros(0, dtype=_grader_np.int8), [], False)
    done = len(snapshots)
    return [losses[:done], reported[:done], _grader_np.stack(snapshots) if done else _grader_np.zeros((0, 0)), low]
'''
DRIVER_CODE = compile(DRIVER_SOURCE, DRIVER_FILENAME, "exec")


def op_learning_driver(worker: Any, req: dict[str, Any], arrays: list[Any]) -> dict[str, Any]:
    """Define the driver in the student's namespace, its source where tracebacks look for it (a failure,
    e.g. a namespace whose `__builtins__` the student replaced, is reported as `define` reports one)."""
    linecache.cache[DRIVER_FILENAME] = (len(DRIVER_SOURCE), None, DRIVER_SOURCE.splitlines(True), DRIVER_FILENAME)
    try:
        exec(DRIVER_CODE, worker.namespace)
    except BaseException as exc:  # the student's namespace made the definitions fail
        return {"failed": {"type": type(exc).__name__, "message": str(exc)[:500]}}
    return {}


OPS = {"learning_driver": op_learning_driver}
