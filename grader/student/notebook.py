"""`check()` in a notebook cell: the public checks on the live kernel's definitions, inline.

    from grader import check; check()

Same bundle, same checks, same verdicts and codes as `grade check` on the saved notebook
(grader/student/check.py), run through `KernelSession`. In Jupyter, JupyterLab, VS Code and Colab
(an IPython kernel) the HTML feedback is displayed in an isolated frame, with the text
report as the plain-text alternative; anywhere else the text report is printed.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

from ..errors import InputError
from ..results import GradeReport

__all__ = ["check"]

FRAME = ('<iframe srcdoc="{page}" title="dense-grader public checks" style="width: 100%; height: 640px; border: 0;" '
         'onload="this.style.height = (this.contentDocument.body.scrollHeight + 24) + \'px\'"></iframe>')


def check(bundle: str | Path | None = None, assignment: str | None = None) -> None:
    """Run the public checks on this kernel's `Dense`, `ReLU`, `forward`, ... and show the report.

    `bundle`: the public_checks.json released with the notebook (default: the one in the
    working folder, which is the notebook's folder in Jupyter). Returns nothing (so a cell
    ending in `check()` shows the report once); when no public checks are found the reason
    is printed in one sentence.
    """
    import __main__

    from .kernel_session import KernelSession
    from .check import find_bundle, run_public_checks

    try:
        found = find_bundle(Path.cwd(), bundle, assignment)
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
    from ..report.text import render_text, text_report

    if not _in_kernel():
        render_text(report)
        return
    from IPython.display import display

    from ..report.html import render_html

    frame = FRAME.format(page=html.escape(render_html(report), quote=True))
    display({"text/html": frame, "text/plain": text_report(report)}, raw=True)
