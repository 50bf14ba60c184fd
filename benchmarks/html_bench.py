"""CPU cost of the HTML feedback page for failing students (the plots are most of it).

Usage: python benchmarks/html_bench.py [--runs N] [SUBMISSION ...]
Grades a few failing notebooks of tests/submissions once (not timed), then renders each
report's page N times and prints the CPU milliseconds per page (time.process_time, so the
number means the same on a busy machine), the page size and each plot's size. In a batch
every failing student pays this once, so it bounds how fast `grade batch` can go with HTML.
Measured: 445 CPU ms per page with matplotlib PNGs (commit 64b4101), 4.8 with inline SVG.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from grader.engine import grade_file
from grader.report.html import render_html
from grader.report.plots import plots_for

ROOT = Path(__file__).resolve().parent.parent
FAILING = ("grad_weights_transposed", "grad_weights_mean", "grad_bias_mean", "python_loop")
"""A transposition and two scale errors (heatmaps, gradcheck bars) and a slow loop (timing dots)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", nargs="*", help=f"notebooks (default: {', '.join(FAILING)} from tests/submissions)")
    parser.add_argument("--runs", type=int, default=20, help="renders per report (default 20)")
    args = parser.parse_args()
    paths = [Path(p) for p in args.submissions] or [ROOT / "tests" / "submissions" / f"{name}.ipynb" for name in FAILING]
    reports = [grade_file(path) for path in paths]
    render_html(reports[0])  # import and warm-up outside the timing
    print(f"{'submission':<28} {'CPU ms/page':>11} {'page KB':>8}  plots (KB each)")
    per_page = []
    for path, report in zip(paths, reports):
        samples = []
        for _ in range(args.runs):
            start = time.process_time()
            page = render_html(report)
            samples.append(time.process_time() - start)
        per_page.append(statistics.median(samples))
        sizes = [f"{p.title.split(' ')[0].lower()} {len(p.svg.encode()) / 1024:.1f}" for t in report.tests if t.details for p in plots_for(t.details)]
        print(f"{path.stem:<28} {1e3 * per_page[-1]:>11.2f} {len(page) / 1024:>8.1f}  {', '.join(sizes) or '-'}")
    print(f"mean over {len(reports)} failing reports: {1e3 * statistics.mean(per_page):.2f} CPU ms per page (median of {args.runs} renders each)")


if __name__ == "__main__":
    main()
