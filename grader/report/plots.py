"""Plots for the HTML feedback, as inline SVG markup (drawn with grader/report/svg.py).

Hand-written SVG instead of matplotlib PNGs: a failing student's three pictures cost a few
milliseconds instead of ~0.5 CPU-s, the page needs no image decoding and stays sharp at any
zoom. Each plot function takes the JSON-compatible `details` a check stored (plain lists
and numbers, possibly malformed) and returns None when they are unusable, so a bad detail
costs a picture, never the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .markup import Content
from .svg import (DIVERGING, MUTED, SEQUENTIAL, Scale, cell_grid, colour_bar, document, dots, fmt, frame, legend, lines,
                  nice_ticks, number, power_of_ten, quantise, segment, short, text, ticks)

__all__ = ["Plot", "plots_for", "heatmap_plot", "gradcheck_plot", "timing_plot", "scale_fit", "CELLS"]

CELLS = 40
"""At most CELLS × CELLS cells per heatmap panel: three full panels stay under ~45 KB."""
POINTS = 400
"""At most this many dots in the scatter (spread over the matrix, the worst entry always in)."""
RED, GREEN, BLUE = "#c0392b", "#27ae60", "#3a6fb0"


@dataclass(frozen=True)
class Plot:
    """One embedded picture."""

    title: str
    """Heading shown above the picture."""
    alt: str
    """Alternative text (what the picture shows, for screen readers and tests); also the SVG's <title>."""
    svg: str
    """The picture: one <svg> element, every text escaped (built by grader/report/svg.py)."""
    caption: str = ""
    """One sentence that says how to read it."""


def _matrix(value: Any) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if array.ndim == 1:
        array = array[np.newaxis, :]
    return array if array.ndim == 2 and array.size and np.all(np.isfinite(array)) else None


