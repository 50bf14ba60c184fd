"""HTML plots that answer the question at a glance, as small, valid, safe inline SVG.

One real `grade --html` run of the sample submission (the mean mistake) and of a Python-loop
submission: a scale error is a slope, timing shows its ratio, gradcheck labels do not
overlap. Then the plot functions on hand-made details: every picture parses as SVG with its
texts, a large matrix stays under the size cap, NaN/inf/huge/garbage details give no picture
or a clean one (never "nan" in an attribute), a hostile label stays text, and no grader
module imports matplotlib.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import ROOT, SUBMISSIONS, run_grade
from grader.report import plots

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"
NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&amp;'
SIZE_CAP = 60_000


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    folder = tmp_path_factory.mktemp("plots")
    result = run_grade(str(SAMPLE), "--format", "json", "-o", str(folder / "report.json"), "--html", str(folder / "page.html"))
    assert result.returncode == 0, result.stderr
    return (folder / "page.html").read_text(), json.loads((folder / "report.json").read_text())


def parsed(plot: plots.Plot) -> ET.Element:
    """The plot's SVG as XML, checked for what a browser needs to draw it at a size and a screen reader to name it."""
    root = ET.fromstring(plot.svg)
    assert root.tag == f"{NS}svg"
    width, height = int(root.get("width", "0")), int(root.get("height", "0"))
    assert width > 100 and height > 100 and root.get("viewBox") == f"0 0 {width} {height}"
    assert root.get("role") == "img" and root.get("aria-label") == plot.alt and root.find(f"{NS}title").text == plot.alt
    for element in root.iter():
        for name, value in element.attrib.items():
            assert not re.search(r"\b(nan|inf|infinity)\b", value, re.I), (element.tag, name, value)
    return root


def texts(root: ET.Element) -> str:
    return " | ".join("".join(t.itertext()) for t in root.iter(f"{NS}text"))


def heatmap(student: Any, expected: Any, label: str = "N=4, in=3, out=2") -> dict[str, Any]:
    return {"student": student, "expected": expected, "label": label}


def test_a_scale_error_is_shown_as_a_slope(sample: tuple[str, dict]) -> None:
    page, report = sample
    detail = next(t for t in report["tests"] if t["name"] == "dense-update-weights")["details"]["weights_heatmap"]
    n = int(detail["label"].split("N=")[1].split(",")[0])
    assert f"scatter of yours against expected (slope {1 / n:.3g})" in page
    assert f"yours is {1 / n:.4g} × expected everywhere" in page
    plot = plots.heatmap_plot(detail)
    drawn = texts(parsed(plot))
    assert f"slope {1 / n:.3g}" in drawn and "yours = expected" in drawn and "yours against expected" in drawn
    assert "output unit" in drawn and "input unit" in drawn and "|yours − expected|" in drawn
    assert plot.svg in page  # inline, exactly as drawn


def test_gradcheck_labels_do_not_overlap(sample: tuple[str, dict]) -> None:
    _, report = sample
    entries = next(t for t in report["tests"] if t["name"] == "dense-gradcheck")["details"]["gradcheck"]
    assert len(entries) >= 6
    plot = plots.gradcheck_plot(entries)
    root = parsed(plot)
    assert "Your backward against the slope of your forward" in texts(root) and "tolerance" in texts(root)
    labels = [t for t in root.iter(f"{NS}text") if t.find(f"{NS}tspan") is not None]
    assert len(labels) == len(entries)
    height = float(root.get("height"))
    boxes = []
    for label in labels:
        spans = [s.text or "" for s in label.iter(f"{NS}tspan")]
        size, x, y = float(label.get("font-size")), float(label.get("x")), float(label.get("y"))
        half = 0.62 * size * max(map(len, spans)) / 2  # a generous average glyph width for the sans-serif font
        boxes.append((x - half, x + half))
        assert y + 1.2 * size * (len(spans) - 1) + 0.3 * size <= height, "labels stay inside the picture"
    assert all(boxes[i][1] < boxes[i + 1][0] for i in range(len(boxes) - 1)), boxes
    fills = {r.get("fill") for r in root.iter(f"{NS}rect")}
    assert plots.RED in fills and plots.GREEN in fills  # failing and passing bars


