"""The HTML feedback: escaping of everything from the student, plots, and a real browser.

The browser test renders a real report (a graded notebook with a transposed weight
gradient) in Debian's headless Chromium, keeps the screenshot in test-artifacts/ and checks
that it is not blank, that the inline SVG plots were drawn (their colours are on the screen)
and that the DOM holds them. It skips when chromium is
not installed (`apt-get install -y chromium`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade
from grader.engine import grade_file
from grader.report.plots import RED
from grader.report.html import render_html, write_html
from grader.report.svg import DIVERGING, SEQUENTIAL
from grader.results import CheckResult, GradeReport, StatementNote

ARTIFACTS = ROOT / "test-artifacts"
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>&amp;'


@pytest.fixture(scope="module")
def graded() -> GradeReport:
    """One real report with failing update and gradcheck checks (so both plots exist)."""
    return grade_file(SUBMISSIONS / "grad_weights_transposed.ipynb")


def hostile_report() -> GradeReport:
    test = CheckResult(
        name="dense-forward", score=0, max_score=2, status="failed", visibility="visible",
        output=f"Dense.forward raised ValueError: {HOSTILE}\nTraceback (student code, most recent call last):\n  File \"<submission cell 3>\", line 2, in forward\n    {HOSTILE}",
        diagnoses=("exception",), description="forward(X) = X·W + b.",
    )
    return GradeReport(
        submission=f"/tmp/{HOSTILE}.ipynb", assignment="dense_layer", score=0, max_score=2, tests=(test,),
        diagnoses=("exception",), seed=1, grader_version="test", execution_time=0.1,
        statements=(StatementNote("cell 2", 1, "error", HOSTILE),), student_output=HOSTILE * 3,
    )


def test_student_text_is_escaped_everywhere() -> None:
    page = render_html(hostile_report())
    assert "<script" not in page.lower()
    assert "<img src=x" not in page  # the student's tag stays text
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&amp;amp;" in page  # an entity typed by the student stays text
    assert page.count("&lt;script&gt;") >= 5  # output, traceback, statement, printed text, title/file name


def test_page_is_self_contained_and_has_both_plots(graded: GradeReport) -> None:
    page = render_html(graded)
    figures = re.findall(r"<figure>(<svg .*?</svg>)<figcaption>", page)
    alts = [ET.fromstring(svg).get("aria-label") for svg in figures]  # each inline SVG is well-formed XML on its own
    assert any("heatmap" in alt for alt in alts), alts
    assert any("finite-difference" in alt for alt in alts), alts
    assert "<img" not in page and "data:" not in page
    assert not re.search(r'(src|href)="(https?:|//)', page), "the page must not load anything from the network"
    assert "grad-weights-transposed" in page and "input.T @ grad_output" in page


def test_plots_only_for_failed_checks() -> None:
    report = grade_file(SUBMISSIONS / "reference.ipynb")
    page = render_html(report)
    assert "heatmap" not in page  # a correct update is all zeros: no picture
    assert "<svg" not in page  # all-green bars say nothing new


def test_cli_writes_html(tmp_path: Path) -> None:
    target = tmp_path / "feedback.html"
    result = run_grade(str(SUBMISSIONS / "grad_bias_mean.ipynb"), "--html", str(target))
    assert result.returncode == 0, result.stderr
    page = target.read_text(encoding="utf-8")
    assert "grad-bias-mean" in page and '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'role="img"' in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _browser(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                   f"--user-data-dir={profile}", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=90)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_renders_in_headless_chromium(graded: GradeReport) -> None:
    import matplotlib.image

    ARTIFACTS.mkdir(exist_ok=True)
    page = write_html(graded, ARTIFACTS / "feedback.html")
    hostile = write_html(hostile_report(), ARTIFACTS / "feedback-hostile.html")
    shot = ARTIFACTS / "feedback.png"
    shot.unlink(missing_ok=True)
    _browser(f"--screenshot={shot}", "--window-size=1200,2600", page.resolve().as_uri())
    assert shot.exists() and shot.stat().st_size > 30_000, "chromium wrote no (or a tiny) screenshot"
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05, "the screenshot is blank"
    assert len({tuple(p) for p in (pixels[::16, ::16].reshape(-1, 3) * 255).astype(int)}) > 50, "too few colours: the plots did not render"
    drawn = (pixels * 255).round().astype(int).reshape(-1, 3)

    def painted(*colours: str) -> int:
        return sum(int((abs(drawn - [int(c[i:i + 2], 16) for i in (1, 3, 5)]).max(axis=1) <= 3).sum()) for c in colours)

    assert painted(RED) > 2000, "the failing gradcheck bars are not on the screen: the SVG did not render"
    assert painted(DIVERGING[0], DIVERGING[-1]) > 1000, "the heatmap's extreme cells are not on the screen"
    assert painted(SEQUENTIAL[0]) > 1000, "the difference panel's correct (dark) cells are not on the screen"

    dom = _browser("--dump-dom", page.resolve().as_uri()).stdout
    plots = re.findall(r'<svg[^>]*class="plot"[^>]*>', dom)
    assert len(plots) >= 2, dom[:2000]
    assert any("heatmap" in tag for tag in plots) and any("finite-difference" in tag for tag in plots)

    hostile_dom = _browser("--dump-dom", hostile.resolve().as_uri()).stdout
    assert "<body" in hostile_dom and "<script" not in hostile_dom.lower() and "onerror" not in re.sub(r"&[a-z]+;", "", "".join(re.findall(r"<[^>]+>", hostile_dom)))


def test_broken_details_cost_a_picture_not_the_page(graded: GradeReport) -> None:
    broken = tuple(replace(t, details={"weights_heatmap": {"student": [[1, 2]], "expected": [[1]]}, "gradcheck": [{"rel_error": "x"}]}) for t in graded.tests)
    page = render_html(replace(graded, tests=broken))
    assert "<svg" not in page and "dense-update-weights" in page
