"""The terminal report, laid out like pytest's: detail first, the summary last.

In a 50-line terminal the last screen is what stays visible, so it holds what a student
acts on: the table of checks, each mistake once with its fix, and the score as the very
last line. Above it: each failed check's explanation, condensed (grader/report/condense.py:
a cause shared by several checks or cases said once, each traceback once) and the notebook
statements that failed (those the slicing left out as one line; --verbose lists them). Colour only on a terminal (rich
decides); on a terminal long lines wrap with an indent, piped output is never hard-wrapped.
Every line goes through `_Writer.line`: control characters (ANSI/OSC sequences from a
student's exception message) made visible with `safetext.terminal_safe`, one logical line
per line, and rich markup escaped.
"""

from __future__ import annotations

import io
import sys
import textwrap
from typing import TextIO

from ..results import GradeReport, points
from ..safetext import terminal_safe
from ..sandbox.slicing import NOT_RUN
from .condense import condensed_sections
from .digest import checks_by_mistake, result_phrase, score_line

__all__ = ["render_text", "text_report"]

PIPE_RULE_WIDTH = 88
"""Width of the ==== rules when the output is not a terminal (nothing else is cut to it)."""


class _Writer:
    """Prints lines; on a terminal, wraps long ones with a hanging indent."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console

        self.tty = stream.isatty()
        # Plain text when piped (no ANSI codes in files), and never rich's Jupyter renderer:
        # check() in a notebook shows this text as the plain alternative of its HTML.
        self.console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False, force_jupyter=False,
                               color_system="auto" if self.tty else None)
        self.width = self.console.width if self.tty else 0

    def line(self, text: str = "", style: str = "", indent: str = "", hang: str = "    ") -> None:
        """One logical line: `text` is plain (made safe here), `style` a rich style for all of it.

        Control characters are made visible before wrapping, so a student's "\\r" can neither
        start a line of its own nor be turned into a space by the wrapper."""
        visible = terminal_safe(text, newlines=False)
        pieces = [visible] if not self.width or len(indent + visible) <= self.width else textwrap.wrap(
            visible, width=max(20, self.width - len(indent)), subsequent_indent=hang, break_long_words=True, drop_whitespace=True
        ) or [""]
        for piece in pieces:
            rendered = _markup_escape(indent + piece)
            self.console.print(f"[{style}]{rendered}[/{style}]" if style else rendered)

    def rule(self, title: str, char: str = "=", style: str = "bold") -> None:
        width = min(self.width, 100) if self.width else PIPE_RULE_WIDTH
        title = f" {title} " if title else ""
        side = max(3, (width - len(title)) // 2)
        self.line(char * side + title + char * max(3, width - side - len(title)), style)


def _markup_escape(text: str) -> str:
    """Rich markup in student text ("[red]") printed as text, not interpreted."""
    from rich.markup import escape

    return escape(text)


def render_text(report: GradeReport, stream: TextIO | None = None, verbose: bool = False) -> None:
    out = _Writer(stream or sys.stdout)
    out.line(f"{report.submission}: assignment {report.assignment}, grading with {len(report.tests)} checks (seed {report.seed})", "dim")
    for note in ([report.version_note] if report.version_note else []) + list(report.redefinitions):
        out.line("Note: " + note, "bold magenta", hang="      ")
    for section in condensed_sections(report.tests):
        out.rule(section.title, "_", "bold red" if section.failed else "bold")
        if section.description:
            out.line(section.description, "dim")
        for line in section.lines:
            out.line(line, hang="    " + " " * (len(line) - len(line.lstrip())))
        if section.mistakes:
            out.line("Mistake: " + ", ".join(section.mistakes) + " (the fix is in the summary below)", "cyan")
    _statements(out, report, verbose)
    if verbose:
        for note in report.notes:
            out.line(note, "dim")
        out.line(f"seed {report.seed}, grader {report.grader_version}, {report.execution_time:.2f} s", "dim")
    _summary(out, report)


def _statements(out: _Writer, report: GradeReport, verbose: bool) -> None:
    """Statements that failed, each on its line; those the slicing left out, one line (listed with --verbose)."""
    left_out = [s for s in report.statements if s.status == NOT_RUN]
    failed = [s for s in report.statements if s.status not in ("ok", NOT_RUN)]
    listed = failed + left_out if verbose else failed
    if listed:
        out.rule("statements of your notebook that did not run (the rest was graded)", "_")
        for s in listed:
            line = f", line {s.line}" if s.line else ""
            out.line(f"{s.cell}{line}: {s.status}: {s.message}", indent="  ")
    if left_out and not verbose:
        cells = ", ".join(dict.fromkeys(s.cell.split(",")[0] for s in left_out))
        count = f"{len(left_out)} statement{'s' * (len(left_out) > 1)}"
        out.line(f"Not run, as grading does not need them: {count} ({cells}); --verbose lists them.", "dim", hang="    ")


def _summary(out: _Writer, report: GradeReport) -> None:
    out.rule("summary")
    width = max((len(t.name) for t in report.tests), default=5)
    score_width = max((len(f"{points(t.score)}/{points(t.max_score)}") for t in report.tests), default=5)
    for test in report.tests:
        passed = test.status == "passed"
        phrase = result_phrase(test)
        extra = "; ".join(p for p in (phrase, ", ".join(test.diagnoses)) if p)
        score = f"{points(test.score)}/{points(test.max_score)}"
        status = "passed" if passed else "FAILED"
        out.line(f"{test.name:<{width}}  {score:>{score_width}}  {status}" + (f"  ({extra})" if extra else ""),
                 "" if passed else "red", hang=" " * (width + score_width + 12))
    where = checks_by_mistake(report)
    if where:
        out.line("Mistakes, each with its fix:", "bold")
        for code in where:
            checks = f" [{', '.join(where[code])}]" if where.get(code) else ""
            out.line(f"{code}{checks}: {report.fix(code)}", "yellow", indent="  ", hang="      ")
    elif report.score >= report.max_score:
        out.line("Every public check passed." if report.not_checked else "Every check passed. Well done.", "green")
    if report.not_checked:
        out.line("Not checked here: " + report.not_checked, "bold", hang="    ")
    style = "bold green" if report.score >= report.max_score else "bold yellow" if report.score > 0 else "bold red"
    out.rule(f"{report.submission}: {score_line(report)}, {report.execution_time:.1f} s", "=", style)


def text_report(report: GradeReport) -> str:
    """The same report as plain text (for files and tests)."""
    buffer = io.StringIO()
    render_text(report, buffer)
    return buffer.getvalue()
