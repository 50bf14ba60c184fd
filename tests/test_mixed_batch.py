"""The capstone of issue 9: honest students graded in one `grade batch` with every attack of
tests/attacks/ get exactly the grade each gets alone.

One real `grade batch --jobs 2` (a subprocess, as instructors run it) over a class folder
holding honest submissions (correct ones and ones with real mistakes, from
tests/submissions/) and every attack file (globbed, so new attacks join automatically, each
on top of tests/attacks/_honest.py as in test_sandbox_attacks.py). Each honest student's
score, diagnoses and per-check scores, the timing check included, must equal their solo
`grade`. Timing is compared as the scored points: the honest layers here are vectorised,
far inside the curve's full-points band (8x the reference), so load from the attacks could
change the measured ratio but must never change the points; the raw ratios are not compared.
The sandbox timeouts are shortened in a copied assignment to keep the runtime modest.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import grade_command, copy_assignment

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ROOT / "tests" / "attacks"
SUBMISSIONS = ROOT / "tests" / "submissions"
HONEST = ["correct_python_file.py", "correct_einsum.ipynb", "correct_messy.ipynb", "forward_missing_bias.ipynb",
          "classic_update_before_grad.ipynb", "combined_missing_bias_update_sign.ipynb"]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the attacks' containment is Linux-only")


def _assignment(tmp_path: Path) -> Path:
    """The real assignment with short sandbox timeouts (attacks that hang cost seconds, not minutes)."""
    folder = tmp_path / "assignment"
    copy_assignment(folder)
    toml = folder / "assignment.toml"
    text = re.sub(r"\[sandbox\][^\[]*", "[sandbox]\nstatement_timeout = 1.0\nrequest_timeout = 2.0\nstartup_timeout = 10.0\n\n", toml.read_text(), count=1)
    toml.write_text(text)
    return folder


def _class_folder(tmp_path: Path) -> tuple[Path, list[str]]:
    folder = tmp_path / "class"
    folder.mkdir()
    honest_code = (ATTACKS / "_honest.py").read_text()
    for attack in sorted(p for p in ATTACKS.glob("*.py") if not p.name.startswith("_")):
        source = honest_code + "\n\n" + attack.read_text()
        source = source.replace("__TOKEN__", uuid.uuid4().hex[:12]).replace("__PORT__", "9").replace("__ROOT__", str(ROOT))
        (folder / f"a_attack_{attack.stem}.py").write_text(source)  # named to be graded before the honest ones
    names = []
    for name in HONEST:
        shutil.copy(SUBMISSIONS / name, folder / name)
        names.append(Path(name).stem)
    return folder, names


def _summary(report: dict) -> dict:
    return {"score": report["score"], "diagnoses": sorted(report["diagnoses"]),
            "checks": {t["name"]: (t["score"], sorted(t.get("diagnoses", []))) for t in report["tests"]}}


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", GRADER_LOCK_FILE=str(tmp_path / "timing.lock"))


def test_honest_students_get_their_solo_grade_in_a_hostile_batch(tmp_path: Path) -> None:
    assignment = _assignment(tmp_path)
    folder, honest = _class_folder(tmp_path)
    out = tmp_path / "results"
    batch = subprocess.run([*grade_command(), "batch", str(folder), "--out", str(out), "--jobs", "2", "--no-html",
                            "--assignment", str(assignment), "--timeout", "120"],
                           capture_output=True, text=True, timeout=600, env=_env(tmp_path), cwd=ROOT)
    assert batch.returncode in (0, 1), batch.stderr[-3000:]
    for name in honest:
        path = next(folder.glob(f"{name}.*"))
        solo = subprocess.run([*grade_command(), str(path), "--format", "json", "--assignment", str(assignment)],
                              capture_output=True, text=True, timeout=120, env=_env(tmp_path), cwd=ROOT)
        assert solo.returncode in (0, 1), solo.stderr[-2000:]
        alone = _summary(json.loads(solo.stdout))
        graded = _summary(json.loads((out / f"{name}.json").read_text()))
        assert graded == alone, f"{name}: in the batch {graded}\nalone {alone}"
        assert alone["checks"]["dense-timing"][0] > 0, f"{name}: no timing points even alone: {alone}"
    attacks = sorted(out.glob("a_attack_*.json"))
    assert len(attacks) == len([p for p in ATTACKS.glob("*.py") if not p.name.startswith("_")]), "an attack was not graded"
