"""Plots for the HTML feedback, as base64 PNG strings ready for an <img src="data:...">.

Matplotlib is imported lazily with the Agg backend: the `grade` command must stay fast to
import and must never open a window on a grading server. Each plot function takes the
JSON-compatible `details` a check stored (plain lists and numbers) and returns None when
the data are unusable, so a malformed detail costs a picture, never the report.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Plot", "plots_for", "heatmap_plot", "gradcheck_plot", "timing_plot", "scale_fit"]


@dataclass(frozen=True)
class Plot:
    """One embedded picture."""

    title: str
    """Heading shown above the picture."""
    alt: str
    """Alternative text (what the picture shows, for screen readers and tests)."""
    png_base64: str
    """The PNG, base64-encoded."""
    caption: str = ""
    """One sentence that says how to read it."""


def _figure(**kwargs: Any) -> Any:
    """A bare Agg figure: no pyplot, no global figure registry (~25% faster to draw, nothing to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _encode(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)  # fixed margins: bbox_inches="tight" draws twice (~100 ms)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _matrix(value: Any) -> np.ndarray | None:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
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


def heatmap_plot(detail: dict[str, Any], what: str = "weight update") -> Plot | None:
    """Student, reference and |student − reference| side by side, then yours against expected.

    A transposition shows as a symmetric pattern, a per-row (per-sample) error as stripes;
    a uniform scale error (mean instead of sum) is a straight line of slope ≠ 1 in the
    scatter, whatever the colour scale of the heatmaps.
    """
    student, expected = _matrix(detail.get("student")), _matrix(detail.get("expected"))
    if student is None or expected is None or student.shape != expected.shape:
        return None
    diff = np.abs(student - expected)
    fig = _figure(figsize=(13.5, 3.3))
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, 1, 0.9]})
    bound = float(max(np.abs(student).max(), np.abs(expected).max(), 1e-300))
    panels = ((student, "yours", "RdBu_r", -bound, bound), (expected, "expected", "RdBu_r", -bound, bound), (diff, "|yours − expected|", "magma", 0.0, float(max(diff.max(), 1e-300))))
    for ax, (data, title, cmap, low, high) in zip(axes, panels):
        image = ax.imshow(data, cmap=cmap, vmin=low, vmax=high, aspect="auto", interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("output unit")
        if ax is axes[0]:
            ax.set_ylabel("input unit" if data.shape[0] > 1 else "")
        ax.set_xticks(range(data.shape[1]))
        ax.set_yticks(range(data.shape[0]))
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    slope, residual = scale_fit(student, expected)
    scatter = axes[3]
    scatter.scatter(expected.ravel(), student.ravel(), s=14, color="#3a6fb0", zorder=3)
    line = np.array([-bound, bound])
    scatter.plot(line, line, color="#2e9d5b", linewidth=1, label="yours = expected")
    if math.isfinite(slope):
        scatter.plot(line, slope * line, color="#c0392b", linewidth=1, linestyle="--", label=f"slope {slope:.3g}")
    scatter.set_xlabel("expected")
    scatter.set_ylabel("yours")
    scatter.set_title("yours against expected", fontsize=10)
    scatter.legend(loc="upper left", fontsize=7)
    label = str(detail.get("label", ""))
    fig.suptitle(f"{what} ({label})" if label else what, fontsize=11)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.17, top=0.84, wspace=0.5)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    caption = f"The bright cells of the third panel are where your {what} is wrong; the largest error is at index {tuple(int(i) for i in worst)}."
    if math.isfinite(slope) and residual < 1e-6 and abs(slope - 1) > 1e-6:
        caption += f" The points lie on a line of slope {slope:.4g}: yours is {slope:.4g} × expected everywhere, a scale error (1/N suggests a mean instead of a sum)."
    return Plot(
        title=f"Heatmap of the {what}",
        alt=f"heatmap of |student - reference| over the {what}, and a scatter of yours against expected (slope {slope:.3g})",
        png_base64=_encode(fig),
        caption=caption,
    )


def gradcheck_plot(entries: list[dict[str, Any]]) -> Plot | None:
    """Relative error of backward against finite differences, one bar per parameter and case."""
    rows = []
    for entry in entries or []:
        try:
            raw = entry["rel_error"]
            error, rtol = (math.inf if raw is None else float(raw)), float(entry["rtol"])  # None: not finite
        except (KeyError, TypeError, ValueError):
            continue
        case = str(entry.get("case", "")).replace(", ", ",")
        how = "full Jacobian" if case.startswith("full Jacobian ") else "directions"
        rows.append((f"{entry.get('parameter', '?')}\n{how}\n{case.removeprefix('full Jacobian ')}", error, rtol))  # short lines: no overlap
    if not rows or all(e <= t for _, e, t in rows):
        return None  # every bar passes: a picture of success costs ~100 ms per student and says nothing new
    floor = 1e-17
    values = [min(max(e, floor), 1e6) if math.isfinite(e) else 1e6 for _, e, _ in rows]
    fig = _figure(figsize=(max(5.0, 1.3 * len(rows) + 1.5), 3.8))
    ax = fig.subplots()
    colours = ["#c0392b" if e > t else "#27ae60" for (_, e, t) in rows]
    ax.bar(range(len(rows)), values, color=colours)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([label for label, _, _ in rows], fontsize=8)
    ax.axhline(rows[0][2], color="#333", linestyle="--", linewidth=1, label=f"tolerance {rows[0][2]:g}")
    ax.set_ylabel("relative error vs finite differences")
    ax.set_ylim(floor, max(10.0, max(values) * 10))
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Your backward against the slope of your forward", fontsize=11)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.25, top=0.9)
    failing = [label.split("\n")[0] for label, e, t in rows if not e <= t]
    caption = ("Red bars exceed the tolerance: " + ", ".join(dict.fromkeys(failing)) + " disagree with your forward.") if failing else "Every bar is below the tolerance: your backward matches your forward."
    return Plot(title="Finite-difference error per parameter", alt="bar chart of the finite-difference error per parameter", png_base64=_encode(fig), caption=caption)


def timing_plot(details: dict[str, Any]) -> Plot | None:
    """Every timed round of yours and of the reference, with the ratio the score comes from."""
    student = [float(v) for v in details.get("student_rounds_ms") or []]
    reference = [float(v) for v in details.get("reference_rounds_ms") or []]
    slowdown, partial = details.get("slowdown"), details.get("partial_slowdown")
    if not student or not reference or (details.get("fraction", 0.0) or 0.0) >= 1.0:
        return None  # full timing points: the ratio in the heading says enough
    fig = _figure(figsize=(6.5, 2.8))
    ax = fig.subplots()
    ax.scatter(reference, [1] * len(reference), color="#2e9d5b", label="reference", zorder=3)
    ax.scatter(student, [0] * len(student), color="#c0392b", label="yours", zorder=3)
    ax.set_xscale("log")
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["yours", "reference"])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel(f"milliseconds per round ({details.get('k', '?')} forward+backward steps, {details.get('device', 'cpu')})")
    ratio = (f"{float(slowdown):.2f}×" if isinstance(slowdown, (int, float))
             else f"about {float(partial):.0f}× (stopped early)" if isinstance(partial, (int, float)) else "over the cut-off")
    ax.set_title(f"Your Dense took {ratio} the reference's time (median of rounds)", fontsize=10)
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.24, top=0.86)
    return Plot(title="Timing rounds", alt=f"timing rounds of yours and the reference, ratio {ratio}", png_base64=_encode(fig),
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
