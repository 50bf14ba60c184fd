"""Check functions, registered by the names that assignment.toml uses.

A check is `fn(ctx: CheckContext) -> Outcome`. Adding a check is one decorated function in
a module listed in `CHECK_MODULES`; the engine needs no edit.
"""

from __future__ import annotations

import importlib
from typing import Callable

from .base import CheckContext, Outcome

__all__ = ["register", "get_check", "CheckContext", "Outcome", "CHECK_MODULES"]

CheckFunction = Callable[[CheckContext], Outcome]
_REGISTRY: dict[str, CheckFunction] = {}
CHECK_MODULES = (
    "grader.checks.interface",
    "grader.checks.values",
    "grader.checks.gradients",
    "grader.checks.batch",
    "grader.checks.side_effects",
    "grader.checks.network",
    "grader.checks.learning.check",
    "grader.checks.timing",
    "grader.checks.layer",
    "grader.checks.layer_props",
    "grader.checks.activations",
    "grader.checks.dls",
    "grader.checks.cs231n_net",
    "grader.checks.layer_timing",
    "grader.checks.form_learning",
)


def register(name: str) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator: make a check function available to assignment.toml as `name`."""

    def decorate(fn: CheckFunction) -> CheckFunction:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"check {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn

    return decorate


def get_check(name: str) -> CheckFunction:
    """The function registered as `name` (importing the check modules when it is not known yet)."""
    if name not in _REGISTRY:
        for module in CHECK_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:
                    raise
    if name not in _REGISTRY:
        raise KeyError(f"no check function registered as {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]
