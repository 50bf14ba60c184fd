"""class.html and the terminal summary after `grade batch`, on a small real class.

The class: two students with the same mistake (grad-weights-mean), one correct, one with a
different mistake, and one file that is not a notebook. The page is checked as text (self-
contained, every student of every mistake listed, the failure listed) and rendered in
headless Chromium (screenshot kept in test-artifacts/class.png), like the student page.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade

ARTIFACTS = ROOT / "test-artifacts"
CLASS = {
    "ada": "grad_weights_mean.ipynb",
    "bob": "grad_weights_mean.ipynb",
    "cyd": "reference.ipynb",
    "dee": "forward_missing_bias.ipynb",
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("dashboard")
    folder = base / "class"
    folder.mkdir()
    for student, source in CLASS.items():
        text = (SUBMISSIONS / source).read_text().replace('"cells": [', f'"cells": [{{"cell_type": "markdown", "metadata": {{}}, "source": "{student}"}}, ', 1)
        (folder / f"{student}.ipynb").write_text(text)  # unique content, same code
    (folder / "eve.ipynb").write_text("{this is not json")
    (folder / "fay.ipynb").write_text("")
    result = run_grade("batch", str(folder), "--out", str(base / "results"), "--jobs", "2", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return base / "results", result.stdout


def test_dashboard_is_self_contained_and_lists_every_student(batch: tuple[Path, str]) -> None:
    results, _ = batch
    page = (results / "class.html").read_text()
    assert "<script" not in page.lower() and not re.search(r'(src|href)="(https?:|//)', page) and "http" not in page
    assert "<svg" in page and "histogram" in page
    for check in ("dense-forward", "dense-update-weights", "dense-timing"):
        assert f"<td>{check}</td>" in page
    row = re.search(r"<code class=\"tag\">grad-weights-mean</code>.*?</tr>", page, re.S).group(0)
    assert '<a href="ada.html">ada</a>' in row and '<a href="bob.html">bob</a>' in row and "sum over the batch" in row
    assert "forward-missing-bias" in page and "dee" in page
    assert "eve" in page and "not valid JSON" in page
    assert "4 of 6 submissions graded" in page


def test_the_roster_lists_every_student_in_id_order_with_score_status_and_page(batch: tuple[Path, str]) -> None:
    results, _ = batch
    page = (results / "class.html").read_text()
    table = re.search(r'<table class="summary roster">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"num\">([^<]*)</td><td class=\"(\w+)\">([^<]*)</td><td>(.*?)</td></tr>", table)
    assert [r[0] for r in rows] == ["ada", "bob", "cyd", "dee", "eve", "fay"], table
    by_id = {r[0]: r[1:] for r in rows}
    assert by_id["cyd"][:3] == ("23 / 23", "passed", "full marks") and by_id["cyd"][3] == '<a href="cyd.html">page</a>'
    assert by_id["ada"][0] == "17.76 / 23" and by_id["ada"][2].endswith("checks failed")
    assert by_id["eve"][:3] == ("—", "failed", "not graded (input)")
    for student in ("eve", "fay"):  # a file that cannot be graded still gets a page that says why
        assert by_id[student][3] == f'<a href="{student}.html">page</a>'
    assert "the file is empty" in (results / "fay.html").read_text() and "not valid JSON" in (results / "eve.html").read_text()


def test_terminal_summary_has_per_check_statistics(batch: tuple[Path, str]) -> None:
    _, stdout = batch
    assert "Per check (pass rate = students with full points):" in stdout
    line = next(l for l in stdout.splitlines() if l.strip().startswith("dense-update-weights"))
    assert "50%" in line and "2 of 4" in line, line
    mistakes = stdout[stdout.index("Mistakes by frequency"):]
    assert re.search(r"^\s+2\s+grad-weights-mean\s", mistakes, re.M) and "forward-missing-bias" in mistakes
    assert "class.html" in stdout and "and 6 more" not in stdout


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _widths(page: Path, window: int) -> tuple[int, int]:
    """(document width, window width) of `page` in headless Chromium: a copy of the page with a
    script that writes them into the DOM (the page itself has no script)."""
    probe = page.with_name(f"probe-{page.name}")
    probe.write_text(page.read_text().replace("</body>", "<script>document.body.dataset.widths = "
                     "document.documentElement.scrollWidth + ' ' + window.innerWidth;</script></body>"))
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                              f"--user-data-dir={profile}", f"--window-size={window},900", "--dump-dom", probe.as_uri()],
                             capture_output=True, text=True, timeout=90).stdout
    probe.unlink()
    found = re.search(r'data-widths="(\d+) (\d+)"', dom)
    assert found, dom[:2000]
    return int(found.group(1)), int(found.group(2))


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_a_large_class_page_is_not_wider_than_a_1280_px_window(batch: tuple[Path, str], tmp_path: Path) -> None:
    """Sixty students with long ids share a mistake: their links wrap in the "who" cell."""
    from grader.assignment import load_assignment
    from grader.batch.store import ResultsDir
    from grader.report.class_stats import class_stats
    from grader.report.dashboard import render_dashboard, student_pages

    results, _ = batch
    record = json.loads((results / "ada.json").read_text())
    store = ResultsDir(tmp_path)
    rows = [(f"student-{i:02d}-with-a-long-learning-platform-id", record) for i in range(60)]
    for student, _ in rows:
        shutil.copy(results / "ada.html", store.html_path(student))
    assignment = load_assignment("dense_layer")
    page = tmp_path / "class.html"
    pages = student_pages([s for s, _ in rows], store.html_path, page)
    page.write_text(render_dashboard(class_stats(rows, [c.name for c in assignment.checks], assignment.max_score), assignment.title, pages))
    assert len(pages) == 60 and page.read_text().count(f'href="{rows[0][0]}.html"') >= 2
    for shown in (page, results / "class.html"):
        document, window = _widths(shown, 1280)
        assert window == 1280 and document <= window, (shown.name, document, window)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_dashboard_renders_in_headless_chromium(batch: tuple[Path, str]) -> None:
    import matplotlib.image

    results, _ = batch
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "class.png"
    shot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        common = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--hide-scrollbars", f"--user-data-dir={profile}"]
        subprocess.run([*common, f"--screenshot={shot}", "--window-size=1200,2200", (results / "class.html").as_uri()], capture_output=True, timeout=90)
        dom = subprocess.run([*common, "--dump-dom", (results / "class.html").as_uri()], capture_output=True, text=True, timeout=90).stdout
    assert shot.exists() and shot.stat().st_size > 20_000, "chromium wrote no (or a tiny) screenshot"
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05, "the screenshot is blank"
    assert len(re.findall(r"<rect ", dom)) == 10, "ten histogram bars in the DOM"
    from grader.assignment import load_assignment

    assert dom.count('class="rate') == len(load_assignment("dense_layer").checks) and "<script" not in dom.lower()


def test_full_marks_count_each_students_own_maximum() -> None:
    """A check that does not apply to a student (CS231n's TwoLayerNet when fc_net.py is not
    handed in) counts no points, so 18 of 18 is full marks beside 20 of 20."""
    from grader.report.class_stats import class_stats

    def record(score: float, most: float) -> dict:
        return {"score": score, "max_score": most, "tests": [{"name": "a", "score": score, "max_score": most, "status": "passed" if score == most else "failed"}]}

    stats = class_stats([("ann", record(18, 18)), ("bob", record(20, 20)), ("cid", record(9, 18))], ["a"], 20)
    assert stats.describe().endswith("2 of 3 with full marks") and "of 18 to 20 (checks that do not apply count none) points" in stats.describe()
    assert stats.histogram()[-1] == 2 and stats.histogram()[5] == 1
    assert [(row.student, row.max_score, row.status) for row in stats.roster] == [("ann", 18, "full marks"), ("bob", 20, "full marks"), ("cid", 18, "1 of 1 checks failed")]
