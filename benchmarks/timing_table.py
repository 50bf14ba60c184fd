"""Reference vs student styles under the dense-timing benchmark, as a Markdown table.

Usage:  python benchmarks/timing_table.py [--repeat 3] [--out benchmarks/timing_table.md]

Each style is graded with a rubric holding only `dense-timing` (the real A/B race against the
reference in twin workers), on the CPU and, when CuPy and a CUDA device are present, on the
GPU. Columns: median slowdown (student/reference) over the repeats, its range, the timing
score, and the benchmark's wall time. Numbers depend on the machine and its load; the
ratios, not the milliseconds, are what the grader scores.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.assignment import load_assignment  # noqa: E402
from grader.engine import grade_file  # noqa: E402

STYLES = [
    ("reference (X @ W)", "tests/submissions/reference.ipynb"),
    ("@ operator", "tests/submissions/correct_matmul_operator.ipynb"),
    ("np.dot", "tests/submissions/correct_np_dot.ipynb"),
    ("einsum", "tests/submissions/correct_einsum.ipynb"),
    ("tensordot", "tests/submissions/correct_tensordot.ipynb"),
    ("ones-column bias", "tests/submissions/correct_ones_column_bias.ipynb"),
    ("float32", "tests/submissions/correct_float32.ipynb"),
    ("per-sample loop", "tests/submissions/python_loop.ipynb"),
    ("triple loop", "tests/submissions/python_triple_loop.ipynb"),
    ("loop + patched clocks", "tests/timing_submissions/clock_patch_loop.py"),
]


def gpu_present() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def measure(path: str, device: str, repeat: int, assignment: object) -> str:
    ratios, scores, walls, cuts = [], [], [], []
    for _ in range(repeat):
        result = grade_file(ROOT / path, assignment=assignment, device=device).tests[0]
        details = result.details
        ratios.append(details.get("slowdown") or details.get("partial_slowdown") or float("inf"))
        cuts.append(bool(details.get("cut_off")))
        scores.append(f"{result.score:g}/{result.max_score:g}")
        walls.append(details.get("wall_seconds", 0.0))
        extra = f", {details['student_flops'] / 1e12:.2f} TFLOP/s ({details.get('fraction_of_peak', 0):.0%} of peak)" if "student_flops" in details else ""
    finite = [r for r in ratios if r != float("inf")]
    cut = f", cut off {sum(cuts)}/{len(cuts)}" if any(cuts) else ""
    ratio = f"{statistics.median(finite):.2f}× ({min(finite):.2f}–{max(finite):.2f}{cut})" if len(finite) == len(ratios) else f"∞ (cut off {sum(cuts)}/{len(cuts)}, before a round ended)"
    return f"{ratio} | {', '.join(dict.fromkeys(scores))} | {statistics.median(walls):.3f} s{extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "timing_table.md"))
    args = parser.parse_args()
    assignment = load_assignment()
    spec = assignment.check("dense-timing")
    assignment = dataclasses.replace(assignment, checks=(spec,))
    devices = ["cpu"] + (["gpu"] if gpu_present() else [])
    header = "| style | " + " | ".join(f"{d.upper()} slowdown (range) | {d.upper()} score | {d.upper()} bench wall" for d in devices) + " |"
    lines = [header, "|" + "---|" * (1 + 3 * len(devices))]
    for label, path in STYLES:
        lines.append(f"| {label} | " + " | ".join(measure(path, d, args.repeat, assignment) for d in devices) + " |")
        print(lines[-1], flush=True)
    params = spec.params
    note = (f"\nMeasured {time.strftime('%Y-%m-%d')} with `python benchmarks/timing_table.py --repeat {args.repeat}`; "
            f"sizes {params.get('sizes')}, curve {params.get('curve')}. "
            + ("GPU: present." if "gpu" in devices else "GPU: none on this machine (no CuPy/CUDA device), so no GPU columns.") + "\n")
    Path(args.out).write_text("# dense-timing: reference vs student styles\n\n" + "\n".join(lines) + "\n" + note)


if __name__ == "__main__":
    main()
