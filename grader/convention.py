"""The two versions of the assignment: the words for each, and which one a notebook is.

The current version hands the layer a loss gradient already divided by the batch size, so
the layer **sums** over the batch (dW = XᵀG, db = ΣₙGₙ); the older version did not divide,
so the layer **averages** (dW = XᵀG/N, db = mean(G)). The rubric says which one it grades
(`batch_convention`); every description, message and fix is worded from it here, so a
rubric that grades the mean never tells a student to sum.

Which version a notebook is comes from running the notebook's own given loss gradient
(`grad_softmax_crossentropy_with_logits`) in the sandbox on grader data: divided by N is
the current version, not divided the older one. The grader never parses student code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import StudentFailure

__all__ = ["ConventionWords", "convention_words", "describe", "LOSS_GRADIENT", "detect_notebook_convention", "notebook_convention", "version_note"]

LOSS_GRADIENT = "grad_softmax_crossentropy_with_logits"


@dataclass(frozen=True)
class ConventionWords:
    """How one convention is said."""

    combine: str
    """"sum" or "mean": what the layer does over the batch."""
    dW: str
    """The weight gradient as code."""
    db: str
    """The bias gradient as code."""
    dW_math: str
    """The weight gradient as a formula."""
    db_math: str
    """The bias gradient as a formula."""
    why: str
    """One sentence: why this reduction (where the 1/N lives)."""
    version: str
    """The version of the assignment, as an instructor names it."""


WORDS = {
    "sum": ConventionWords(
        "sum", "input.T @ grad_output", "grad_output.sum(axis=0)", "Xᵀ·grad_output", "Σₙ grad_outputₙ",
        "grad_output already carries the 1/N of the mean loss, so the layer sums over the batch.",
        "the current version (the loss gradient is divided by the batch size; the layer sums)",
    ),
    "mean": ConventionWords(
        "mean", "input.T @ grad_output / input.shape[0]", "grad_output.mean(axis=0)", "Xᵀ·grad_output / N", "meanₙ grad_outputₙ",
        "In this version the loss gradient is not divided by N, so the layer averages over the batch.",
        "the older version (the loss gradient is not divided by the batch size; the layer averages)",
    ),
}


def convention_words(convention: str) -> ConventionWords:
    """The words of "sum" or "mean" (a rubric is validated on load, so anything else is a bug)."""
    return WORDS[convention]


def describe(text: str, convention: str) -> str:
    """A rubric description with the convention's words: {combine}, {dW}, {db}, {dW_math}, {db_math}."""
    if "{" not in text:
        return text
    words = convention_words(convention)
    try:
        return text.format(**{k: getattr(words, k) for k in ("combine", "dW", "db", "dW_math", "db_math")})
    except (KeyError, IndexError, ValueError):
        return text  # braces that are not ours: the text as written


def detect_notebook_convention(session: Any, seed: int) -> str | None:
    """"sum" when the notebook's loss gradient divides by the batch size, "mean" when it does
    not, None when it has none or it matches neither (then nothing is said)."""
    names = session.describe([LOSS_GRADIENT])
    if names.get(LOSS_GRADIENT, {}).get("kind") != "function":
        return None
    rng = np.random.default_rng([seed, 11])
    n, classes = 7, 5
    logits = rng.standard_normal((n, classes))
    answers = rng.integers(0, classes, size=n)
    try:
        grad = session.call(LOSS_GRADIENT, logits, answers, what=LOSS_GRADIENT)
    except StudentFailure:
        return None
    if not isinstance(grad, np.ndarray) or grad.shape != logits.shape or grad.dtype.kind != "f":
        return None
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    full = shifted / shifted.sum(axis=1, keepdims=True)
    full[np.arange(n), answers] -= 1
    scale = float(np.linalg.norm(full))
    grad = grad.astype(np.float64)
    if np.linalg.norm(grad - full / n) <= 1e-4 * scale / n:
        return "sum"
    if np.linalg.norm(grad - full) <= 1e-4 * scale:
        return "mean"
    return None


def notebook_convention(session: Any, seed: int, cache: dict[str, Any]) -> str | None:
    """`detect_notebook_convention` once per grading (kept in the checks' shared `cache`); None
    where the notebook's gradient is absent or raises."""
    if "notebook_convention" not in cache:
        try:
            cache["notebook_convention"] = detect_notebook_convention(session, seed)
        except StudentFailure:
            cache["notebook_convention"] = None
    return cache["notebook_convention"]


def version_note(notebook: str | None, rubric: str) -> str:
    """One sentence for the top of the report when the notebook's version is not the rubric's."""
    if notebook is None or notebook == rubric:
        return ""
    return (
        f"This notebook is {convention_words(notebook).version}, but the rubric grades "
        f"{convention_words(rubric).version}: a layer that does what its own notebook asks loses the "
        f"batch-reduction points ({'grad-weights-mean, grad-bias-mean' if rubric == 'sum' else 'grad-weights-sum, grad-bias-sum'}). "
        f"Grade it with the rubric of its version (e.g. --assignment dense_layer{'_mean' if notebook == 'mean' else ''}) if that is what the students were given."
    )
