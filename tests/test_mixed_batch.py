"""The acceptance test of issue 9: a class of 30 honest students and every attack, graded in one
`grade batch`: every honest student gets exactly their solo grade and their own work, the
gradebook is complete, and nothing is left on disk or in the process table.

One real `grade batch --jobs 2` (a subprocess, as instructors run it) over a class folder
holding 30 honest submissions (correct ones and ones with real mistakes, from
tests/submissions/, each under a hostile but legal student name: the batch's own output
names, unicode, spaces, names that collide once made file-safe, two long names sharing
their first 150 characters, names that look like another student's LMS upload) and every
attack (globbed, so new attacks join automatically: tests/attacks/ each on top of _honest.py
as in test_sandbox_attacks.py, tests/timing_submissions/ as test_timing.py grades them).
Each honest student's result must hold their own file (path and sha256) and its score,
diagnoses and per-check scores, the timing check included, must equal their solo `grade`.
Timing is compared as the scored points: the vectorised honest layers are far inside the
curve's full-points band, so load from the attacks could change the measured ratio but must
never change the points; the raw ratios are not compared. Afterwards the class folder is as
handed in, RESULTS/ holds only the batch's outputs, the batch's TMPDIR only its timing lock,
and no process of the batch is alive. The sandbox timeouts are shortened in a copied
assignment to keep the runtime modest (about 80 s on 2 cores).
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from conftest import copy_assignment, grade_command

ROOT = Path(__file__).resolve().parent.parent
ATTACKS = ROOT / "tests" / "attacks"
TIMING_ATTACKS = ROOT / "tests" / "timing_submissions"
AS_NOTEBOOKS = {"fill_the_disk_from_each_layer"}
"""Sandbox attacks also handed in as a notebook (a cell of _honest.py, a cell of the attack), the form students use."""
SUBMISSIONS = ROOT / "tests" / "submissions"
LONG = "Maximiliana-" * 13  # 156 characters: two ids sharing their first 150 characters
HONEST: dict[str, str] = {
    # the batch's own outputs (RESULTS/class.html, gradebook.csv, gradebook-<lms>.csv, .batch.lock)
    "class": "correct_einsum.ipynb",
    "gradebook": "correct_messy.ipynb",
    "gradebook.csv": "forward_missing_bias.ipynb",
    "class.html": "classic_update_before_grad.ipynb",
    "gradebook-canvas": "combined_missing_bias_update_sign.ipynb",
    "batch.lock": "correct_colab.ipynb",
    "index": "correct_float32.ipynb",
    "results": "correct_inplace_update.ipynb",
    # names a grader could mistake for code or options
    "numpy": "correct_python_file.py",
    "grader": "correct_jupyterlab_nbformat45.ipynb",
    "--force": "correct_subclass_extensions.ipynb",
    # unicode, spaces, and names that are equal once made file-safe
    "student": "correct_vscode.ipynb",
    "张伟": "reference.ipynb",
    "李娜": "batch_coupling.ipynb",
    "Zoë Ångström": "exception.ipynb",
    "Mary Ann O'Neil": "forward_wrong.ipynb",
    "Mary_Ann_O_Neil": "grad_bias_mean.ipynb",
    "=1+2 🎓": "grad_input_transposed.ipynb",
    f"{LONG}alice": "grad_weights_mean.ipynb",
    f"{LONG}bob": "init_scale.ipynb",
    # names that look like another student's LMS upload (Blackboard, Canvas, Moodle)
    "alice": "interface_changed.ipynb",
    "Dense_alice_attempt_2024-01-01-10-00-00_dense_layer": "mutates_input.ipynb",
    "bob_7": "nan_or_inf.ipynb",
    "bob_7_8_dense_layer": "network_forward_wrong.ipynb",
    "Carol_King_42": "no_update.ipynb",
    "Carol King_42_assignsubmission_file_/dense_layer": "relu_wrong.ipynb",
    "dense-layer-dave/dense_layer": "stateful_forward.ipynb",
    "a_attack_fork_bomb": "syntax_error.ipynb",
    "grader-timing-0": "train_wrong.ipynb",
    "'; DROP TABLE students;--": "weights_shape.ipynb",
}
"""Student name (a file stem, or folder/stem for one folder per student) -> the submission handed in."""
TIMED = {"correct_einsum.ipynb", "correct_messy.ipynb", "forward_missing_bias.ipynb", "classic_update_before_grad.ipynb",
         "combined_missing_bias_update_sign.ipynb", "correct_python_file.py", "reference.ipynb"}
"""Vectorised submissions whose timing points are non-zero alone: the timing comparison means something for them."""
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the attacks' containment is Linux-only")


def _assignment(tmp_path: Path) -> Path:
    """The real assignment with short sandbox timeouts (attacks that hang cost seconds, not minutes)."""
    folder = tmp_path / "assignment"
    copy_assignment(folder)
    toml = folder / "assignment.toml"
    text = re.sub(r"\[sandbox\][^\[]*", "[sandbox]\nstatement_timeout = 1.0\nrequest_timeout = 2.0\nstartup_timeout = 10.0\n\n", toml.read_text(), count=1)
    toml.write_text(text)
    return folder


def _attacks() -> list[Path]:
    """Every attack: the sandbox's (on top of _honest.py) and the timing benchmark's (each alone, or on top of _loop.py when it extends its Dense)."""
    return sorted(p for folder in (ATTACKS, TIMING_ATTACKS) for p in folder.glob("*.py") if not p.name.startswith("_"))


def _attack_source(attack: Path, token: str) -> str:
    if attack.parent == ATTACKS:
        source = (ATTACKS / "_honest.py").read_text() + "\n\n" + attack.read_text()
    else:
        base = TIMING_ATTACKS / "_loop.py"
        source = attack.read_text()
        source = base.read_text() + "\n\n" + source if "class Dense(Dense)" in source and base.exists() else source
    return source.replace("__TOKEN__", token).replace("__PORT__", "9").replace("__ROOT__", str(ROOT))


def _class_folder(tmp_path: Path, token: str) -> tuple[Path, dict[Path, str]]:
    """The class: every attack (named to be graded first) and the honest students; returns honest path -> source."""
    folder = tmp_path / "class"
    folder.mkdir()
    for attack in _attacks():
        kind = "attack" if attack.parent == ATTACKS else "timing"
        (folder / f"a_{kind}_{attack.stem}.py").write_text(_attack_source(attack, token))
    for name in sorted(AS_NOTEBOOKS):
        cells = [(ATTACKS / "_honest.py").read_text(), (ATTACKS / f"{name}.py").read_text().replace("__TOKEN__", token)]
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells]), folder / f"a_notebook_{name}.ipynb")
    honest = {}
    for name, submission in HONEST.items():
        path = folder / f"{name}{Path(submission).suffix}"
        path.parent.mkdir(exist_ok=True)
        shutil.copy(SUBMISSIONS / submission, path)
        honest[path] = submission
    return folder, honest


def _summary(report: dict) -> dict:
    return {"score": report["score"], "diagnoses": sorted(report["diagnoses"]),
            "checks": {t["name"]: (t["score"], sorted(t.get("diagnoses", []))) for t in report["tests"]}}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _env(temp: Path, marker: str, lock: Path | None = None) -> dict[str, str]:
    """The grader's environment: its own TMPDIR (to see what it leaves) and a marker its processes inherit."""
    env = {k: v for k, v in os.environ.items() if k != "GRADER_LOCK_FILE"}
    env.update(PYTHONUNBUFFERED="1", TMPDIR=str(temp), MIXED_BATCH_MARKER=marker)
    if lock is not None:
        env["GRADER_LOCK_FILE"] = str(lock)
    return env


