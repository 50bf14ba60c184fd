"""The optional parts of an install: which extra the full grade needs, said in one sentence.

A student installs the grader alone (`grade check`, `check()`); the instructor's side adds
`pip install "dense-grader[instructor]"` (pyproject.toml). The full grade runs students'
notebooks, which import matplotlib, and trains on scikit-learn's copy of the digits: without
them it would charge the student for a missing package or stop deep in a check.
"""

from __future__ import annotations

import importlib.util

from .errors import InputError

__all__ = ["INSTRUCTOR_INSTALL", "INSTRUCTOR_MODULES", "require_instructor_extra"]

INSTRUCTOR_INSTALL = 'pip install "dense-grader[instructor]"'
INSTRUCTOR_MODULES = {"matplotlib": "matplotlib", "sklearn": "scikit-learn"}
"""Module the full grade needs -> the package that provides it (both in the instructor extra)."""


def require_instructor_extra() -> None:
    """Raise InputError naming the extra when a package of the full grade is missing."""
    missing = [package for module, package in INSTRUCTOR_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise InputError(f"the full grade needs {' and '.join(missing)}, which a student install leaves out: {INSTRUCTOR_INSTALL} (students check their work with `grade check`).")
