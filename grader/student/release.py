"""`grade release`: write the student bundle (notebook + public-check data + a zip of both).

The bundle holds what students need to run `grade check` and `check()` and nothing else:
the assignment's notebook (its metadata stamped with the assignment name, so a bundle of
another assignment is recognised) and `public_checks.json` (see grader/student/bundle.py). No
reference code, no hidden check. Re-running gives byte-identical files: canonical JSON, and
a zip with sorted entries, fixed timestamps and fixed permissions.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

from .bundle import BUNDLE_FILE, build_bundle, bundle_json
from ..errors import InputError
from .check import NOTEBOOK_METADATA_KEY

__all__ = ["release", "run_release_cli"]

ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _stamped_notebook(path: Path, name: str) -> str:
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the assignment's notebook {path} cannot be read ({type(exc).__name__}).") from None
    notebook.setdefault("metadata", {})[NOTEBOOK_METADATA_KEY] = {"assignment": name}
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _write_zip(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])


def release(assignment_name: str | None, out: Path) -> list[Path]:
    """Write the bundle into `out`; returns the files written (notebook, data, zip)."""
    from ..assignment import DEFAULT_ASSIGNMENT, load_assignment

    assignment = load_assignment(assignment_name or DEFAULT_ASSIGNMENT)
    notebook = assignment.root / assignment.notebook
    files = {
        assignment.notebook: _stamped_notebook(notebook, assignment.name).encode() if notebook.suffix == ".ipynb" else notebook.read_bytes(),
        BUNDLE_FILE: bundle_json(build_bundle(assignment)).encode(),
    }
    files.update({name: (assignment.root / name).read_bytes() for name in assignment.given})  # the course's given modules
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        (out / name).write_bytes(files[name])
        written.append(out / name)
    archive = out / f"{assignment.name}.zip"
    _write_zip(archive, files)
    return written + [archive]


def run_release_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grade release", description="Write the student bundle: the notebook and its public-check data, without the solution.")
    parser.add_argument("--assignment", default=None, help="assignment NAME ($GRADER_ASSIGNMENTS, ./assignments, the checkout) or PATH (default: dense_layer)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the bundle (created if needed)")
    args = parser.parse_args(argv)
    for path in release(args.assignment, Path(args.out)):
        print(path)
    return 0
