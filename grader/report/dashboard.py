"""class.html: the class at a glance after `grade batch`, one self-contained page.

Like the student page (grader/report/html.py, whose element builder and style it reuses):
inline CSS, no script, no external URL; every student id and message is escaped. The
histogram is inline SVG drawn here (a few hundred bytes, no matplotlib: the dashboard must
not slow the batch), pass rates are CSS bars. Every mistake lists every student who made
it, each linked to their feedback page when there is one, and the roster lists every
student (id order) with score, status and page. Lists of links wrap inside their cell: the
page is never wider than the window. Link targets come from the caller (`student_pages`,
from the results folder's own `html_path`), never from a file-name pattern here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Mapping
from urllib.parse import quote

from ..diagnose import advice
from ..results import points
from .class_stats import ClassStats
from .html import CSS, Content, Markup, el as _el

__all__ = ["render_dashboard", "svg_histogram", "student_pages"]

DASHBOARD_CSS = """
.stat { color: #555c6b; margin: 4px 0 0; }
.rate { display: inline-block; width: 160px; height: 10px; background: #e3e6eb; border-radius: 5px; overflow: hidden; vertical-align: middle; margin-right: 8px; }
.rate > span { display: block; height: 100%; background: #2e9d5b; }
.rate.low > span { background: #c0392b; }
td.students { min-width: 12em; }
.students a, .students span { display: inline-block; margin: 0 10px 2px 0; overflow-wrap: anywhere; }
table.roster td { overflow-wrap: anywhere; }
td.partial { color: #8a6100; }
svg.histogram { width: 100%; max-width: 760px; height: auto; background: #fff; }
table.summary td.num, table.summary th.num { text-align: right; white-space: nowrap; }
code.tag { white-space: nowrap; }
"""


def svg_histogram(counts: list[int], max_score: float) -> Markup:
    """Students per tenth of the maximum score, as an inline SVG bar chart."""
    width, height, left, bottom, top = 760, 260, 46, 40, 16
    plot_w, plot_h = width - left - 12, height - bottom - top
    peak = max(counts) or 1
    bar_w = plot_w / len(counts)
    parts: list[Content] = [
        _el("line", x1=str(left), y1=str(top + plot_h), x2=str(left + plot_w), y2=str(top + plot_h), stroke="#555c6b"),
        _el("text", "students", x="12", y=str(top + plot_h / 2), transform=f"rotate(-90 12 {top + plot_h / 2})", font_size="12", text_anchor="middle", fill="#555c6b"),
        _el("text", f"score (% of {points(max_score)} points)", x=str(left + plot_w / 2), y=str(height - 6), font_size="12", text_anchor="middle", fill="#555c6b"),
    ]
    for i, count in enumerate(counts):
        bar_h = plot_h * count / peak
        x = left + i * bar_w
        low, high = i * 100 // len(counts), (i + 1) * 100 // len(counts)
        parts += [
            _el("rect", x=f"{x + 3:.1f}", y=f"{top + plot_h - bar_h:.1f}", width=f"{bar_w - 6:.1f}", height=f"{bar_h:.1f}", fill="#2e9d5b" if i == len(counts) - 1 else "#3a6fb0"),
            _el("text", str(count), x=f"{x + bar_w / 2:.1f}", y=f"{top + plot_h - bar_h - 4:.1f}", font_size="12", text_anchor="middle", fill="#1d2330"),
            _el("text", f"{low}–{high}", x=f"{x + bar_w / 2:.1f}", y=str(top + plot_h + 16), font_size="11", text_anchor="middle", fill="#555c6b"),
        ]
    return _el("svg", parts, viewBox=f"0 0 {width} {height}", class_="histogram", role="img",
               aria_label="histogram of the class's scores")


def _student(student: str, pages: Mapping[str, str]) -> Markup:
    return _el("a", student, href=pages[student]) if student in pages else _el("span", student)


def _section(title: str, *body: Content) -> Markup:
    return _el("section", _el("h2", title), body, class_="check")


def render_dashboard(stats: ClassStats, title: str, pages: Mapping[str, str] | None = None, convention: str = "sum") -> str:
    """The page; `pages` maps a student to the link of their feedback page (`student_pages`)."""
    linked = dict(pages or {})
    total = stats.graded + len(stats.failed)
    header = _el(
        "header",
        _el("h1", "Class dashboard: ", title),
        _el("div", f"{stats.graded} of {total} submissions graded", class_="score"),
        _el("p", stats.describe(), class_="stat"),
        _el("p", f"{len(stats.failed)} could not be graded (listed below)." if stats.failed else "Every submission was graded.", class_="stat"),
    )
    checks = _el(
        "table",
        _el("tr", _el("th", "check"), _el("th", "pass rate"), _el("th", "passed", class_="num"), _el("th", "mean score", class_="num")),
        [
            _el("tr", _el("td", c.name),
                _el("td", _el("span", _el("span", style=f"width: {100 * c.pass_rate:.1f}%"), class_="rate" + (" low" if c.pass_rate < 0.5 else "")), f"{100 * c.pass_rate:.0f}%"),
                _el("td", f"{c.passed} of {c.graded}", class_="num"),
                _el("td", f"{c.mean:.2f} of {points(c.max_score)}", class_="num"))
            for c in stats.checks
        ],
        class_="summary",
    )
    mistakes = _el(
        "table",
        _el("tr", _el("th", "mistake"), _el("th", "students", class_="num"), _el("th", "fix"), _el("th", "who")),
        [
            _el("tr", _el("td", _el("code", code, class_="tag")), _el("td", str(len(students)), class_="num"), _el("td", advice(code, convention)),
                _el("td", [[_student(s, linked), " "] for s in students], class_="students"))
            for code, students in stats.mistakes
        ],
        class_="summary",
    ) if stats.mistakes else _el("p", "No mistakes diagnosed.")
    roster = _el(
        "table",
        _el("tr", _el("th", "student"), _el("th", "score", class_="num"), _el("th", "status"), _el("th", "feedback")),
        [
            _el("tr", _el("td", row.student), _el("td", "—" if row.score is None else f"{points(row.score)} / {points(row.max_score)}", class_="num"),
                _el("td", row.status, class_="passed" if row.status == "full marks" else "failed" if row.score is None else "partial"),
                _el("td", _el("a", "page", href=linked[row.student]) if row.student in linked else "none"))
            for row in stats.roster
        ],
        class_="summary roster",
    )
    slowest = _el(
        "table",
        _el("tr", _el("th", "student"), _el("th", "grading time", class_="num")),
        [_el("tr", _el("td", _student(s, linked)), _el("td", f"{seconds:.1f} s", class_="num")) for s, seconds in stats.slowest],
        class_="summary",
    )
    failed = _el(
        "table",
        _el("tr", _el("th", "student"), _el("th", "kind"), _el("th", "why")),
        [_el("tr", _el("td", s), _el("td", kind), _el("td", reason)) for s, kind, reason in stats.failed],
        class_="summary",
    ) if stats.failed else _el("p", "None.")
    parts: list[Content] = [
        header,
        _section("Score distribution", svg_histogram(stats.histogram(), stats.max_score)),
        _section("Checks: pass rate and mean score", checks),
        _section(f"Mistakes by frequency ({len(stats.mistakes)} kinds, every student listed)", mistakes),
        _section(f"Every student ({len(stats.roster)}, in id order)", roster),
        _section(f"Slowest submissions (top {len(stats.slowest)})", slowest),
        _section(f"Submissions that could not be graded ({len(stats.failed)})", failed),
    ]
    page = _el(
        "html",
        _el("head", _el("meta", charset="utf-8"), _el("meta", name="viewport", content="width=device-width, initial-scale=1"),
            _el("title", "Class dashboard: ", title), _el("style", Markup(CSS + DASHBOARD_CSS))),
        _el("body", _el("main", parts)),
        lang="en",
    )
    return "<!DOCTYPE html>\n" + page + "\n"


def student_pages(students: Iterable[str], page_of: Callable[[str], Path], dashboard: Path) -> dict[str, str]:
    """Each student whose feedback page exists, with its link relative to the dashboard.

    `page_of` is where the results folder keeps a student's page (ResultsDir.html_path)."""
    pages = {}
    for student in students:
        page = page_of(student)
        if page.is_file():
            pages[student] = quote(Path(os.path.relpath(page, dashboard.parent)).as_posix())
    return pages
