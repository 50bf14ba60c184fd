"""CPU time of the grader's handling of adversarial student text (issue 9, class 5).

Each input was quadratic once (a line of 60k spaces: 40 s in strip_ipython; 40k blank lines
before a syntax error: 69 s to split the cell). Run: `python benchmarks/hostile_text.py`.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from grader.sandbox.worker import Worker
from grader.submission import strip_ipython

CASES: list[tuple[str, Callable[[str], Any], str]] = [
    ("strip_ipython: one line of 60k spaces", strip_ipython, " " * 60_000),
    ("strip_ipython: 1 MB of space-only lines", strip_ipython, (" " * 1000 + "\n") * 1000),
    ("strip_ipython: 1 MB line `a, a, ... = 1`", strip_ipython, "a, " * 333_000 + "= 1"),
    ("split a cell: 40k blank lines, a syntax error, 40k statements", lambda s: Worker.statements(s, "<submission cell 1>"), "\n" * 40_000 + "def f(:\n" + "y = 2\n" * 40_000),
    ("split a cell: 110k statements on one line", lambda s: Worker.statements(s, "<submission cell 1>"), "x = 1; " * 110_000),
]


def main() -> None:
    for label, function, source in CASES:
        started = time.process_time()
        function(source)
        print(f"{time.process_time() - started:8.3f} CPU s  {label}")


if __name__ == "__main__":
    main()
