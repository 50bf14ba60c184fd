"""`grade gradescope --out autograder.zip`: a Gradescope autograder that grades with this package.

Gradescope's documented layout: the zip holds `setup.sh` and `run_autograder` at its root
and is unpacked into /autograder/source; `setup.sh` runs once, as root, when the image is
built; `run_autograder` (copied to /autograder/) runs per submission, finds the student's
files in /autograder/submission/ and writes /autograder/results/results.json.

The zip carries this package's source (pyproject, `grader/`, the reference) and the
instructor's assignment folder under `dense-grader/`; setup.sh installs them (with the
instructor extra, every package pinned to the version of the environment that built the zip:
grader/platforms/pins.py) into a virtual environment, and run_autograder grades with
`--assignment` pointing at the packed folder.
Whatever happens, results.json is valid: a submission that cannot be read gets score 0 and
a sentence Gradescope shows the student, and if the grader itself fails, run_autograder
writes a results file that says so. `AUTOGRADER_ROOT` (default /autograder) and
`AUTOGRADER_PYTHON` let a test run the same scripts in a temporary tree.
"""

from __future__ import annotations

import argparse
import json
import stat
import sys
import time
import zipfile
from pathlib import Path

from .. import __version__
from ..errors import InputError
from .pins import Pins, pinned_requirements

__all__ = ["build_autograder", "run_in_autograder", "run_gradescope_cli", "PACKED"]

PACKED = "dense-grader"
"""Folder of the zip (and of /autograder/source/) that holds the package and the assignment."""
EXTRAS = ("instructor",)
"""The grader's extras the autograder installs: the full grader (the learning check's data set, plots)."""
CONSTRAINTS = "constraints.txt"
"""The pins in PACKED/: this environment's versions of everything the grader installs (grader/platforms/pins.py)."""
_PROJECT = Path(__file__).resolve().parents[2]
_SOURCES = ("pyproject.toml", "README.md", "grader", "reference")
_SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache"}

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, while building the autograder image.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source/%(packed)s"
# Debian's python3-venv is ensurepip: without it the venv module loads but cannot create a venv.
if ! command -v python3 >/dev/null || ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-pip
fi
if ! python3 -c "import sys; sys.exit(sys.version_info < (%(major)d, %(minor)d))"; then
    echo "setup.sh: the pinned packages need Python %(major)d.%(minor)d or newer, this image has $(python3 --version 2>&1); choose a newer base image." >&2
    exit 1
fi
python3 -m venv "$ROOT/venv"
# The grader with its instructor extra, every package at the version it was built and tested with.
"$ROOT/venv/bin/pip" install -c "$SRC/%(constraints)s" -e "$SRC[%(extras)s]"
# Compile once now, not per submission.
"$ROOT/venv/bin/python" -c "import grader.cli, grader.engine"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it must leave a valid results/results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source/%(packed)s"
PY="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PY" ] || PY=python3
mkdir -p "$ROOT/results"
cd "$SRC" || exit 1
PYTHONPATH="$SRC${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m grader.platforms.gradescope --run "$ROOT" --assignment "$SRC/assignments/%(assignment)s"
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
    cat > "$ROOT/results/results.json" <<EOF
{"score": 0, "tests": [], "visibility": "visible", "stdout_visibility": "visible",
 "output": "The autograder itself failed (exit status $status), so your submission was not graded. Please tell your instructor; it is not a problem with your work."}
