"""Shared fixtures: paths of the real submissions kept under tests/submissions/."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"


def grade_command() -> list[str]:
    """The `grade` console script as installed (falls back to `python -m grader.cli`)."""
    exe = shutil.which("grade", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "grader.cli"]


def run_grade(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `grade` as a user would: a subprocess, capturing stdout and stderr."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="120")
    return subprocess.run([*grade_command(), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def copy_assignment(destination: Path, name: str = "dense_layer") -> Path:
    """A copy of an assignment folder elsewhere; its rubric names the checkout's reference file by
    absolute path (the relative `reference` key would point next to the copy)."""
    shutil.copytree(ROOT / "assignments" / name, destination)
    toml = destination / "assignment.toml"
    reference = ROOT / "reference" / "dense_layer.py"
    toml.write_text(re.sub(r'^reference = ".*"', f'reference = "{reference}"', toml.read_text(), count=1, flags=re.MULTILINE))
    return destination


def expected_results() -> list[tuple[Path, dict]]:
    pairs = []
    for expected in sorted(SUBMISSIONS.glob("*.expected.json")):
        stem = expected.name[: -len(".expected.json")]
        for suffix in (".ipynb", ".py"):
            candidate = SUBMISSIONS / f"{stem}{suffix}"
            if candidate.exists():
                pairs.append((candidate, json.loads(expected.read_text())))
    return pairs


@pytest.fixture(scope="session")
def reference_notebook() -> Path:
    return SUBMISSIONS / "reference.ipynb"