def _grader_processes() -> dict[tuple[str, str], tuple[str, bytes, bytes]]:
    """Live processes named grade-*: (pid, start time) -> (name, cmdline, environ)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            name = (proc / "comm").read_text().strip()
            if not name.startswith("grade-"):
                continue
            started = (proc / "stat").read_text().rsplit(")", 1)[1].split()[19]
            found[(proc.name, started)] = (name, (proc / "cmdline").read_bytes(), (proc / "environ").read_bytes())
        except (OSError, IndexError):
            continue
    return found


def _ours(marker: str, temp: Path, before: set[tuple[str, str]]) -> list[str]:
    """Live grade-* processes (batch jobs, fork servers, sandbox workers) started by this test:
    not alive before it (earlier tests' in-process gradings keep their own fork servers and
    reference twins for the life of the pytest process), and carrying its marker, its TMPDIR or
    the checkout's path."""
    found = []
    for key, (name, cmdline, environ) in _grader_processes().items():
        if key in before:
            continue
        if marker.encode() in environ or str(temp).encode() in environ or str(ROOT).encode() in cmdline:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:120]
            found.append(f"{key[0]} {name} {shown}")
    return found


def _gradebook(out: Path) -> list[dict[str, str]]:
    """gradebook.csv's rows, a spreadsheet-quoted id read back as the name it stands for."""
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["id"][:2] in {"'=", "'+", "'-", "'@"}:
            row["id"] = row["id"][1:]
    return rows


