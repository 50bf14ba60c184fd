"""The public checks' result as a notebook output: plain HTML plus the same result as text.

`check()` displays both in one output. The HTML is a fragment of plain elements (headings, a
table, lists, `<pre>`), with no iframe, no script, no style sheet and no event attribute:
what an untrusted notebook may show (JupyterLab and classic Notebook sanitise the rest
away), so the result reads the same live, reopened, in VS Code, in Colab and on GitHub. The
`text/plain` alternative is the terminal report (grader/report/text.py), so the saved
.ipynb itself holds a readable copy. Built with the shared escaping element builder: no
student text is ever markup.
"""

from __future__ import annotations

from ..report.digest import checks_by_mistake, digest_checks, result_phrase, score_line
from ..report.markup import Markup, el
from ..results import GradeReport, points

__all__ = ["inline_html", "notebook_output"]


def _table(report: GradeReport) -> Markup:
    head = el("tr", el("th", "check"), el("th", "points"), el("th", "result"), el("th", "mistakes"))
    rows = [
        el("tr", el("td", el("code", t.name)), el("td", f"{points(t.score)}/{points(t.max_score)}"),
           el("td", "passed" if t.status == "passed" else el("b", "FAILED"), f" ({phrase})" if (phrase := result_phrase(t)) else ""),
           el("td", ", ".join(t.diagnoses)))
        for t in report.tests
    ]
    return el("table", head, rows)


def inline_html(report: GradeReport) -> str:
    """The fragment `check()` displays: score line, mistakes with their fixes, what is left,
    the table of checks, then each failed check's explanation."""
    where = checks_by_mistake(report)
    parts: list[Markup] = [el("h3", score_line(report))]
    if where:
        parts.append(el("p", el("b", "Mistakes, each with its fix:")))
        parts.append(el("ul", [el("li", el("code", code), f" [{', '.join(checks)}]" if checks else "", ": ", report.fix(code))
                               for code, checks in where.items()]))
    elif all(t.status == "passed" for t in report.tests):
        parts.append(el("p", el("b", "Every public check passed.")))
    if report.not_checked:
        parts.append(el("p", el("b", "Not checked here: "), report.not_checked))
    parts.append(_table(report))
    for digest in digest_checks(report.tests):
        test = digest.test
        parts.append(el("h4", el("code", test.name), f": {points(test.score)} of {points(test.max_score)} points"))
        if test.description:
            parts.append(el("p", el("i", test.description)))
        parts.append(el("pre", "\n".join(digest.lines)))
    skipped = [s for s in report.statements if s.status != "ok"]
    if skipped:
        parts.append(el("p", el("b", "Statements of your notebook that did not run (the rest was checked):")))
        parts.append(el("ul", [el("li", f"{s.cell}{f', line {s.line}' if s.line else ''}: {s.status}: {s.message}") for s in skipped]))
    return str(el("div", parts))


def notebook_output(report: GradeReport) -> dict[str, str]:
    """The MIME bundle `check()` displays: the HTML fragment and the text report."""
    from ..report.text import text_report

    return {"text/html": inline_html(report), "text/plain": text_report(report)}
