"""Inline SVG primitives for the feedback plots: scales, axes, colour maps, cell grids, dots.

Why not matplotlib: a failing student's page drew three PNGs for ~0.5 CPU-s (text layout and
PNG encoding), the largest cost of an HTML batch. Markup written by hand costs milliseconds
and stays sharp at any zoom. Two rules keep it safe and small:
- every text and attribute goes through `el` (grader/report/markup.py), so a label taken
  from a check's details stays text;
- every number becomes a coordinate through `fmt`, which clamps it (NaN becomes 0), so no
  "nan" or "inf" ever reaches an attribute.
Cells are not one <rect> each (~50 bytes): each colour is one <path> of 1-unit-thick
horizontal strokes in a scaled group, runs of equal cells merged (~8 bytes a cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .markup import Content, Markup, el

__all__ = ["Scale", "fmt", "number", "short", "power_of_ten", "text", "lines", "segment", "frame", "legend", "document",
           "ramp", "DIVERGING", "SEQUENTIAL", "quantise", "cell_grid", "colour_bar", "dots", "nice_ticks", "ticks",
           "INK", "MUTED"]

INK, MUTED = "#1d2330", "#555c6b"
LIMIT = 1e5
"""No coordinate is larger: a huge value is drawn at the edge, not at 1e300 px."""
SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt(value: float) -> str:
    """A finite coordinate with one decimal (NaN → 0, ±inf and huge values clamped to ±LIMIT)."""
    value = float(value)
    if value != value:
        value = 0.0
    text = f"{min(LIMIT, max(-LIMIT, value)):.1f}"
    return text[:-2] if text.endswith(".0") else text


def number(value: float, digits: int = 3) -> str:
    """A value for a label: `digits` significant figures, a real minus sign, "?" when not finite."""
    return f"{value:.{digits}g}".replace("-", "−") if math.isfinite(value) else "?"


def short(value: object, limit: int) -> str:
    """At most `limit` characters of str(value) (with an ellipsis): labels must not spill over the plot."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def power_of_ten(exponent: int) -> str:
    """10⁻¹⁴: a log axis's tick label."""
    return "10" + str(exponent).translate(SUPERSCRIPT)


@dataclass(frozen=True)
class Scale:
    """Data → pixels along one axis (`start` px at `low`, `end` px at `high`), linear or log10."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        low, high, value = float(self.low), float(self.high), float(value)
        if self.log:
            low, high, value = math.log10(low), math.log10(high), math.log10(value) if value > 0 else -LIMIT
        span = high - low
        return self.start + (self.end - self.start) * ((value - low) / span if span else 0.5)


def text(x: float, y: float, content: str, size: float = 11, anchor: str = "middle", fill: str = INK, **attrs: object) -> Markup:
    """One line of text (escaped by `el`)."""
    return el("text", content, x=fmt(x), y=fmt(y), font_size=fmt(size), text_anchor=anchor, fill=fill, **attrs)


def lines(x: float, y: float, rows: Sequence[str], size: float = 10, anchor: str = "middle", fill: str = INK) -> Markup:
    """Several short lines stacked under (x, y), as <tspan>s (SVG text does not wrap)."""
    spans = [el("tspan", row, x=fmt(x), dy="0" if i == 0 else "1.2em") for i, row in enumerate(rows)]
    return el("text", spans, x=fmt(x), y=fmt(y), font_size=fmt(size), text_anchor=anchor, fill=fill)


def segment(x1: float, y1: float, x2: float, y2: float, stroke: str = MUTED, width: float = 1, dashed: bool = False) -> Markup:
    extra = {"stroke_dasharray": "5 3"} if dashed else {}
    return el("line", x1=fmt(x1), y1=fmt(y1), x2=fmt(x2), y2=fmt(y2), stroke=stroke, stroke_width=fmt(width), **extra)


def frame(x: float, y: float, width: float, height: float, fill: str = "none") -> Markup:
    """A rectangle: the outline of a panel, or a filled bar (`fill`)."""
    outline = {"stroke": "#8a909c", "stroke_width": "0.8"} if fill == "none" else {}
    return el("rect", x=fmt(x), y=fmt(y), width=fmt(max(0.0, width)), height=fmt(max(0.0, height)), fill=fill, **outline)


def legend(x: float, y: float, entries: Sequence[tuple[str, bool, str]]) -> Markup:
    """A boxed legend at (x, y): one (colour, dashed, label) line sample per row, on white so data behind it cannot hide it."""
    width = 44 + 5.6 * max(len(label) for _, _, label in entries)
    parts: list[Content] = [el("rect", x=fmt(x), y=fmt(y), width=fmt(width), height=fmt(8 + 14 * len(entries)), fill="#fff",
                               fill_opacity="0.9", stroke="#d0d4db", stroke_width="0.8", rx="3")]
    for i, (colour, dashed, label) in enumerate(entries):
        row = y + 11 + 14 * i
        parts += [segment(x + 6, row, x + 30, row, stroke=colour, width=1.2, dashed=dashed), text(x + 36, row + 3.5, label, size=10, anchor="start")]
    return el("g", parts)


def document(width: int, height: int, alt: str, parts: Content) -> str:
    """The root <svg>: explicit size and viewBox (it renders at that size, scales down with CSS), an accessible name."""
    return str(el("svg", el("title", alt), parts, xmlns="http://www.w3.org/2000/svg", width=str(width), height=str(height),
                  viewBox=f"0 0 {width} {height}", role="img", aria_label=alt, class_="plot",
                  font_family="system-ui, -apple-system, 'Segoe UI', sans-serif"))


def ramp(anchors: Sequence[str], steps: int) -> tuple[str, ...]:
    """`steps` colours interpolated between evenly spaced hex anchors."""
    rgb = np.array([[int(a[i:i + 2], 16) for i in (1, 3, 5)] for a in anchors], dtype=float)
    where = np.linspace(0, len(anchors) - 1, steps)
    below = np.minimum(where.astype(int), len(anchors) - 2)
    mixed = rgb[below] + (rgb[below + 1] - rgb[below]) * (where - below)[:, None]
    return tuple("#%02x%02x%02x" % tuple(int(round(c)) for c in colour) for colour in mixed)


DIVERGING = ramp(["#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b"], 33)
"""Blue (negative), white (0, the middle step exactly), red (positive)."""
SEQUENTIAL = ramp(["#000004", "#3b0f70", "#8c2981", "#de4968", "#fe9f6d", "#fcfdbf"], 24)
"""Dark (0) to bright (large), like matplotlib's magma: errors are the bright cells."""