def _records(out: Path) -> dict[str, tuple[Path, dict]]:
    """Each per-student JSON of RESULTS/ by the submission it graded (two claiming one file: an error)."""
    found: dict[str, tuple[Path, dict]] = {}
    for path in sorted(out.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["submission"] not in found, f"{path.name} and {found[record['submission']][0].name} both hold {record['submission']}"
        found[record["submission"]] = (path, record)
    return found


def _solo(path: Path, assignment: Path, env: dict[str, str]) -> dict:
    solo = subprocess.run([*grade_command(), str(path), "--format", "json", "--assignment", str(assignment)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert solo.returncode in (0, 1), solo.stderr[-2000:]
    return json.loads(solo.stdout)


def _strays(token: str) -> list[str]:
    """Files the attacks name with this class's token, in the shared places a worker could reach."""
    places = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path.home(), ROOT, ROOT / "results"]
    return sorted(str(p) for place in places if place.is_dir() for p in place.iterdir() if token in p.name)


def test_honest_students_get_their_solo_grade_and_own_work_in_a_hostile_batch(tmp_path: Path) -> None:
    token, marker = uuid.uuid4().hex[:12], f"mixed-batch-{uuid.uuid4().hex}"
    before = set(_grader_processes())
    assignment = _assignment(tmp_path)
    folder, honest = _class_folder(tmp_path, token)
    submitted = {p: _sha256(p) for p in folder.rglob("*") if p.is_file()}
    temp, solo_temp, out = tmp_path / "tmp", tmp_path / "solo-tmp", tmp_path / "results"
    temp.mkdir()
    solo_temp.mkdir()
    started = time.perf_counter()
    batch = subprocess.run([*grade_command(), "batch", str(folder), "--out", str(out), "--jobs", "2", "--lms", "canvas",
                            "--assignment", str(assignment), "--timeout", "120"],
                           capture_output=True, text=True, timeout=600, env=_env(temp, marker), cwd=ROOT)
    batch_seconds = time.perf_counter() - started
    assert batch.returncode in (0, 1), batch.stderr[-3000:]
    lock = temp / f"grader-timing-{os.getuid()}.lock"
    leftovers = sorted(p.name for p in temp.iterdir())
    # Solo grades, two at a time, share the batch's timing lock (a measurement never overlaps another).
    with ThreadPoolExecutor(max_workers=2) as pool:
        alone = dict(zip(honest, pool.map(lambda p: _solo(p, assignment, _env(solo_temp, marker, lock)), honest)))
    print(f"batch {batch_seconds:.1f} s, solo grades {time.perf_counter() - started - batch_seconds:.1f} s")

    problems = []
    # The gradebook is complete: one row per submission; one result of its own per submission.
    rows, records = _gradebook(out), _records(out)
    submissions = len(_attacks()) + len(AS_NOTEBOOKS) + len(HONEST)
    with open(out / "gradebook-canvas.csv", newline="", encoding="utf-8") as handle:
        canvas = list(csv.reader(handle))[2:]  # after the header and the "Points Possible" row
    if not len(rows) == len(records) == len(canvas) == submissions:
        problems.append(f"{len(rows)} gradebook rows, {len(canvas)} Canvas rows and {len(records)} results for {submissions} submissions: {sorted(r['id'] for r in rows)}")

    # No grader failure: no result recorded as a grader error, no traceback of the grader's own
    # (a student's reads "Traceback (student code, ...") in the batch's output, a result or a page.
    grader_errors = sorted(p.name for p, record in records.values() if record.get("error_kind") == "grader")
    if grader_errors:
        problems.append(f"grader errors: {grader_errors}")
    texts = {"the batch's output": batch.stdout + batch.stderr} | {p.name: p.read_text(encoding="utf-8") for p in out.iterdir() if p.suffix in (".json", ".html")}
    if any("Traceback (most recent call last)" in text for text in texts.values()):
        problems.append(f"a grader traceback in {sorted(name for name, text in texts.items() if 'Traceback (most recent call last)' in text)}")

    # Every honest student: their own file (path and content hash), graded as alone, an ok row, their own page.
    for path, source in honest.items():
        if str(path) not in records:
            problems.append(f"{path.relative_to(folder)} ({source}): no result of its own")
            continue
        result, record = records[str(path)]
        who = f"{path.relative_to(folder)} ({source}, {result.name})"
        if not record["sha256"] == submitted[path] == alone[path]["sha256"]:
            problems.append(f"{who}: graded another file")
        if _summary(record) != _summary(alone[path]):
            problems.append(f"{who}: in the batch {_summary(record)}\n    alone {_summary(alone[path])}")
        ids = {record.get("student"), result.stem}
        if not any(row["id"] in ids and row["status"] == "ok" and float(row["total"]) == record["score"] for row in rows):
            problems.append(f"{who}: no ok gradebook row with its score under {sorted(i for i in ids if i)}")
        page = result.with_suffix(".html")
        if not page.is_file() or html.escape(path.name) not in page.read_text(encoding="utf-8"):
            problems.append(f"{who}: {page.name} is not its feedback")
        if source in TIMED:
            assert {t["name"]: t["score"] for t in alone[path]["tests"]}["dense-timing"] > 0, f"{source}: no timing points even alone"

    # Nothing left: the class folder as handed in, RESULTS/ holding only the batch's outputs, the
    # grader's TMPDIR holding only the timing lock, no attack's file anywhere, no process of ours.
    if {p: _sha256(p) for p in folder.rglob("*") if p.is_file()} != submitted:
        problems.append("the class folder changed")
    outputs = {p.with_suffix(s).name for p, _ in records.values() for s in (".json", ".html")} | {"gradebook.csv", "gradebook-canvas.csv", "class.html", ".batch.lock"}
    if sorted(p.name for p in out.iterdir() if p.name not in outputs):
        problems.append(f"in RESULTS/ besides the batch's outputs: {sorted(p.name for p in out.iterdir() if p.name not in outputs)}")
    if [name for name in leftovers if not name.startswith(lock.name)]:
        problems.append(f"left in the batch's TMPDIR besides its timing lock: {leftovers}")
    if list(solo_temp.iterdir()):
        problems.append(f"left in the solo grades' TMPDIR: {sorted(p.name for p in solo_temp.iterdir())}")
    if _strays(token):
        problems.append(f"attack files outside the sandbox: {_strays(token)}")
    deadline = time.monotonic() + 10.0  # orphans notice their parent's death within a second
    while _ours(marker, tmp_path, before) and time.monotonic() < deadline:
        time.sleep(0.5)
    if _ours(marker, tmp_path, before):
        problems.append(f"processes of the batch outlived it: {_ours(marker, tmp_path, before)}")
    assert problems == [], "\n".join(problems)


def test_a_batch_leaves_nothing_in_its_temporary_folder(tmp_path: Path) -> None:
    """The smallest batch (one correct student, one job): its TMPDIR ends holding only the timing lock."""
    marker = f"mixed-batch-{uuid.uuid4().hex}"
    folder, temp = tmp_path / "class", tmp_path / "tmp"
    folder.mkdir()
    temp.mkdir()
    shutil.copy(SUBMISSIONS / "correct_einsum.ipynb", folder / "alice.ipynb")
    batch = subprocess.run([*grade_command(), "batch", str(folder), "--out", str(tmp_path / "results"), "--jobs", "1", "--no-html"],
                           capture_output=True, text=True, timeout=300, env=_env(temp, marker), cwd=ROOT)
    assert batch.returncode == 0, batch.stderr[-3000:]
    lock = f"grader-timing-{os.getuid()}.lock"
    assert (temp / lock).exists(), "the default timing lock is not in TMPDIR"
    assert sorted(p.name for p in temp.iterdir() if not p.name.startswith(lock)) == []
