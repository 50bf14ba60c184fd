"""The course's given modules (dnn_utils, layer_utils, testCases, ...) for a submission.

Real submissions import them (`from dnn_utils import sigmoid`, `from .layers import *`). The
sandbox has no course folder, so the given modules run as cells before the student's code,
in the same namespace, and the student's import lines of those modules (and of the course's
own package, e.g. `from cs231n.layers import *`, or a relative import) become `pass` with
the same indentation, so line numbers still match. The modules are public course material:
nothing of the instructor's reaches the student's process this way.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..submission import Cell, Submission

__all__ = ["with_given"]


def _import_pattern(modules: list[str], packages: list[str]) -> re.Pattern[str]:
    # A course renames its given modules between versions (dnn_utils_v2, testCases_v4): a _vN suffix matches too.
    names = "|".join([rf"{re.escape(m)}(?:_v\d+)?" for m in modules] + [re.escape(p) for p in packages]) or r"(?!)"
    return re.compile(rf"^([ \t]*)(?:from[ \t]+(?:\.+[\w.]*|(?:{names})(?:\.[\w.]+)?)[ \t]+import[ \t][^\n(]*|import[ \t]+(?:{names})(?:\.[\w.]+)?(?:[ \t]+as[ \t]+\w+)?)[ \t]*$", re.MULTILINE)


def with_given(submission: Submission, assignment: Any) -> Submission:
    """The submission with the assignment's given modules run first and their imports neutralised."""
    given = list(getattr(assignment, "given", ()) or ())
    if not given:
        return submission
    modules = [name.rsplit("/", 1)[-1].removesuffix(".py") for name in given]
    packages = sorted({f.split("/", 1)[0] for f in getattr(assignment, "files", ()) if "/" in f})
    pattern = _import_pattern(modules, packages)
    rewrite = lambda source: pattern.sub(lambda m: m.group(1) + "pass", source)  # noqa: E731
    cells = [Cell(i, rewrite((assignment.root / name).read_text()), f"given {name}") for i, name in enumerate(given, start=1)]
    shift = len(cells)
    cells += [replace(cell, index=cell.index + shift, source=rewrite(cell.source)) for cell in submission.cells]
    return replace(submission, cells=tuple(cells))
