"""`grade release`: write the student bundle (notebook, public-check data, the grader's
wheel, a README, and a zip of them all).

The bundle holds what students need to run `grade check` and `check()` and nothing else:
the assignment's notebook (its metadata stamped with the assignment name, so a bundle of
another assignment is recognised; a note on checking at the top and a `check()` cell at the
end), `public_checks.json` (see grader/student/bundle.py), the grader's wheel (the package is
on no index: grader/student/wheel.py) and a README with the one install line. No reference
code, no hidden check. Re-running gives byte-identical files: canonical JSON, and zips with
sorted entries, fixed timestamps and fixed permissions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from .bundle import BUNDLE_FILE, build_bundle, bundle_json
from ..assignment import Assignment
from ..errors import InputError
from .check import NOTEBOOK_METADATA_KEY
from .wheel import build_wheel, wheel_name, write_zip

__all__ = ["release", "run_release_cli", "student_notebook", "install_line", "CHECK_CELL"]

README = "README.md"
CHECK_CELL = "from grader import check\ncheck()"
"""The released notebook's last cell; the full grade leaves it out (grader/submission.py)."""


def install_line() -> str:
    return f"pip install {wheel_name()}"


def _note() -> str:
    return (
        "**Checking your work.** Install the grader once, in a terminal opened in this folder: "
        f"`{install_line()}` (or run `%{install_line()}` in a cell). Then run the last cell, "
        "`check()`, whenever you like: it runs the public checks on your code and names what to fix. "
        f"Keep `{BUNDLE_FILE}` next to this notebook. A few checks (exact values of some gradients, "
        "speed, a training run) are graded only after the deadline; `check()` lists them."
    )


def _cell(kind: str, source: str, ident: str) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": kind, "id": ident, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def student_notebook(assignment: Assignment) -> dict[str, Any]:
    """The notebook students get: stamped with the assignment's name, a note on checking
    after the first cell, a `check()` cell at the end."""
    path = assignment.root / assignment.notebook
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        cells = notebook["cells"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"the assignment's notebook {path} cannot be read ({type(exc).__name__}).") from None
    notebook.setdefault("metadata", {})[NOTEBOOK_METADATA_KEY] = {"assignment": assignment.name}
    cells.insert(min(1, len(cells)), _cell("markdown", _note(), "dense-grader-note"))
    cells.append(_cell("markdown", "## Check your work\n\nThe public checks, run on the definitions above (see the note at the top).", "dense-grader-check-title"))
    cells.append(_cell("code", CHECK_CELL, "dense-grader-check"))
    return notebook


def _readme(assignment: Assignment) -> str:
    return (
        f"# {assignment.title}\n\n"
        f"1. Install the grader (once; Python 3.10 or newer), in this folder:\n\n       {install_line()}\n\n"
        f"2. Open `{assignment.notebook}` in Jupyter, JupyterLab, VS Code or Colab and write your code.\n"
        f"3. Check it whenever you like: run the notebook's last cell (`check()`), or in a terminal\n\n"
        f"       grade check {assignment.notebook}\n\n"
        f"   Both run the public checks ({BUNDLE_FILE}, kept next to the notebook) and name what to fix.\n"
        "   The remaining checks are graded after the deadline; the report lists them.\n"
    )


def release(assignment_name: str | None, out: Path) -> list[Path]:
    """Write the bundle into `out`; returns the files written (sorted by name), then the zip."""
    from ..assignment import DEFAULT_ASSIGNMENT, load_assignment

    assignment = load_assignment(assignment_name or DEFAULT_ASSIGNMENT)
    starter = assignment.root / assignment.notebook
    with tempfile.TemporaryDirectory() as folder:
        wheel = build_wheel(Path(folder)).read_bytes()
    files = {
        # A course whose students hand in a .py (CS231n's layers.py) gets its starting file as it is.
        assignment.notebook: (json.dumps(student_notebook(assignment), indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode() if starter.suffix == ".ipynb" else starter.read_bytes(),
        BUNDLE_FILE: bundle_json(build_bundle(assignment)).encode(),
        wheel_name(): wheel,
        README: _readme(assignment).encode(),
    }
    files.update({name: (assignment.root / name).read_bytes() for name in assignment.given})  # the course's given modules
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        (out / name).write_bytes(files[name])
        written.append(out / name)
    archive = out / f"{assignment.name}.zip"
    write_zip(archive, files)
    return written + [archive]


def run_release_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grade release", description="Write the student bundle: the notebook, its public-check data, the grader's wheel and a README, without the solution.")
    parser.add_argument("--assignment", default=None, help="assignment NAME ($GRADER_ASSIGNMENTS, ./assignments, the checkout) or PATH (default: dense_layer)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the bundle (created if needed)")
    args = parser.parse_args(argv)
    for path in release(args.assignment, Path(args.out)):
        print(path)
    return 0