def scale_fit(student: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of yours against expected through the origin, and the relative residual.

    A residual near 0 means yours is `slope` × expected: a pure scale error (the mean instead
    of the sum gives 1/N), which a shared colour scale would show as a blank panel."""
    e, y = expected.ravel(), student.ravel()
    denominator = float(np.dot(e, e))
    if denominator <= 0:
        return math.nan, math.inf
    slope = float(np.dot(e, y)) / denominator
    residual = float(np.linalg.norm(y - slope * e) / max(np.linalg.norm(y), 1e-300))
    return slope, residual


def _block_max(values: np.ndarray, cells: int) -> tuple[np.ndarray, list[int], list[int]]:
    """The largest value of each of at most cells × cells blocks, and the blocks' first row and column."""
    rows = np.linspace(0, values.shape[0], min(cells, values.shape[0]) + 1).astype(int)[:-1]
    cols = np.linspace(0, values.shape[1], min(cells, values.shape[1]) + 1).astype(int)[:-1]
    return np.maximum.reduceat(np.maximum.reduceat(values, rows, axis=0), cols, axis=1), rows.tolist(), cols.tolist()


def _panel(data: np.ndarray, x: float, y: float, width: float, height: float, colours: tuple[str, ...], low: float, high: float,
           row_ids: list[int], col_ids: list[int], ylabel: str) -> list[Content]:
    """One heatmap panel: cells, frame, index ticks (every few cells) and axis labels."""
    rows, cols = data.shape
    xs, ys = Scale(0, cols, x, x + width), Scale(0, rows, y, y + height)
    every_c, every_r = max(1, math.ceil(cols / 6)), max(1, math.ceil(rows / 6))
    parts: list[Content] = [cell_grid(quantise(data, low, high, len(colours)), colours, x, y, width, height), frame(x, y, width, height),
                            ticks(xs, y + height, [c + 0.5 for c in range(0, cols, every_c)], [str(col_ids[c]) for c in range(0, cols, every_c)], "bottom"),
                            text(x + width / 2, y + height + 30, "output unit", size=11, fill=MUTED)]
    if rows > 1:
        parts.append(ticks(ys, x, [r + 0.5 for r in range(0, rows, every_r)], [str(row_ids[r]) for r in range(0, rows, every_r)], "left"))
    if ylabel:
        parts.append(text(x - 30, y + height / 2, ylabel, size=11, fill=MUTED, transform=f"rotate(-90 {fmt(x - 30)} {fmt(y + height / 2)})"))
    return parts


def _scatter(s: np.ndarray, e: np.ndarray, bound: float, slope: float, worst: int, x: float, y: float, size: float) -> list[Content]:
    """Yours against expected (both divided by `bound`, so within [-1, 1]) with y = x and the fitted slope."""
    xs, ys = Scale(-1.08, 1.08, x, x + size), Scale(-1.08, 1.08, y + size, y)
    pick = np.unique(np.append(np.linspace(0, e.size - 1, min(e.size, POINTS)).astype(int), worst))
    values = nice_ticks(-bound, bound, 4)
    where = [v / bound for v in values]
    reach = min(1.08, 1.08 / abs(slope)) if math.isfinite(slope) and slope else 1.08
    parts: list[Content] = [
        frame(x, y, size, size),
        ticks(xs, y + size, where, [number(v) for v in values], "bottom"), ticks(ys, x, where, [number(v) for v in values], "left"),
        segment(xs(-1.08), ys(-1.08), xs(1.08), ys(1.08), stroke="#2e9d5b", width=1.2),
        dots(zip(map(xs, e.ravel()[pick].tolist()), map(ys, s.ravel()[pick].tolist())), BLUE),
        text(x + size / 2, y - 8, "yours against expected", size=12),
        text(x + size / 2, y + size + 30, "expected", size=11, fill=MUTED),
        text(x - 42, y + size / 2, "yours", size=11, fill=MUTED, transform=f"rotate(-90 {fmt(x - 42)} {fmt(y + size / 2)})"),
    ]
    entries = [("#2e9d5b", False, "yours = expected")]
    if math.isfinite(slope):
        parts.append(segment(xs(-reach), ys(-reach * slope), xs(reach), ys(reach * slope), stroke=RED, width=1.2, dashed=True))
        entries.append((RED, True, f"slope {number(slope)}"))
    return [*parts, legend(x + 4, y + 4, entries)]


def heatmap_plot(detail: dict[str, Any], what: str = "weight update") -> Plot | None:
    """Student, reference and |student − reference| side by side, then yours against expected.

    A transposition shows as a symmetric pattern, a per-row (per-sample) error as stripes;
    a uniform scale error (mean instead of sum) is a straight line of slope ≠ 1 in the
    scatter, whatever the colour scale of the heatmaps. Values are divided by the shared
    bound first: nothing can overflow, and every colour and coordinate comes from [-1, 1].
    """
    if not isinstance(detail, dict):
        return None
    student, expected = _matrix(detail.get("student")), _matrix(detail.get("expected"))
    if student is None or expected is None or student.shape != expected.shape:
        return None
    bound = float(max(np.abs(student).max(), np.abs(expected).max())) or 1.0
    s, e = student / bound, expected / bound
    diff = np.abs(s - e)
    slope, residual = scale_fit(s, e)
    worst = int(np.argmax(diff))
    rows, cols = diff.shape
    capped = rows > CELLS or cols > CELLS
    top_rows, top_cols = list(range(min(rows, CELLS))), list(range(min(cols, CELLS)))
    blocks, block_rows, block_cols = _block_max(diff, CELLS)
    peak = float(diff.max()) or 1.0
    ylabel = "input unit" if rows > 1 else ""
    width, height, top, pw, ph = 1090, 318, 58, 200, 180
    label = short(detail.get("label", ""), 90)
    parts: list[Content] = [text(width / 2, 22, f"{what} ({label})" if label else what, size=14, font_weight="600")]
    panels = ((s[:CELLS, :CELLS], "yours", DIVERGING, -1.0, 1.0, top_rows, top_cols),
              (e[:CELLS, :CELLS], "expected", DIVERGING, -1.0, 1.0, top_rows, top_cols),
              (blocks, "|yours − expected|" + (" (max per block)" if capped else ""), SEQUENTIAL, 0.0, peak, block_rows, block_cols))
    for i, (data, title, colours, low, high, row_ids, col_ids) in enumerate(panels):
        x = 60 + 265 * i
        parts += [text(x + pw / 2, top - 8, title, size=12), *_panel(data, x, top, pw, ph, colours, low, high, row_ids, col_ids, ylabel if i == 0 else "")]
        scale = [(0, number(-bound)), (0.5, "0"), (1, number(bound))] if low < 0 else [(0, "0"), (1, number(peak * bound))]
        parts.append(colour_bar(colours, x + 30, top + ph + 40, pw - 60, scale))
    parts += _scatter(s, e, bound, slope, worst, 870, top, ph)
    index = tuple(int(i) for i in np.unravel_index(worst, diff.shape))
    caption = f"The bright cells of the third panel are where your {what} is wrong; the largest error is at index {index}."
    if capped:
        caption += (f" The {rows}×{cols} matrix is too large to draw whole: the first two panels show its top-left {len(top_rows)}×{len(top_cols)} block, "
                    f"the third the largest error of each of {len(block_rows)}×{len(block_cols)} blocks (its ticks give each block's first index).")
    if math.isfinite(slope) and residual < 1e-6 and abs(slope - 1) > 1e-6:
        caption += f" The points lie on a line of slope {slope:.4g}: yours is {slope:.4g} × expected everywhere, a scale error (1/N suggests a mean instead of a sum)."
    fitted = f"{slope:.3g}" if math.isfinite(slope) else "undefined, expected is all zeros"
    alt = f"heatmap of |student - reference| over the {what}, and a scatter of yours against expected (slope {fitted})"
    return Plot(title=f"Heatmap of the {what}", alt=alt, svg=document(width, height, alt, parts), caption=caption)


def _float(value: Any) -> float | None:
    """float(value), or None for garbage (a string, a list, an object)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _finite(value: Any) -> float | None:
    """A finite float from a detail, else None (garbage, NaN, inf)."""
    number_ = _float(value)
    return number_ if number_ is not None and math.isfinite(number_) else None


def _error(raw: Any) -> float | None:
    """A stored relative error: None (the check's "not finite"), NaN and inf draw as a full red bar; garbage as no bar."""
    error = math.inf if raw is None else _float(raw)
    return None if error is None else error if math.isfinite(error) else math.inf


def gradcheck_plot(entries: list[dict[str, Any]]) -> Plot | None:
    """Relative error of backward against finite differences, one bar per parameter and case (log scale)."""
    rows = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or "rel_error" not in entry:
            continue
        error, rtol = _error(entry["rel_error"]), _finite(entry.get("rtol"))
        if error is None or rtol is None or rtol <= 0:
            continue
        case = short(entry.get("case", ""), 60).replace(", ", ",")
        how = "full Jacobian" if case.startswith("full Jacobian ") else "directions"
        rows.append(([short(entry.get("parameter", "?"), 16), how, short(case.removeprefix("full Jacobian "), 18)], error, rtol))
    if not rows or all(e <= t for _, e, t in rows):
        return None  # every bar passes: a picture of success says nothing new
    floor, top_value = 1e-17, 1e6
    values = [min(max(e, floor), top_value) if math.isfinite(e) else top_value for _, e, _ in rows]
    slot, top, ph = 104, 40, 220
    width, height = max(480, 100 + slot * len(rows)), top + ph + 70
    left = (width - slot * len(rows)) / 2 + 20  # few bars: centred under the title
    high = 10 ** math.ceil(math.log10(max(10.0, max(values) * 10)))
    ys = Scale(floor, high, top + ph, top, log=True)
    low_exp, high_exp = round(math.log10(floor)), round(math.log10(high))
    every = max(1, math.ceil((high_exp - low_exp) / 8))
    exponents = list(range(high_exp, low_exp - 1, -every))
    right = left + slot * len(rows)
    parts: list[Content] = [
        text(width / 2, 22, "Your backward against the slope of your forward", size=14, font_weight="600"),
        frame(left, top, right - left, ph),
        ticks(ys, left, [10.0 ** k for k in exponents], [power_of_ten(k) for k in exponents], "left"),
        text(left - 46, top + ph / 2, "relative error vs finite differences", size=11, fill=MUTED, transform=f"rotate(-90 {fmt(left - 46)} {fmt(top + ph / 2)})"),
    ]
    for i, ((label, error, rtol), value) in enumerate(zip(rows, values)):
        x = left + slot * i
        colour = RED if not error <= rtol else GREEN
        parts += [frame(x + 22, ys(value), slot - 44, ys(floor) - ys(value), fill=colour),
                  lines(x + slot / 2, top + ph + 16, label, size=10)]
    tolerances = {t for _, _, t in rows}
    if len(tolerances) == 1:
        parts.append(segment(left, ys(rows[0][2]), right, ys(rows[0][2]), stroke="#333", dashed=True))
        tolerance = f"tolerance {rows[0][2]:g}"
    else:  # one tolerance per bar: a dashed mark over each
        parts += [segment(left + slot * i + 12, ys(t), left + slot * (i + 1) - 12, ys(t), stroke="#333", dashed=True) for i, (_, _, t) in enumerate(rows)]
        tolerance = "tolerance of each bar"
    parts.append(legend(left + 6, top + 6, [("#333", True, tolerance)]))
    failing = [label[0] for label, e, t in rows if not e <= t]
    caption = "Red bars exceed the tolerance: " + ", ".join(dict.fromkeys(failing)) + " disagree with your forward."
    alt = "bar chart of the finite-difference error per parameter"
    return Plot(title="Finite-difference error per parameter", alt=alt, svg=document(width, height, alt, parts), caption=caption)


def timing_plot(details: dict[str, Any]) -> Plot | None:
    """Every timed round of yours and of the reference (log scale), with the ratio the score comes from."""
    if not isinstance(details, dict) or not all(isinstance(details.get(k) or [], list) for k in ("student_rounds_ms", "reference_rounds_ms")):
        return None
    student = [v for v in map(_finite, details.get("student_rounds_ms") or []) if v is not None and v > 0]
    reference = [v for v in map(_finite, details.get("reference_rounds_ms") or []) if v is not None and v > 0]
    fraction = _finite(details.get("fraction", 0.0) or 0.0)
    if not student or not reference or fraction is None or fraction >= 1.0:
        return None  # full timing points: the ratio in the heading says enough
    slowdown, partial = _finite(details.get("slowdown")), _finite(details.get("partial_slowdown"))
    ratio = f"{slowdown:.2f}×" if slowdown is not None else f"about {partial:.0f}× (stopped early)" if partial is not None else "over the cut-off"
    every = student + reference
    low_exp, high_exp = math.floor(math.log10(min(every))), math.ceil(math.log10(max(every)))
    high_exp = max(high_exp, low_exp + 1)
    width, height, left, right, top, ph = 640, 240, 92, 620, 40, 120
    xs = Scale(10.0 ** low_exp, 10.0 ** high_exp, left, right, log=True)
    step = max(1, math.ceil((high_exp - low_exp) / 8))
    exponents = list(range(low_exp, high_exp + 1, step))
    row_y = {"reference": top + ph * 0.3, "yours": top + ph * 0.7}
    clock = "CPU milliseconds" if details.get("clock") == "cpu" else "milliseconds"  # the kernel's CPU count, or the wall clock
    unit = f"{clock} per round ({short(details.get('k', '?'), 12)} forward+backward steps, {short(details.get('device', 'cpu'), 24)})"
    parts: list[Content] = [
        text(width / 2, 22, f"Your Dense took {ratio} the reference's time (median of rounds)", size=13, font_weight="600"),
        frame(left, top, right - left, ph),
        ticks(xs, top + ph, [10.0 ** k for k in exponents], [power_of_ten(k) for k in exponents], "bottom"),
        text((left + right) / 2, top + ph + 36, unit, size=11, fill=MUTED),
        text(left - 8, row_y["reference"] + 4, "reference", size=11, anchor="end"),
        text(left - 8, row_y["yours"] + 4, "yours", size=11, anchor="end"),
        dots(((xs(v), row_y["reference"]) for v in reference), "#2e9d5b", radius=3.5),
        dots(((xs(v), row_y["yours"]) for v in student), RED, radius=3.5),
    ]
    alt = f"timing rounds of yours and the reference, ratio {ratio}"
    return Plot(title="Timing rounds", alt=alt, svg=document(width, height, alt, parts),
                caption=f"Each dot is one timed round; the score uses the ratio of the medians: {ratio}.")


def plots_for(details: dict[str, Any]) -> list[Plot]:
    """Every picture a check's details allow, in a stable order."""
    plots: list[Plot] = []
    makers = (
        ("weights_heatmap", lambda d: heatmap_plot(d, "weight update")),
        ("biases_heatmap", lambda d: heatmap_plot(d, "bias update")),
        ("gradcheck", gradcheck_plot),
        ("student_rounds_ms", lambda _: timing_plot(details)),
    )
    for key, make in makers:
        if key in details:
            try:
                plot = make(details[key])
            except (TypeError, ValueError, KeyError):
                plot = None
            if plot is not None:
                plots.append(plot)
    return plots
