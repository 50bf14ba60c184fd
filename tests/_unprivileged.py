"""An interpreter another (unprivileged) user can run, whatever folder this checkout lives in.

A clone under /root or in a mode-700 home cannot be read by `nobody`: an interpreter that
imported the grader (or numpy) from there failed before grading began. So the user gets
readable copies of what it runs: the system Python in a venv of its own, a copy of the
checkout's sources (not .git or a venv), and numpy's site-packages where it cannot read them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

__all__ = ["unprivileged_python", "readable_by_others"]

ROOT = Path(__file__).resolve().parent.parent
STUDENT_PACKAGES = ("numpy", "numpy.libs", "rich", "pygments", "markdown_it", "mdurl")
"""What a student install imports (numpy and rich with its dependencies): copied where others cannot read them."""
_SKIP_COPY = shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", "*.egg-info", ".pytest_cache", "results")


def readable_by_others(path: Path) -> bool:
    """True when a user who is neither owner nor group can read `path` (every parent searchable)."""
    path = path.resolve()
    for parent in path.parents:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)


def _open_up(folder: Path) -> None:
    """Let others reach `folder`: searchable parents, up to the first system folder (/tmp, /)."""
    os.chmod(folder, 0o755)
    for parent in folder.parents:
        if parent in (Path("/tmp"), Path("/")) or parent == Path(os.environ.get("TMPDIR", "/tmp")):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)


def unprivileged_python(folder: Path) -> tuple[str, Path] | str:
    """(interpreter, source copy) another user can run and read, or the reason there is none."""
    base = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not base.exists():
        return f"no system {base} for the unprivileged user"
    folder.mkdir(parents=True, exist_ok=True)
    _open_up(folder)
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(folder / "venv")], check=True, timeout=60)
    source = folder / "src"
    shutil.copytree(ROOT, source, ignore=_SKIP_COPY, symlinks=True)
    import numpy

    site = Path(numpy.__file__).resolve().parent.parent
    if not readable_by_others(site / "numpy"):
        installed, site = site, folder / "site"
        for name in STUDENT_PACKAGES:
            if (installed / name).is_dir():
                shutil.copytree(installed / name, site / name, ignore=_SKIP_COPY)
    subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
    [purelib] = list((folder / "venv" / "lib").glob("python*/site-packages"))
    (purelib / "checkout.pth").write_text(f"{source}\n{site}\n")
    return str(folder / "venv" / "bin" / "python"), source
