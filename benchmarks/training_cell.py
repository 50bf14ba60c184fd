"""What a long training cell costs: grade the sample notebook without its training cell and
with one that trains for minutes, in one process, and compare.

    python benchmarks/training_cell.py --runs 5              # slicing on (the default rubric)
    python benchmarks/training_cell.py --runs 3 --no-slicing # every statement runs (before)

Reports per variant the median wall time and core-seconds (this process's CPU plus the
sandbox worker's, from the report's profile) and the ratio with/without.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from batch_bench import LONG_EPOCHS, PLOT_CELL, TRAINING_CELL  # noqa: E402
from grader.assignment import load_assignment  # noqa: E402
from grader.engine import grade_file  # noqa: E402

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"


def variants(folder: Path) -> dict[str, Path]:
    notebook = json.loads(SAMPLE.read_text())
    code = [i for i, c in enumerate(notebook["cells"]) if c["cell_type"] == "code"]
    without = dict(notebook, cells=[c for i, c in enumerate(notebook["cells"]) if i != code[-1]])
    extra = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": s} for s in (TRAINING_CELL.format(epochs=LONG_EPOCHS), PLOT_CELL)]
    paths = {"without training": folder / "without.ipynb", f"training {LONG_EPOCHS} epochs + plot": folder / "with.ipynb"}
    paths["without training"].write_text(json.dumps(without))
    paths[f"training {LONG_EPOCHS} epochs + plot"].write_text(json.dumps(dict(without, cells=without["cells"] + extra)))
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-slicing", action="store_true", help="run every statement (slicing = false)")
    args = parser.parse_args()
    assignment = load_assignment()
    if args.no_slicing:
        assignment = dataclasses.replace(assignment, sandbox=dataclasses.replace(assignment.sandbox, slicing=False))
    results: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = variants(Path(folder))
        grade_file(paths["without training"], assignment=assignment)  # warm: fork server, reference worker
        for name, path in paths.items():
            walls, cores, scores = [], [], set()
            for _ in range(args.runs):
                wall, cpu = time.perf_counter(), time.process_time()
                report = grade_file(path, assignment=assignment)
                walls.append(time.perf_counter() - wall)
                cores.append(time.process_time() - cpu + report.profile["counts"].get("worker-cpu", 0.0))
                scores.add(report.score)
            results[name] = (statistics.median(walls), statistics.median(cores), max(scores))
            print(f"{name:34s} wall {results[name][0]:.3f} s  core {results[name][1]:.3f} s  score {sorted(scores)}")
    (w0, c0, _), (w1, c1, _) = results.values()
    print(f"with/without: wall x{w1 / w0:.2f}, core-seconds x{c1 / c0:.2f} (slicing {'off' if args.no_slicing else 'on'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
