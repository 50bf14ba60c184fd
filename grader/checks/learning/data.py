"""The data and settings of the learning check (`network.learns`): real handwritten digits.

Digits are scikit-learn's copy of the UCI 8×8 digits (1797 images, 64 pixels 0..16, 10
classes), shipped inside the scikit-learn wheel: no download. `import sklearn` costs 2-3 s
(it pulls in scipy), more than the whole check may cost, so the file is located with
`importlib.util.find_spec` (which imports nothing) and read the way `load_digits` reads
it; `load_digits()` itself is the fallback when a future wheel moves the file. A course
can point the rubric at its own `.npz` instead (e.g. the MNIST copy it already has).
Everything here runs in the grader process; the worker only ever gets plain arrays.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError
from ...extras import INSTRUCTOR_INSTALL

__all__ = ["LearningParams", "LearningData", "load_learning_data", "dataset_version", "digits"]

NPZ_KEYS = ("X_train", "y_train", "X_val", "y_val")


@dataclass(frozen=True)
class LearningParams:
    """The learning check's rubric settings (`params` of its [[checks]] entry), each declared once."""

    dataset: str = "digits"
    """"digits" (scikit-learn's 8×8 digits, pixels scaled to 0..1) or the path of a .npz with X_train, y_train,
    X_val, y_val (relative to the assignment folder; read with allow_pickle=False; inputs used as stored)."""
    hidden: tuple[int, ...] = (32,)
    """Hidden layer widths: Dense(in, h1) → ReLU → ... → Dense(h_last, classes)."""
    learning_rate: float = 0.2
    """Learning rate given to every Dense (not 0.1, the constructor's default, so an ignored lr shows)."""
    epochs: int = 2
    """Passes over the training samples."""
    batch_size: int = 32
    """Samples per train(network, X, y) call; the batch order is fixed by `seed`."""
    validation_fraction: float = 0.2
    """Share of the digits held out for the accuracy (digits only; a .npz brings its own split)."""
    max_samples: int = 2000
    """At most this many training (and held-out) samples are used: keeps a large .npz within the check's budget."""
    seed: int = 0
    """Fixes the initial weights, the digits split and the batch order (not the report's seed: the
    accuracy threshold refers to one fixed run)."""
    min_accuracy: float = 0.85
    """Held-out accuracy the trained network must reach; the reference reaches ~0.94 on digits with the defaults."""
    rtol: float = 1e-6
    """Relative tolerance on each step's loss and update, for float64 code."""
    rtol_float32: float = 1e-3
    """The same for code that computes in float32 (its logits, loss or parameters are float32)."""
    steps_per_request: int = 15
    """Training steps per request to the worker at most (each request costs ~1 ms; the time budget is
    checked between them, and each request after the first is sized to what is left of it). A
    request the student's code fails in loses its steps: the steps before it are still compared."""
    first_steps: int = 2
    """Training steps in the first request: what they cost sizes the next requests to the time budget."""
    time_budget: float = 1.0
    """Seconds of training (the worker's CPU time where counted) the run may cost. A run stops after the
    request that spends it, or earlier once its cost per step says all the steps need over twice the
    budget; a run that stops before its last step does not pass (its skipped steps and its held-out
    accuracy are unjudged). Vectorised layers need ~0.02 s of CPU for all 90 steps, a per-sample loop
    ~0.06 s (~0.2 s on slower machines: 5-15x inside the budget); a triple Python loop (~0.15 s a step)
    stops after the first request's 2 steps, at no more CPU than before. A course that wants such code
    to finish raises the budget (~15 s)."""
    timeout: float = 30.0
    """Seconds one request may take before the worker is stopped (an infinite loop)."""

    @classmethod
    def from_params(cls, params: dict[str, Any], where: str) -> LearningParams:
        """Check every key and its type: a typo in a rubric is an error, not a silent default."""
        known = {f.name: f for f in fields(cls)}
        unknown = set(params) - set(known)
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(known))}.")
        values: dict[str, Any] = {}
        for name, value in params.items():
            default = getattr(cls, name)
            if isinstance(default, tuple):
                ok = isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, int) and v > 0 for v in value)
                value = tuple(value) if ok else value
            elif isinstance(default, float):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
                value = float(value) if ok else value
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= (0 if name == "seed" else 1)
            else:
                ok = isinstance(value, str) and bool(value)
            if not ok:
                raise InputError(f"{where}: {name} = {value!r} is not valid; expected {type(default).__name__} like {default!r}.")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class LearningData:
    """A fixed training/held-out split, float64 inputs and integer labels 0..classes-1."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    name: str
    """For messages: "scikit-learn digits" or the .npz file name."""

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_val.max())) + 1


@functools.lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 64) with pixels 0..16, labels (1797,)): what `load_digits()` returns, without importing sklearn."""
    spec = importlib.util.find_spec("sklearn")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1], table[:, -1].astype(np.int64)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InputError(f"the learning check's data set \"digits\" needs scikit-learn: {INSTRUCTOR_INSTALL} (or set dataset to a .npz).") from None
    found = load_digits()
    return np.asarray(found.data, dtype=np.float64), np.asarray(found.target, dtype=np.int64)


