"""The terminal report: the score and the top mistakes on the first screen, then each check.

Uses rich for tables; colour only when the output is a terminal (rich decides). Every
string that reaches the console goes through `_safe`: rich markup escaped, and control
characters (ANSI/OSC sequences from a student's exception message) made visible.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

from ..diagnose import ADVICE
from ..results import GradeReport, points
from ..safetext import terminal_safe

__all__ = ["render_text"]


def _safe(text: object, newlines: bool = True) -> str:
    """Markup-escaped, control characters visible; `newlines=False` for one-line fields
    (a file name with a newline must not start a forged line of its own)."""
    from rich.markup import escape

    return escape(terminal_safe(text, newlines))


def render_text(report: GradeReport, stream: TextIO | None = None, verbose: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    stream = stream or sys.stdout
    console = Console(file=stream, highlight=False, soft_wrap=False, width=None if stream.isatty() else 110,
                      force_jupyter=False, color_system="auto" if stream.isatty() else None)
    score_style = "bold green" if report.score >= report.max_score else "bold yellow" if report.score > 0 else "bold red"
    console.print(f"[bold]{_safe(report.submission, newlines=False)}[/bold]: [{score_style}]{points(report.score)} / {points(report.max_score)}[/{score_style}]")
    if report.not_checked:
        console.print(f"[bold]Not checked here:[/bold] {_safe(report.not_checked, newlines=False)}")
    if report.diagnoses:
        console.print("[bold]Mistakes found:[/bold]")
        for code in report.diagnoses:
            console.print(f"  • [cyan]{_safe(code)}[/cyan]: {_safe(ADVICE.get(code, ''))}")
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("check")
    table.add_column("score", justify="right")
    table.add_column("result")
    for test in report.tests:
        mark = "[green]passed[/green]" if test.status == "passed" else "[red]failed[/red]"
        note = _safe(", ".join(test.diagnoses))
        table.add_row(_safe(test.name), f"{points(test.score)}/{points(test.max_score)}", mark + (f" ({note})" if note else ""))
    console.print(table)
    for test in report.tests:
        if test.status != "passed" and test.output:
            console.print(f"\n[bold red]✗ {_safe(test.name)}[/bold red] — {_safe(test.description)}")
            console.print(_safe(test.output))
    skipped = [s for s in report.statements if s.status != "ok"]
    if skipped:
        console.print("\n[bold]Statements of your notebook that did not run[/bold] (the rest was graded):")
        for s in skipped:
            line = f", line {s.line}" if s.line else ""
            console.print(f"  {_safe(s.cell, False)}{line}: {_safe(s.status, False)}: {_safe(s.message, False)}")
    if verbose:
        for note in report.notes:
            console.print(f"[dim]{_safe(note)}[/dim]")
        console.print(f"[dim]seed {report.seed}, grader {report.grader_version}, {report.execution_time:.2f} s[/dim]")


def text_report(report: GradeReport) -> str:
    """The same report as plain text (for files and tests)."""
    buffer = io.StringIO()
    render_text(report, buffer)
    return buffer.getvalue()