EOF
fi
exit 0
"""


def _add(zf: zipfile.ZipFile, path: Path, arcname: str) -> None:
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.name not in _SKIP and not child.name.startswith(".") and not child.is_symlink():
                _add(zf, child, f"{arcname}/{child.name}")
    elif path.is_file():
        zf.write(path, arcname)


def _script(zf: zipfile.ZipFile, name: str, text: str) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (stat.S_IFREG | 0o755) << 16  # executable after unzip
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, text)


def build_autograder(out: Path, assignment_path: str) -> tuple[Path, Pins]:
    """Write the autograder zip to `out` (the assignment folder packed under assignments/); return it and its pins."""
    from ..assignment import load_assignment

    assignment = load_assignment(assignment_path)
    folder = assignment.root
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: the folder {out.parent} does not exist; create it or choose another path.")
    missing = [name for name in _SOURCES if not (_PROJECT / name).exists()]
    if missing:
        raise InputError(f"this installation of the grader has no {', '.join(missing)} to pack; run `grade gradescope` from a source checkout.")
    pins = pinned_requirements(_PROJECT / "pyproject.toml", EXTRAS)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        values = {"packed": PACKED, "assignment": folder.name, "constraints": CONSTRAINTS, "extras": ",".join(EXTRAS),
                  "major": pins.python[0], "minor": pins.python[1]}
        _script(zf, "setup.sh", SETUP_SH % values)
        _script(zf, "run_autograder", RUN_AUTOGRADER % values)
        zf.writestr(f"{PACKED}/{CONSTRAINTS}", pins.constraints())
        for name in _SOURCES:
            _add(zf, _PROJECT / name, f"{PACKED}/{name}")
        _add(zf, folder, f"{PACKED}/assignments/{folder.name}")
    tmp.replace(out)
    return out, pins


def _submission_file(folder: Path, preferred: str) -> Path:
    """The student's notebook in /autograder/submission (the assignment's name, else the newest)."""
    from ..batch.inputs import _student_folder

    notes: list[str] = []
    entry = _student_folder(folder, preferred, notes)
    if entry.error:
        raise InputError(f"no .ipynb or .py file was found in your submission; upload your notebook ({preferred}).")
    return entry.path


def run_in_autograder(root: Path, assignment_path: str) -> int:
    """Grade /autograder/submission and write results/results.json (always valid)."""
    from ..assignment import load_assignment
    from ..engine import grade_file
    from ..report.json_report import gradescope_error, to_gradescope

    results = root / "results" / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    assignment = load_assignment(assignment_path)
    try:
        # A form graded from several files (CS231n's cs231n/...) reads them from the whole upload.
        path = root / "submission" if assignment.files else _submission_file(root / "submission", assignment.notebook)
        report = grade_file(path, assignment=assignment)
    except InputError as exc:
        results.write_text(gradescope_error(str(exc)), encoding="utf-8")
        print(f"grade: {exc}", file=sys.stderr)
        return 0
    text = to_gradescope(report)
    data = json.loads(text)
    data["stdout_visibility"] = "hidden"
    results.write_text(json.dumps(data, indent=2), encoding="utf-8")
    print(f"graded {path.name}: {report.score:g} / {report.max_score:g} (grader {__version__} at {Path(__file__).resolve().parents[1]})")
    return 0


def run_gradescope_cli(argv: list[str]) -> int:
    """`grade gradescope --out autograder.zip [--assignment NAME_OR_PATH]`."""
    parser = argparse.ArgumentParser(prog="grade gradescope", description="Build a Gradescope autograder zip (setup.sh, run_autograder) that grades with this package.")
    parser.add_argument("--out", "-o", required=True, metavar="ZIP", help="the zip to write, e.g. autograder.zip (upload it as the assignment's autograder)")
    parser.add_argument("--assignment", default="dense_layer", help="assignment folder name or path to pack (default: dense_layer)")
    parser.add_argument("--version", action="version", version=f"grade gradescope {__version__}")
    args = parser.parse_args(argv)
    out, pins = build_autograder(Path(args.out), args.assignment)
    python = f"{pins.python[0]}.{pins.python[1]}"
    print(f"Wrote {out}: upload it as the autograder of the Gradescope assignment (base image: Ubuntu with Python {python} or newer;"
          f" {len(pins.lines)} packages pinned to this environment's versions).")
    return 0


def _main(argv: list[str]) -> int:
    """Inside the autograder: `python -m grader.platforms.gradescope --run ROOT --assignment PATH`."""
    parser = argparse.ArgumentParser(prog="python -m grader.platforms.gradescope")
    parser.add_argument("--run", required=True, metavar="ROOT")
    parser.add_argument("--assignment", required=True)
    args = parser.parse_args(argv)
    return run_in_autograder(Path(args.run), args.assignment)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
