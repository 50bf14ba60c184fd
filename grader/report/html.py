"""HTML feedback for one submission: score, each check, the named mistakes, and plots.

The page is one self-contained file (inline CSS, plots as inline SVG, no script, no
external URL), so it renders offline, in a mail attachment or an LMS iframe. Everything
that came from the student (check output, tracebacks, printed text, file names, labels in
the plots) is escaped: the page is built with `el` (grader/report/markup.py), a tiny
element builder that escapes every string it is given and passes only `Markup` it built
itself, never by formatting strings into HTML."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .. import __version__
from ..diagnose import advice
from ..results import CheckResult, GradeReport, points, round_points
from .digest import checks_by_mistake, digest_checks, result_phrase
from .markup import Content, Markup, el
from .plots import Plot, plots_for

__all__ = ["render_html", "render_error_html", "write_html", "public_view", "el", "Markup", "CSS", "FEEDBACK"]

FEEDBACK = ("full", "public")
"""What a student's page shows: everything (after the deadline) or the public checks only (before)."""


_el = el
"""Short local name; `el` itself is re-exported for other pages of the same style (grader/report/dashboard.py)."""


CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
header { background: #fff; border-radius: 8px; padding: 20px 24px; box-shadow: 0 1px 3px #0002; }
h1 { font-size: 1.35rem; margin: 0 0 6px; word-break: break-all; }
.score { font-size: 2.2rem; font-weight: 700; }
.bar { height: 10px; background: #e3e6eb; border-radius: 5px; overflow: hidden; margin-top: 8px; }
.bar > div { height: 100%; background: #2e9d5b; }
.mistakes { background: #fff8e6; border-left: 4px solid #e0a100; padding: 12px 18px; margin: 18px 0; border-radius: 4px; }
.mistakes li { margin: 6px 0; }
code.tag { background: #eef0f5; border-radius: 4px; padding: 1px 6px; font-size: 0.9em; color: #3a3f8f; }
table.summary { border-collapse: collapse; width: 100%; background: #fff; margin: 18px 0; border-radius: 8px; overflow: hidden; box-shadow: 0 1px 3px #0002; }
table.summary th, table.summary td { text-align: left; padding: 7px 12px; border-bottom: 1px solid #eceef2; }
.passed { color: #1f7a44; font-weight: 600; }
.failed { color: #b3261e; font-weight: 600; }
section.check { background: #fff; border-radius: 8px; padding: 14px 20px; margin: 14px 0; box-shadow: 0 1px 3px #0002; }
section.check.failed-check { border-left: 4px solid #b3261e; }
section.check.passed-check { border-left: 4px solid #2e9d5b; }
section.check h2 { font-size: 1.05rem; margin: 0 0 4px; }
.description { color: #555c6b; margin: 0 0 8px; }
pre { background: #1e2230; color: #e8eaf0; padding: 10px 12px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; font-size: 0.85rem; }
figure { margin: 12px 0; }
figure svg.plot { display: block; max-width: 100%; height: auto; border: 1px solid #e3e6eb; border-radius: 4px; background: #fff; }
.where { color: #7a8090; font-size: 0.85em; }
figcaption { color: #555c6b; font-size: 0.9rem; }
footer { color: #7a8090; font-size: 0.8rem; margin-top: 24px; }
"""


def _advice_items(where: dict[str, list[str]], convention: str = "sum", fixes: dict[str, str] | None = None) -> Markup:
    """Each mistake once, with its fix (worded for the assignment's batch convention) and the checks that found it."""
    return _el("ul", [
        _el("li", _el("code", code, class_="tag", id=f"mistake-{code}"), " ", (fixes or {}).get(code) or advice(code, convention),
            _el("span", " (", ", ".join(checks), ")", class_="where") if checks else None)
        for code, checks in where.items()
    ])


def _figure(plot: Plot) -> Markup:
    """The plot inline: its SVG was built by `el` (every text escaped), so it passes as Markup."""
    return _el("figure", Markup(plot.svg), _el("figcaption", _el("strong", plot.title), ". ", plot.caption))


def _check_section(test: CheckResult, plots: list[Plot], lines: tuple[str, ...]) -> Markup:
    status = "passed" if test.status == "passed" else "failed"
    phrase = result_phrase(test)
    body: list[Content] = [
        _el("h2", test.name, " ", _el("span", f"{status} ({points(test.score)} of {points(test.max_score)} points{'; ' + phrase if phrase else ''})", class_=status)),
        _el("p", test.description, class_="description") if test.description else None,
    ]
    if lines:
        body.append(_el("pre", "\n".join(lines)))
    if test.diagnoses:
        body.append(_el("p", _el("strong", "Mistakes named here: "),
                        [[", " if i else "", _el("a", _el("code", code, class_="tag"), href=f"#mistake-{code}")] for i, code in enumerate(test.diagnoses)],
                        " (each fix is listed once, at the top)"))
    body += [_figure(p) for p in plots]
    return _el("section", body, class_=f"check {status}-check", id=f"check-{test.name}")


def _header(report: GradeReport, hidden: tuple[CheckResult, ...] = ()) -> Markup:
    fraction = report.score / report.max_score if report.max_score else 0.0
    held_back = sum(t.max_score for t in hidden)
    return _el(
        "header",
        _el("h1", "Feedback for ", _el("code", Path(report.submission).name)),
        _el("div", f"{points(report.score)} / {points(report.max_score)}", " on the public checks" if hidden else "", class_="score"),
        _el("div", _el("div", style=f"width: {max(0.0, min(1.0, fraction)) * 100:.1f}%"), class_="bar"),
        _el("p", f"{len(hidden)} hidden checks ({points(held_back)} points) are graded too; their results are released after the deadline.",
            class_="description") if hidden else None,
    )


def public_view(report: GradeReport) -> tuple[GradeReport, tuple[CheckResult, ...]]:
    """The report without its hidden checks (their messages hold the reference's values), and those checks.

    Mistakes named only by hidden checks go too; submission-wide ones (a syntax error) stay."""
    hidden = tuple(t for t in report.tests if t.visibility != "visible")
    shown = tuple(t for t in report.tests if t.visibility == "visible")
    hidden_codes = {c for t in hidden for c in t.diagnoses} - {c for t in shown for c in t.diagnoses}
    public = replace(report, tests=shown, score=round_points(sum(t.score for t in shown)), max_score=sum(t.max_score for t in shown),
                     diagnoses=tuple(c for c in report.diagnoses if c not in hidden_codes))
    return public, hidden


def render_html(report: GradeReport, feedback: str = "full") -> str:
    """The whole page as a string; feedback="public" leaves out the hidden checks (before the deadline)."""
    if feedback not in FEEDBACK:
        raise ValueError(f"feedback must be one of {FEEDBACK}, not {feedback!r}")
    hidden: tuple[CheckResult, ...] = ()
    if feedback == "public":
        report, hidden = public_view(report)
    folded = {d.test.name: d.lines for d in digest_checks(report.tests)}
    sections = [_check_section(t, plots_for(t.details) if t.details else [], folded.get(t.name, ())) for t in report.tests]
    summary = _el(
        "table",
        _el("tr", _el("th", "check"), _el("th", "score"), _el("th", "result"), _el("th", "what the score stands for"), _el("th", "mistakes")),
        [
            _el("tr", _el("td", _el("a", t.name, href=f"#check-{t.name}")), _el("td", f"{points(t.score)}/{points(t.max_score)}"),
                _el("td", t.status, class_="passed" if t.status == "passed" else "failed"), _el("td", result_phrase(t)), _el("td", ", ".join(t.diagnoses)))
            for t in report.tests
        ],
        class_="summary",
    )
    parts: list[Content] = [_header(report, hidden)]
    for note in ([report.version_note] if report.version_note else []) + list(report.redefinitions):
        parts.append(_el("div", _el("strong", "Note: "), note, class_="mistakes note"))
    where = checks_by_mistake(report)
    if where:
        parts.append(_el("div", _el("strong", "Mistakes found, each with its fix"), _advice_items(where, report.batch_convention, report.fixes), class_="mistakes"))
    elif report.score >= report.max_score and not report.not_checked:
        parts.append(_el("div", _el("strong", "Every check passed."), " Well done.", class_="mistakes"))
    if report.not_checked:
        parts.append(_el("div", _el("strong", "Not checked here: "), report.not_checked, class_="mistakes"))
    parts += [summary, sections]
    skipped = [s for s in report.statements if s.status != "ok"]
    if skipped:
        parts.append(_el("section", _el("h2", "Statements of your notebook that did not run"),
                         _el("p", "The rest of the notebook was graded."),
                         _el("ul", [_el("li", s.cell, f", line {s.line}" if s.line else "", ": ", s.status, ": ", s.message) for s in skipped]),
                         class_="check"))
    if report.student_output:
        parts.append(_el("section", _el("h2", "What your notebook printed (first lines; not graded)"), _el("pre", report.student_output), class_="check"))
    parts.append(_el("footer", f"seed {report.seed} · grader {report.grader_version} · {report.execution_time:.2f} s · sha256 {report.sha256[:12]}"))
    return _page(Path(report.submission).name, parts, feedback)


def render_error_html(submission: str, message: str) -> str:
    """The page of a submission that could not be graded: the sentence that says why and what to do."""
    name = Path(submission).name
    parts: list[Content] = [
        _el("header", _el("h1", "Feedback for ", _el("code", name)), _el("div", "Not graded", class_="score")),
        _el("div", _el("strong", "Your submission could not be graded: "), message, class_="mistakes"),
        _el("footer", f"grader {__version__}"),
    ]
    return _page(name, parts, "full")


def _page(name: str, parts: list[Content], feedback: str) -> str:
    page = _el(
        "html",
        _el("head", _el("meta", charset="utf-8"), _el("meta", name="viewport", content="width=device-width, initial-scale=1"),
            _el("meta", name="feedback", content=feedback),
            _el("title", "Feedback: ", name), _el("style", Markup(CSS))),
        _el("body", _el("main", parts)),
        lang="en",
    )
    return "<!DOCTYPE html>\n" + page + "\n"


def feedback_mode(page: Path) -> str:
    """The `feedback` a written page was rendered with ("" when there is no page)."""
    try:
        with open(page, encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return ""
    for mode in FEEDBACK:
        if f'<meta name="feedback" content="{mode}">' in head:
            return mode
    return "full"  # pages from before the option showed everything


def write_html(report: GradeReport, path: str | Path, feedback: str = "full") -> Path:
    """Write the page to `path` (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, feedback), encoding="utf-8")
    return path
