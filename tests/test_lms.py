"""LMS round trip: export layouts become stable student ids, and the gradebook imports back.

Recognition runs on real folders laid out as each LMS exports them (no grading needed);
the round trip runs `grade batch` as an instructor does, on a Canvas and a Moodle export.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grade
from grader.batch.inputs import discover
from grader.batch.lms import recognise

SAMPLE = ROOT / "assignments" / "dense_layer" / "sample_submission.ipynb"
REFERENCE = SUBMISSIONS / "reference.ipynb"


def _place(root: Path, relative: str, source: Path = REFERENCE, age: float = 0.0) -> Path:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    if age:
        stamp = target.stat().st_mtime - age
        os.utime(target, (stamp, stamp))
    return target


def _ids(folder: Path, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    entries, notes = discover(str(folder), tmp_path / "extract")
    kept, identities = recognise(entries, notes)
    assert set(identities) == {e.student for e in kept}
    return {e.student: e.path.name for e in kept}, notes


def test_canvas_resubmission_keeps_the_latest_and_says_which_was_superseded(tmp_path: Path) -> None:
    folder = tmp_path / "canvas"
    _place(folder, "smithjohn_12345_678901_dense_layer.ipynb")
    _place(folder, "smithjohn_late_12345_678902_dense_layer-1.ipynb", age=3600)  # older mtime: the upload id decides
    _place(folder, "doejane_23456_678950_dense_layer.ipynb")
    ids, notes = _ids(folder, tmp_path)
    assert ids == {"smithjohn_12345": "smithjohn_late_12345_678902_dense_layer-1.ipynb", "doejane_23456": "doejane_23456_678950_dense_layer.ipynb"}
    assert any("superseded: smithjohn_12345_678901_dense_layer.ipynb" in n for n in notes), notes


def test_moodle_blackboard_github_and_gradescope_layouts(tmp_path: Path) -> None:
    moodle = tmp_path / "moodle"
    _place(moodle, "Mary Major_34567_assignsubmission_file_/dense_layer.ipynb")
    _place(moodle, "Richard Roe_34568_assignsubmission_file_/work/solution.ipynb")
    assert _ids(moodle, tmp_path)[0] == {"Mary Major_34567": "dense_layer.ipynb", "Richard Roe_34568": "solution.ipynb"}  # ids as Moodle wrote them

    blackboard = tmp_path / "blackboard"
    _place(blackboard, "Dense Layer_jdoe_attempt_2026-11-20-10-00-00_dense_layer.ipynb")
    _place(blackboard, "Dense Layer_jdoe_attempt_2026-11-21-09-30-00_dense_layer.ipynb", age=7200)
    _place(blackboard, "Dense Layer_asmith_attempt_2026-11-20-11-00-00_mine.ipynb")
    ids, notes = _ids(blackboard, tmp_path)
    assert ids == {"jdoe": "Dense Layer_jdoe_attempt_2026-11-21-09-30-00_dense_layer.ipynb", "asmith": "Dense Layer_asmith_attempt_2026-11-20-11-00-00_mine.ipynb"}
    assert any("jdoe: graded the latest upload" in n for n in notes)

    github = tmp_path / "github"
    for user in ("alice", "bob-smith"):
        _place(github, f"dense-layer-{user}/dense_layer.ipynb")
    assert set(_ids(github, tmp_path)[0]) == {"alice", "bob-smith"}

    gradescope = tmp_path / "gradescope"
    _place(gradescope, "submission_111/dense_layer.ipynb")
    _place(gradescope, "submission_222/dense_layer.ipynb")
    (gradescope / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Jane Doe\n    :sid: '90001'\n    :email: jane@uni.edu\n  :created_at: 2026-11-20 10:00:00 -0800\n"
        "submission_222:\n  :submitters:\n  - :name: Max Mustermann\n    :sid: ''\n    :email: max@uni.edu\n  :created_at: 2026-11-20 11:00:00 -0800\n"
    )
    assert set(_ids(gradescope, tmp_path)[0]) == {"90001", "max@uni.edu"}


def test_plain_names_stay_as_they_are(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    _place(folder, "alice.ipynb")
    _place(folder, "bob_2.ipynb")
    ids, notes = _ids(folder, tmp_path)
    assert ids == {"alice": "alice.ipynb", "bob_2": "bob_2.ipynb"} and not any("recognised" in n for n in notes)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_canvas_round_trip_gradebook_imports_with_the_same_ids_and_rounding(tmp_path: Path) -> None:
    folder, out = tmp_path / "canvas", tmp_path / "results"
    _place(folder, "smithjohn_12345_678901_dense_layer.ipynb", source=SUBMISSIONS / "forward_missing_bias.ipynb")
    _place(folder, "smithjohn_late_12345_678902_dense_layer-1.ipynb", source=SAMPLE)
    result = run_grade("batch", str(folder), "--out", str(out), "--lms", "canvas", "--no-html", "--jobs", "1", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "superseded: smithjohn_12345_678901_dense_layer.ipynb" in result.stdout
    canvas = _rows(out / "gradebook-canvas.csv")
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and canvas[1][0] == "Points Possible"
    assert canvas[2][:2] == ["smithjohn", "12345"] and canvas[2][-1] == "17.76"
    generic = {row["id"]: row for row in csv.DictReader(open(out / "gradebook.csv", newline=""))}
    assert set(generic) == {"smithjohn_12345"} and (out / "smithjohn_12345.json").is_file()
    record = json.loads((out / "smithjohn_12345.json").read_text())
    assert record["score"] == 17.76 and generic["smithjohn_12345"]["total"] == "17.76"
    checks = [t["name"] for t in record["tests"]]
    assert sum(float(generic["smithjohn_12345"][c]) for c in checks) == pytest.approx(17.76, abs=1e-9), "the total is the sum of the shown check scores"
    single = run_grade(str(folder / "smithjohn_late_12345_678902_dense_layer-1.ipynb"))
    assert f"17.76 / {record['max_score']:g} points" in single.stdout


def test_moodle_worksheet_uses_participant_identifiers(tmp_path: Path) -> None:
    folder, out = tmp_path / "moodle", tmp_path / "results"
    _place(folder, "Mary Major_34567_assignsubmission_file_/dense_layer.ipynb", source=SUBMISSIONS / "grad_bias_mean.ipynb")
    _place(folder, "Richard Roe_34568_assignsubmission_file_/notes.txt")  # nothing gradeable: still listed
    result = run_grade("batch", str(folder), "--out", str(out), "--lms", "moodle", "--no-html", "--jobs", "1", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(out / "gradebook-moodle.csv")
    assert rows[0][:4] == ["Identifier", "Full name", "Grade", "Maximum Grade"]
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {"Participant 34567", "Participant 34568"}
    assert by_id["Participant 34567"][1] == "Mary Major" and "grad-bias-mean" in by_id["Participant 34567"][4]
    assert by_id["Participant 34568"][2] == "" and "Could not be graded" in by_id["Participant 34568"][4]
    assert (out / "Mary_Major_34567.json").is_file()