def _split_digits(params: LearningParams) -> LearningData:
    images, labels = digits()
    X = images / 16.0
    order = np.random.default_rng(params.seed).permutation(len(X))
    n_val = max(1, int(round(params.validation_fraction * len(X))))
    val, train = order[:n_val], order[n_val:]
    return LearningData(X[train], labels[train], X[val], labels[val], "scikit-learn digits")


def _read_npz(path: Path) -> LearningData:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in NPZ_KEYS if k not in archive.files]
            if missing:
                raise InputError(f"{path} lacks {', '.join(missing)}; the learning check expects arrays {', '.join(NPZ_KEYS)}.")
            arrays = {k: archive[k] for k in NPZ_KEYS}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable .npz of numeric arrays ({exc}).") from None
    for part in ("train", "val"):
        X, y = arrays[f"X_{part}"], arrays[f"y_{part}"]
        if X.ndim != 2 or y.ndim != 1 or len(X) != len(y) or not len(y) or X.dtype.kind not in "biuf" or y.dtype.kind not in "iu":
            raise InputError(f"{path}: X_{part} must be (samples, features) numbers and y_{part} (samples,) integer labels of the same length.")
        if not np.all(np.isfinite(X)) or y.min() < 0:
            raise InputError(f"{path}: X_{part} must be finite and y_{part} non-negative class numbers.")
    if arrays["X_train"].shape[1] != arrays["X_val"].shape[1]:
        raise InputError(f"{path}: X_train and X_val have different numbers of features.")
    return LearningData(arrays["X_train"].astype(np.float64), arrays["y_train"].astype(np.int64),
                        arrays["X_val"].astype(np.float64), arrays["y_val"].astype(np.int64), path.name)


def dataset_version(params: LearningParams, root: Path) -> float:
    """Changes when the data set's file does (its mtime; 0 for digits): part of every cache key."""
    return 0.0 if params.dataset == "digits" else _npz_path(params, root).stat().st_mtime


def _npz_path(params: LearningParams, root: Path) -> Path:
    path = Path(params.dataset) if Path(params.dataset).is_absolute() else root / params.dataset
    if path.suffix != ".npz" or not path.is_file():
        raise InputError(f"the learning check's dataset must be \"digits\" or an existing .npz file; {path} is neither.")
    return path.resolve()


def load_learning_data(params: LearningParams, root: Path) -> LearningData:
    """The rubric's data set, cut to `max_samples`."""
    if params.dataset == "digits":
        data = _split_digits(params)
    else:
        data = _read_npz(_npz_path(params, root))
    n = params.max_samples
    return LearningData(data.X_train[:n], data.y_train[:n], data.X_val[:n], data.y_val[:n], data.name)
