"""The grader's own wheel, packed from the installed package, for the student release.

dense-grader is on no package index, so `grade release` ships the wheel students install
(`pip install dense_grader-<version>-py3-none-any.whl`). It is packed from the `grader`
package this command runs from (its .py files only) and the installed distribution's
METADATA (dependencies and extras), with no build tool, no network and no source tree:
the same bytes on every run (sorted entries, fixed timestamps and permissions). The
reference solution lives outside the package, so it is never in the wheel.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from importlib import metadata
from pathlib import Path

from .. import __version__
from ..errors import InputError

__all__ = ["DISTRIBUTION", "build_wheel", "wheel_name", "write_zip"]

DISTRIBUTION = "dense-grader"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
PACKAGE = Path(__file__).resolve().parents[1]
"""The `grader` package folder."""
WHEEL = f"Wheel-Version: 1.0\nGenerator: dense-grader {__version__}\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
ENTRY_POINTS = "[console_scripts]\ngrade = grader.cli:main\n"


def wheel_name() -> str:
    return f"dense_grader-{__version__}-py3-none-any.whl"


def write_zip(path: Path, files: dict[str, bytes]) -> None:
    """A zip that is the same bytes for the same files: sorted, fixed time, mode 644."""
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])


def _metadata() -> str:
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise InputError(f"{DISTRIBUTION} is not installed, so its wheel cannot be packed for the release: run `pip install -e .` in the grader's checkout first.") from None
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")  # a checkout's .egg-info has PKG-INFO: the same fields
    if dist.version != __version__ or not text:
        raise InputError(f"the installed {DISTRIBUTION} is version {dist.version}, but this grader is {__version__}: reinstall it (`pip install -e .` in the checkout) before releasing.")
    return text


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(out: Path) -> Path:
    """Write the wheel into `out`; returns its path."""
    info = f"dense_grader-{__version__}.dist-info"
    files = {
        f"grader/{path.relative_to(PACKAGE).as_posix()}": path.read_bytes()
        for path in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }
    typed = PACKAGE / "py.typed"
    if typed.is_file():
        files["grader/py.typed"] = typed.read_bytes()
    files[f"{info}/METADATA"] = _metadata().encode()
    files[f"{info}/WHEEL"] = WHEEL.encode()
    files[f"{info}/entry_points.txt"] = ENTRY_POINTS.encode()
    files[f"{info}/top_level.txt"] = b"grader\n"
    record = [_record_line(name, files[name]) for name in sorted(files)] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = out / wheel_name()
    write_zip(path, files)
    return path