def quantise(values: np.ndarray, low: float, high: float, steps: int) -> np.ndarray:
    """The colour step of each value in [low, high] (clipped; NaN → step 0)."""
    span = high - low if high > low else 1.0
    fraction = np.nan_to_num((np.asarray(values, dtype=float) - low) / span, nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(fraction, 0.0, 1.0) * (steps - 1)).astype(int)


def cell_grid(levels: np.ndarray, colours: Sequence[str], x: float, y: float, width: float, height: float) -> Markup:
    """A 2-D grid of coloured cells filling the box; row 0 at the top."""
    rows, cols = levels.shape
    runs: dict[int, list[str]] = {}
    for r, row in enumerate(levels.tolist()):
        start = 0
        for c in range(1, cols + 1):
            if c == cols or row[c] != row[start]:
                runs.setdefault(row[start], []).append(f"M{start} {r}h{c - start}")
                start = c
    paths = [el("path", d="".join(parts), stroke=colours[level]) for level, parts in sorted(runs.items())]
    return el("g", paths, transform=f"translate({fmt(x)} {fmt(y)}) scale({width / cols:.5g} {height / rows:.5g}) translate(0 0.5)",
              fill="none", stroke_width="1", shape_rendering="crispEdges")


def colour_bar(colours: Sequence[str], x: float, y: float, width: float, labels: Iterable[tuple[float, str]], height: float = 8) -> Markup:
    """A horizontal colour legend with labels under it at fractions of its width."""
    parts: list[Content] = [cell_grid(np.arange(len(colours))[np.newaxis, :], colours, x, y, width, height), frame(x, y, width, height)]
    parts += [text(x + width * at, y + height + 12, label, size=10, fill=MUTED) for at, label in labels]
    return el("g", parts)


def dots(points: Iterable[tuple[float, float]], colour: str, radius: float = 2.5) -> Markup:
    """Many dots as one path of zero-length strokes with round caps (~12 bytes a dot)."""
    d = "".join(f"M{fmt(px)} {fmt(py)}h0" for px, py in points)
    return el("path", d=d or "M0 0", stroke=colour, stroke_width=fmt(2 * radius), stroke_linecap="round", fill="none")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 × 10ⁿ apart) covering [low, high]: readable tick labels."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    return [round(i * step, 12) for i in range(first, math.floor(high / step + 1e-9) + 1)]


def ticks(scale: Scale, at: float, positions: Sequence[float], labels: Sequence[str], side: str, size: float = 10) -> Markup:
    """Tick marks and labels along a bottom (`at` = the axis's y) or left (`at` = its x) axis."""
    if side == "bottom":
        marks = "".join(f"M{fmt(scale(p))} {fmt(at)}v4" for p in positions)
        texts = [text(scale(p), at + 15, label, size=size, fill=MUTED) for p, label in zip(positions, labels)]
    else:
        marks = "".join(f"M{fmt(at)} {fmt(scale(p))}h-4" for p in positions)
        texts = [text(at - 6, scale(p) + 3.5, label, size=size, anchor="end", fill=MUTED) for p, label in zip(positions, labels)]
    return el("g", el("path", d=marks or "M0 0", stroke=MUTED, stroke_width="1"), texts)
