"""Sandbox overhead: start a worker + one trivial request + close, fresh interpreter vs fork server;
and the end-to-end wall time of `grade tests/submissions/reference.ipynb` (or a given file).

    python3 benchmarks/sandbox_overhead.py [-n 20] [--grade FILE] [--grade-runs 5]

Medians (and min/max) in milliseconds. The fork server's own start-up (one interpreter +
numpy, once per grader process) is reported separately: it is paid once, not per submission.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.sandbox import forkserver  # noqa: E402
from grader.sandbox.client import SandboxConfig, WorkerProcess  # noqa: E402


def one_worker(use_forkserver: bool) -> float:
    started = time.perf_counter()
    with WorkerProcess(SandboxConfig(), use_forkserver=use_forkserver) as worker:
        worker.request({"op": "seed", "seed": 1})
    return time.perf_counter() - started


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1e3 for s in seconds]
    return f"{name:<44} median {statistics.median(ms):7.1f} ms   min {min(ms):7.1f}   max {max(ms):7.1f}   (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="workers per variant")
    parser.add_argument("--grade", default=str(ROOT / "tests" / "submissions" / "reference.ipynb"), help="file for the end-to-end run")
    parser.add_argument("--grade-runs", type=int, default=5)
    args = parser.parse_args()

    fresh = [one_worker(False) for _ in range(args.n)]
    print(summary("fresh interpreter: start+request+close", fresh))
    if forkserver.available():
        started = time.perf_counter()
        server = forkserver.shared_server()
        print(f"{'fork server start-up (once per process)':<44} {1e3 * (time.perf_counter() - started):7.1f} ms")
        if server is not None:
            one_worker(True)  # warm
            warm = [one_worker(True) for _ in range(args.n)]
            print(summary("fork server: start+request+close", warm))
            with WorkerProcess(SandboxConfig()) as worker:
                print("layers: " + "; ".join(worker.layers))
    else:
        print("fork server: not available on this platform")

    if Path(args.grade).exists():
        walls = []
        for _ in range(args.grade_runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "grader.cli", args.grade], cwd=ROOT, capture_output=True, check=True)
            walls.append(time.perf_counter() - started)
        print(summary(f"grade {Path(args.grade).name} (wall, whole command)", walls))


if __name__ == "__main__":
    main()