def test_timing_shows_the_measured_ratio(sample: tuple[str, dict], tmp_path: Path) -> None:
    page, report = sample
    timing = next(t for t in report["tests"] if t["name"] == "dense-timing")
    assert f"took {timing['details']['slowdown']:.2f}× the reference&#x27;s time" in page
    # A loop that always runs timed rounds (python_loop.ipynb may be cut at its warm-up step).
    loop = run_grade(str(ROOT / "tests" / "timing_submissions" / "row_pairs_loop.py"), "--html", str(tmp_path / "loop.html"))
    assert loop.returncode == 0, loop.stderr
    assert "× the reference's time" in next(l for l in loop.stdout.splitlines() if l.startswith("dense-timing "))
    assert 'aria-label="timing rounds of yours and the reference, ratio' in (tmp_path / "loop.html").read_text()


def test_every_plot_is_valid_svg_with_its_texts() -> None:
    rng = np.random.default_rng(1)
    expected = rng.normal(size=(3, 4))
    weights = plots.heatmap_plot(heatmap((-expected).tolist(), expected.tolist()))
    biases = plots.heatmap_plot(heatmap((expected[0] / 4).tolist(), expected[0].tolist(), "N=4"), "bias update")
    assert "weight update (N=4, in=3, out=2)" in texts(parsed(weights)) and "slope −1" in texts(parsed(weights))
    assert "bias update (N=4)" in texts(parsed(biases)) and "slope 0.25" in texts(parsed(biases))
    assert "yours is 0.25 × expected everywhere" in biases.caption
    gradcheck = plots.gradcheck_plot([{"case": "N=2, in=3, out=2", "parameter": "weights", "rel_error": 0.5, "rtol": 1e-4},
                                      {"case": "full Jacobian N=2, in=3, out=2", "parameter": "biases", "rel_error": 1e-12, "rtol": 1e-4}])
    assert "tolerance 0.0001" in texts(parsed(gradcheck)) and gradcheck.caption.startswith("Red bars exceed the tolerance: weights ")
    timing = plots.timing_plot({"student_rounds_ms": [40.0, 42.5, 39.1], "reference_rounds_ms": [2.0, 2.1, 1.9], "slowdown": 20.3,
                                "fraction": 0.4, "k": 5, "device": "cpu"})
    drawn = texts(parsed(timing))
    assert "Your Dense took 20.30× the reference's time" in drawn and "5 forward+backward steps, cpu" in drawn
    assert "yours" in drawn and "reference" in drawn and "20.30×" in timing.alt


def test_a_large_matrix_is_capped_and_keeps_its_worst_error() -> None:
    rng = np.random.default_rng(2)
    expected = rng.normal(size=(300, 257))
    student = expected + 0.01 * rng.normal(size=expected.shape)
    student[211, 180] += 50.0  # far outside the top-left block that the first two panels show
    plot = plots.heatmap_plot(heatmap(student.tolist(), expected.tolist()))
    assert len(plot.svg.encode()) < SIZE_CAP, len(plot.svg.encode())
    parsed(plot)
    assert "largest error is at index (211, 180)" in plot.caption and "300×257 matrix is too large to draw whole" in plot.caption
    assert "(max per block)" in texts(parsed(plot))
    brightest = plots.SEQUENTIAL[-1]
    assert sum(p.get("stroke") == brightest for p in ET.fromstring(plot.svg).iter(f"{NS}path")) >= 1  # the worst block is drawn bright


@pytest.mark.parametrize("detail", [
    heatmap([[1.0, float("nan")]], [[1.0, 2.0]]),
    heatmap([[1.0, float("inf")]], [[1.0, 2.0]]),
    heatmap([[1, 2]], [[1]]),
    heatmap("garbage", [[1.0]]),
    heatmap([[1, "x"]], [[1, 2]]),
    heatmap([["1e999", 2]], [[1, 2]]),
    heatmap([], []),
    {"student": [[1.0]]},
    [1, 2, 3],
    None,
], ids=["nan", "inf", "shapes", "string", "mixed", "overflow", "empty", "no-expected", "list", "none"])
def test_unusable_heatmap_details_give_no_picture(detail: Any) -> None:
    assert plots.heatmap_plot(detail) is None
    assert plots.plots_for({"weights_heatmap": detail}) == []


