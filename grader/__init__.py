"""Autograder for the numpy dense-layer assignment."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["__version__", "check"]
__version__ = "0.1.0"

# The grader's own arrays are small: one BLAS thread. A thread pool spinning in the grading
# process costs CPU on every core (measured: the timing check's grader-side CPU 0.16 s ->
# 0.05 s per submission) and competes with the worker being timed. Set before numpy loads;
# a caller's explicit setting wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")


def check(*args: Any, **kwargs: Any) -> Any:
    """The public checks on this notebook's definitions (see grader/student/notebook.py).

    Imported on call, so `import grader` stays light."""
    from .student.notebook import check as run

    return run(*args, **kwargs)
