"""`check()` in a notebook cell: the public checks on the live kernel's definitions, inline.

    from grader import check; check()

Same bundle, same checks, same verdicts and codes as `grade check` on the saved notebook
(grader/student/check.py), run through `KernelSession`. In an IPython kernel (Jupyter,
JupyterLab, VS Code, Colab) the result is one output holding plain HTML and the text report
(grader/student/inline.py), readable live, reopened untrusted and in the saved .ipynb;
anywhere else the text report is printed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..errors import InputError
from ..results import GradeReport

__all__ = ["check", "show", "KEYWORD_HINT"]

KEYWORD_HINT = 'check(bundle="path/to/public_checks.json")'
"""How the notebook names the bundle's place (the terminal says --bundle PATH)."""


def check(bundle: str | os.PathLike[str] | None = None, assignment: str | None = None) -> None:
    """See `grader.check` (its docstring is the one students read)."""
    import __main__

    from .kernel_session import KernelSession
    from .check import find_bundle, run_public_checks

    try:
        found = find_bundle(Path.cwd(), bundle, assignment, hint=KEYWORD_HINT)
    except InputError as exc:
        print(f"check(): {exc}", file=sys.stderr)
        return
    session = KernelSession(vars(__main__), found.assignment.sandbox, found.seed)
    show(run_public_checks(session, found, "this notebook"))


def _in_kernel() -> bool:
    """Whether an IPython kernel (Jupyter, JupyterLab, VS Code, Colab) will render HTML."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(report: GradeReport) -> None:
    if not _in_kernel():
        from ..report.text import render_text

        render_text(report)
        return
    from IPython.display import display

    from .inline import notebook_output

    display(notebook_output(report), raw=True)
