"""HTML plots that answer the question at a glance: a scale error is a slope, labels are readable,
timing shows its ratio. One real `grade --html` run of the sample submission (the mean mistake)
and of a Python-loop submission; the gradcheck figure is re-drawn from the run's JSON details
to measure its tick labels.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade
from grader.report import plots

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    folder = tmp_path_factory.mktemp("plots")
    result = run_grade(str(SAMPLE), "--format", "json", "-o", str(folder / "report.json"), "--html", str(folder / "page.html"))
    assert result.returncode == 0, result.stderr
    return (folder / "page.html").read_text(), json.loads((folder / "report.json").read_text())


def test_a_scale_error_is_shown_as_a_slope(sample: tuple[str, dict]) -> None:
    page, report = sample
    detail = next(t for t in report["tests"] if t["name"] == "dense-update-weights")["details"]["weights_heatmap"]
    n = int(detail["label"].split("N=")[1].split(",")[0])
    assert f"scatter of yours against expected (slope {1 / n:.3g})" in page
    assert f"yours is {1 / n:.4g} × expected everywhere" in page


def test_gradcheck_labels_do_not_overlap(sample: tuple[str, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    _, report = sample
    entries = next(t for t in report["tests"] if t["name"] == "dense-gradcheck")["details"]["gradcheck"]
    assert len(entries) >= 6
    drawn = []
    encode = plots._encode
    monkeypatch.setattr(plots, "_encode", lambda fig: (drawn.append(fig), encode(fig))[1])  # spy: the real PNG is still made
    assert plots.gradcheck_plot(entries) is not None
    fig = drawn[0]
    renderer = fig.canvas.get_renderer()
    boxes = [label.get_window_extent(renderer) for label in fig.axes[0].get_xticklabels() if label.get_text()]
    assert len(boxes) == len(entries)
    overlaps = [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]
    assert not overlaps, overlaps
    assert all(box.y0 >= 0 for box in boxes), "labels stay inside the picture"


def test_timing_shows_the_measured_ratio(sample: tuple[str, dict], tmp_path: Path) -> None:
    page, report = sample
    timing = next(t for t in report["tests"] if t["name"] == "dense-timing")
    assert f"took {timing['details']['slowdown']:.2f}× the reference&#x27;s time" in page
    loop = run_grade(str(SUBMISSIONS / "python_loop.ipynb"), "--html", str(tmp_path / "loop.html"))
    assert loop.returncode == 0, loop.stderr
    assert "× the reference's time" in next(l for l in loop.stdout.splitlines() if l.startswith("dense-timing "))
    assert 'alt="timing rounds of yours and the reference, ratio' in (tmp_path / "loop.html").read_text()