@pytest.mark.parametrize("scale", [1e-300, 1e300, 0.0])
def test_extreme_but_finite_values_draw_cleanly(scale: float) -> None:
    expected = np.array([[1.0, -2.0], [3.0, 0.5]]) * scale
    plot = plots.heatmap_plot(heatmap((expected * 2).tolist(), expected.tolist()))
    root = parsed(plot)
    assert "yours against expected" in texts(root)


def test_garbage_gradcheck_and_timing_details() -> None:
    garbage: list[Any] = [None, 3, "x", {"rel_error": "x", "rtol": 1e-4}, {"rel_error": 1.0, "rtol": "nan"}, {"rel_error": 1.0}, {"rtol": 1e-4}]
    assert plots.gradcheck_plot(garbage) is None
    assert plots.gradcheck_plot("not a list") is None  # type: ignore[arg-type]
    assert plots.gradcheck_plot([{"parameter": "weights", "case": "c", "rel_error": 1e-9, "rtol": 1e-4}]) is None  # every bar passes
    unknown = plots.gradcheck_plot([*garbage, {"parameter": "weights", "case": "c", "rel_error": None, "rtol": 1e-4},
                                    {"parameter": "biases", "case": "c", "rel_error": float("nan"), "rtol": 1e-3},
                                    {"parameter": "grad_input", "case": "c", "rel_error": 1e300, "rtol": 1e-4}])
    assert len([t for t in parsed(unknown).iter(f"{NS}text") if t.find(f"{NS}tspan") is not None]) == 3
    assert "tolerance of each bar" in texts(parsed(unknown))
    rounds = {"student_rounds_ms": [5.0, float("nan"), float("inf"), -1.0, "x", 6.0], "reference_rounds_ms": [1.0, 1.2],
              "slowdown": float("inf"), "partial_slowdown": float("nan"), "fraction": 0.5}
    timing = plots.timing_plot(rounds)
    assert "over the cut-off" in texts(parsed(timing))
    assert plots.timing_plot({**rounds, "fraction": 1.0}) is None  # full points: no picture
    assert plots.timing_plot({**rounds, "student_rounds_ms": [float("nan")]}) is None
    assert plots.timing_plot({**rounds, "student_rounds_ms": "x"}) is None
    assert plots.timing_plot({**rounds, "fraction": "x"}) is None
    assert plots.timing_plot([]) is None  # type: ignore[arg-type]


def test_hostile_labels_stay_text() -> None:
    shown = plots.heatmap_plot(heatmap([[1.0, 2.0]], [[2.0, 1.0]], label=HOSTILE))
    bars = plots.gradcheck_plot([{"case": HOSTILE, "parameter": HOSTILE, "rel_error": 1.0, "rtol": 1e-4}])
    timing = plots.timing_plot({"student_rounds_ms": [3.0], "reference_rounds_ms": [1.0], "slowdown": 3.0, "fraction": 0.5, "k": HOSTILE, "device": HOSTILE})
    assert "&amp;amp;" in shown.svg  # an entity typed in a label stays text too
    for plot in (shown, bars, timing):  # gradcheck and timing labels are cut short, but never unescaped
        assert "<script" not in plot.svg.lower() and "&lt;script&gt;" in plot.svg
        assert "<script>" in texts(parsed(plot))  # decoded by the XML parser: it was text all along


def test_the_grader_never_imports_matplotlib() -> None:
    code = (
        "import sys\n"
        "import grader.cli, grader.engine, grader.batch.execute, grader.report.html, grader.report.dashboard\n"
        "from grader.report.plots import plots_for\n"
        "details = {'weights_heatmap': {'student': [[1.0, 2.0]], 'expected': [[2.0, 1.0]]},\n"
        "           'gradcheck': [{'parameter': 'weights', 'case': 'c', 'rel_error': 1.0, 'rtol': 1e-4}],\n"
        "           'student_rounds_ms': [3.0], 'reference_rounds_ms': [1.0], 'slowdown': 3.0, 'fraction': 0.5}\n"
        "assert len(plots_for(details)) == 3\n"
        "assert not [m for m in sys.modules if m.startswith('matplotlib')], 'matplotlib was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
